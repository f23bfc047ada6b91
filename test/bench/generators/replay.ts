// What a replay would send, per bench/trace.ts's rules, with stub answers: lets the generator
// tests check conversations as the server sees them rather than step by step.
import type { Message, TraceSession } from '../../../bench/trace.js';

/** The messages each step of `session` would send, the model's answers stubbed as "answer <step>". */
export function requestsOf(session: TraceSession): Message[][] {
  let history: Message[] = [];
  let answer: Message | null = null;
  return session.steps.map((step, i) => {
    if (step.kind === 'side') return [...step.messages];
    if (step.kind === 'rewrite') history = [...step.messages];
    else {
      if (answer) {
        const append = step.assistantAppend ?? [];
        history.push(step.dialect === 'anthropic'
          ? { ...answer, content: [...(answer.content as unknown[]), ...append] }
          : answer);
      }
      history.push(...step.messages);
    }
    const text = `answer ${i}`;
    answer = step.dialect === 'anthropic' ? { role: 'assistant', content: [{ type: 'text', text }] } : { role: 'assistant', content: text };
    return [...history];
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
