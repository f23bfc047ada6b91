// "shared-prefix": many users of one assistant whose system prompt carries a customer's documents
// (OpenAI chat completions). Every session starts with the same long prefix and then goes its
// own way, so a cache that shares prefixes across sessions computes the documents once.
import type { Message, Trace, TraceSession, TraceStep } from '../trace.js';
import { BENCH_MODEL, type Range, requireCount, resolveParams } from './params.js';
import { Rng, approxTokens } from './random.js';

/** The shared-prefix scenario's knobs. */
export interface SharedPrefixParams {
  /** Users, each one session. */
  users: number;
  /** The common system prompt: instructions and the customer's documents, byte-identical in every session. */
  sharedTokens: number;
  /** Each user message. */
  privateTokens: number;
  /** Turns per user. */
  turns: number;
  /** max_tokens of every request. */
  answerTokens: number;
  /** Think time before each later turn, ms. */
  thinkMs: Range;
  /** When each user's first request goes out, ms after the replay starts. */
  startMs: Range;
}

/** Defaults: eight users over a 4000-token shared prompt, three turns each. */
export const SHARED_PREFIX_DEFAULTS: SharedPrefixParams = {
  users: 8,
  sharedTokens: 4000,
  privateTokens: 200,
  turns: 3,
  answerTokens: 24,
  thinkMs: [1000, 5000],
  startMs: [0, 6000],
};

/** Generates a shared-prefix trace: `users` sessions under one common system prompt. */
export function generate(params: Partial<SharedPrefixParams>, seed: number): Trace {
  const p = resolveParams('shared-prefix', SHARED_PREFIX_DEFAULTS, params);
  for (const key of ['users', 'sharedTokens', 'privateTokens', 'turns'] as const) requireCount('shared-prefix', p, key);
  const root = new Rng(seed, 'shared-prefix');
  const system = sharedPrompt(root.child('shared'), p.sharedTokens);
  const sessions = Array.from({ length: p.users }, (_, i) => session(p, root.child(`user/${i}`), i, system));
  return { header: { scenario: 'shared-prefix', seed, params: { ...p } }, sessions };
}

function session(p: SharedPrefixParams, rng: Rng, index: number, system: string): TraceSession {
  const turnParams = { model: BENCH_MODEL, max_tokens: p.answerTokens, temperature: 0 };
  const steps: TraceStep[] = [];
  for (let turn = 0; turn < p.turns; turn++) {
    const messages: Message[] = turn === 0 ? [{ role: 'system', content: system }] : [];
    messages.push({ role: 'user', content: rng.prose(p.privateTokens) });
    steps.push({ kind: 'turn', dialect: 'openai', thinkMs: rng.between(turn === 0 ? p.startMs : p.thinkMs), messages, params: turnParams });
  }
  return { id: `user-${index}`, steps };
}

// A support assistant's prompt: a few lines of instructions, then the customer's documents.
function sharedPrompt(rng: Rng, tokens: number): string {
  const company = rng.ident();
  const head = `You answer questions from ${company}'s staff using only the documents below. Quote the document you rely on.\n\n`;
  let text = head;
  for (let doc = 1; approxTokens(text) < tokens - 20; doc++) {
    text += `## Document ${doc}: ${rng.ident()} ${rng.pick(['policy', 'handbook', 'contract', 'report', 'manual'])}\n\n`;
    text += rng.prose(Math.min(600, tokens - 20 - approxTokens(text))) + '\n\n';
  }
  return text.trimEnd();
}
