// What a replay would send, with stub answers: lets the generator tests check conversations as
// the server sees them rather than step by step. Uses the replayer's own Conversation.
import { Conversation } from '../../../bench/replay.js';
import type { Message, TraceSession } from '../../../bench/trace.js';

/** The messages each step of `session` would send, the model's answers stubbed as "answer <step>". */
export function requestsOf(session: TraceSession): Message[][] {
  const conversation = new Conversation();
  return session.steps.map((step, i) => {
    const { messages } = conversation.bodyFor(step) as { messages: Message[] };
    const text = `answer ${i}`;
    conversation.answered(step, step.dialect === 'anthropic'
      ? { role: 'assistant', content: [{ type: 'text', text }] }
      : { role: 'assistant', content: text });
    return messages;
  });
}

/** The text of a message's content, blocks joined. */
export function textOf(message: Message | undefined): string {
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((b) => {
    const block = b as { text?: unknown; content?: unknown };
    return typeof block.text === 'string' ? block.text : typeof block.content === 'string' ? block.content : '';
  }).join('');
}
