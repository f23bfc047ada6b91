// "team": more people than the server has slots, each chatting about a private document or piece
// of code (OpenAI chat completions). Between a user's turns the others take the slots, so
// whether that user's long context survives the wait (in a slot, in RAM, on disk) is what the
// scenario measures. A chat UI's side requests (a title, a summary) go out beside the chat and
// must not cost the conversation its cache.
import type { Message, Trace, TraceSession, TraceStep } from '../trace.js';
import { BENCH_MODEL, type Range, requireCount, resolveParams } from './params.js';
import { Rng, approxTokens, truncateTokens } from './random.js';

/** The team scenario's knobs. */
export interface TeamParams {
  /** People chatting at once; more than the server's slots. */
  users: number;
  /** Requests of kind turn per user, the first (which carries the context) included. */
  turns: number;
  /** Each user's private context: their system prompt plus the first message's document or code. */
  contextTokens: number;
  /** Size of each later user message. */
  turnTokens: number;
  /** max_tokens of a turn. */
  answerTokens: number;
  /** Think time before each later turn, ms. */
  thinkMs: Range;
  /** When each user's first request goes out, ms after the replay starts. */
  startMs: Range;
  /** Probability that a turn is followed by a side request (a title or a summary). */
  sideChance: number;
  /** max_tokens of a side request. */
  sideAnswerTokens: number;
  /** Delay of a side request after the answer it follows, ms (a UI fires it at once). */
  sideThinkMs: Range;
}

/** Defaults: six users with 3000-token contexts, four turns each. */
export const TEAM_DEFAULTS: TeamParams = {
  users: 6,
  turns: 4,
  contextTokens: 3000,
  turnTokens: 150,
  answerTokens: 24,
  thinkMs: [2000, 8000],
  startMs: [0, 4000],
  sideChance: 0.3,
  sideAnswerTokens: 12,
  sideThinkMs: [0, 300],
};

const FOLLOW_UPS = [
  'Thanks. Next question:', 'That is not quite right.', 'Can you go over this part again?', 'Good. Now the next step:',
  'One more thing.', 'Please rewrite it with this in mind:', 'I checked that, and here is what I found:',
];

/** Generates a team trace: `users` sessions of `turns` turns with occasional side requests. */
export function generate(params: Partial<TeamParams>, seed: number): Trace {
  const p = resolveParams('team', TEAM_DEFAULTS, params);
  for (const key of ['users', 'turns', 'contextTokens'] as const) requireCount('team', p, key);
  const root = new Rng(seed, 'team');
  const sessions = Array.from({ length: p.users }, (_, i) => session(p, root.child(`user/${i}`), i));
  return { header: { scenario: 'team', seed, params: { ...p } }, sessions };
}

function session(p: TeamParams, rng: Rng, index: number): TraceSession {
  const turnParams = { model: BENCH_MODEL, max_tokens: p.answerTokens, temperature: 0 };
  const sideParams = { model: BENCH_MODEL, max_tokens: p.sideAnswerTokens, temperature: 0 };
  const { system, document, question } = context(p, rng.child('context'), index);
  const steps: TraceStep[] = [];
  let lastUser = '';
  for (let turn = 0; turn < p.turns; turn++) {
    const messages: Message[] = [];
    if (turn === 0) {
      lastUser = `${question}\n\n${document}`;
      messages.push({ role: 'system', content: system }, { role: 'user', content: lastUser });
    } else {
      const lead = rng.pick(FOLLOW_UPS);
      lastUser = `${lead} ${rng.prose(Math.max(1, p.turnTokens - approxTokens(lead)))}`;
      messages.push({ role: 'user', content: lastUser });
    }
    steps.push({ kind: 'turn', dialect: 'openai', thinkMs: rng.between(turn === 0 ? p.startMs : p.thinkMs), messages, params: turnParams });
    if (rng.chance(p.sideChance)) {
      // What chat UIs send beside the chat: the conversation's opening for a title, or the last
      // message for a one-line summary, cut to 200 tokens. Neither shares a prefix with the chat.
      const content = rng.chance(0.5)
        ? `Write a 5-word title for this conversation. Reply with the title only.\n\n${truncateTokens(document, 200)}`
        : `Summarize the user's request below in one short sentence.\n\n${truncateTokens(lastUser, 200)}`;
      steps.push({ kind: 'side', dialect: 'openai', thinkMs: rng.between(p.sideThinkMs), messages: [{ role: 'user', content }], params: sideParams });
    }
  }
  return { id: `user-${index}`, steps };
}

// A user's private context: a system prompt naming them (so no two users share a prefix beyond a
// few tokens) and a document or a source file that fills the rest of contextTokens.
function context(p: TeamParams, rng: Rng, index: number): { system: string; document: string; question: string } {
  const project = `${rng.ident()}-${rng.ident()}`.toLowerCase();
  const systemBudget = Math.max(40, Math.round(p.contextTokens * 0.1));
  const opening = `You are the assistant of user ${index} (${rng.hex(6)}), who works on the ${project} project. `;
  const system = opening + rng.prose(Math.max(1, systemBudget - approxTokens(opening)));
  const isCode = rng.chance(0.5);
  const question = isCode
    ? `I am working on this file from ${project}. ${rng.prose(40)}`
    : `Here is the ${project} document I am editing. ${rng.prose(40)}`;
  const overhead = approxTokens(system) + approxTokens(question) + 8;
  const body = Math.max(1, p.contextTokens - overhead);
  const document = isCode ? `\`\`\`ts\n${rng.code(body)}\n\`\`\`` : rng.prose(body);
  return { system, document, question };
}
