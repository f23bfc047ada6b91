// "fleet": a support desk per customer. Each customer's users share one assistant whose system
// prompt holds that customer's document; every user then asks a few short questions of their own.
// Requests are not streamed (as batch clients and many SDK callers send them), so a request shows
// nothing until it is done. Run on 2 servers × 2 slots with one thread each, the servers are
// two real parallel resources: a gateway must compute each document once and copy it to wherever
// a slot is free, rather than send every user of a customer to the one server that holds it.
import type { Message, Trace, TraceSession, TraceStep } from '../trace.js';
import { BENCH_MODEL, type Range, requireCount, resolveParams } from './params.js';
import { Rng, approxTokens } from './random.js';

/** The fleet scenario's knobs. */
export interface FleetParams {
  /** Customers, each with its own document. */
  customers: number;
  /** Users per customer, each one session. */
  usersPerCustomer: number;
  /** The customer's document in the system prompt, byte-identical for its users. */
  documentTokens: number;
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

/** Defaults: the shape of the issue that asked for it (3 customers × 3 users, ~1.3k-token documents, 3 short turns). */
export const FLEET_DEFAULTS: FleetParams = {
  customers: 3,
  usersPerCustomer: 3,
  documentTokens: 1300,
  privateTokens: 60,
  turns: 3,
  answerTokens: 24,
  thinkMs: [1000, 4000],
  startMs: [0, 2000],
};

/** Generates a fleet trace: `customers × usersPerCustomer` sessions, each under its customer's document. */
export function generate(params: Partial<FleetParams>, seed: number): Trace {
  const p = resolveParams('fleet', FLEET_DEFAULTS, params);
  for (const key of ['customers', 'usersPerCustomer', 'documentTokens', 'privateTokens', 'turns'] as const) requireCount('fleet', p, key);
  const root = new Rng(seed, 'fleet');
  const sessions: TraceSession[] = [];
  for (let c = 0; c < p.customers; c++) {
    const system = documentPrompt(root.child(`customer/${c}`), p.documentTokens);
    for (let u = 0; u < p.usersPerCustomer; u++) sessions.push(session(p, root.child(`customer/${c}/user/${u}`), `customer-${c}-user-${u}`, system));
  }
  return { header: { scenario: 'fleet', seed, params: { ...p } }, sessions };
}

function session(p: FleetParams, rng: Rng, id: string, system: string): TraceSession {
  const turnParams = { model: BENCH_MODEL, max_tokens: p.answerTokens, temperature: 0, stream: false };
  const steps: TraceStep[] = [];
  for (let turn = 0; turn < p.turns; turn++) {
    const messages: Message[] = turn === 0 ? [{ role: 'system', content: system }] : [];
    messages.push({ role: 'user', content: rng.prose(p.privateTokens) });
    steps.push({ kind: 'turn', dialect: 'openai', thinkMs: rng.between(turn === 0 ? p.startMs : p.thinkMs), messages, params: turnParams });
  }
  return { id, steps };
}

function documentPrompt(rng: Rng, tokens: number): string {
  const company = rng.ident();
  let text = `You are ${company}'s support assistant. Answer from the document below only.\n\n# ${rng.ident()} ${rng.pick(['handbook', 'contract', 'manual'])}\n\n`;
  while (approxTokens(text) < tokens - 20) text += rng.prose(Math.min(400, tokens - 20 - approxTokens(text))) + '\n\n';
  return text.trimEnd();
}
