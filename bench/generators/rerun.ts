// "rerun": an evaluation suite run twice with the same prompts (OpenAI chat completions),
// temperature 0. Each task is a single request; the second pass asks exactly what the first did,
// so everything it prefills could have come from a cache that outlived the slots.
import type { Trace, TraceSession } from '../trace.js';
import { BENCH_MODEL, requireCount, resolveParams } from './params.js';
import { Rng, approxTokens } from './random.js';

/** The rerun scenario's knobs. */
export interface RerunParams {
  /** Independent single-turn tasks. */
  tasks: number;
  /** Each task's prompt (a passage, a question and its options). */
  promptTokens: number;
  /** max_tokens of every request: the answer is a letter and a reason. */
  answerTokens: number;
  /** How many times the runner replays the whole suite (header.passes). */
  passes: number;
}

/** Defaults: twelve 800-token tasks, two passes. */
export const RERUN_DEFAULTS: RerunParams = { tasks: 12, promptTokens: 800, answerTokens: 8, passes: 2 };

/** The evaluation harness's instruction, the same in every task as real harnesses have it. */
const SYSTEM = 'You are taking a reading comprehension test. Read the passage, then answer with the letter of the best option and nothing else.';

/** Generates a rerun trace: `tasks` single-request sessions, header.passes = passes. */
export function generate(params: Partial<RerunParams>, seed: number): Trace {
  const p = resolveParams('rerun', RERUN_DEFAULTS, params);
  for (const key of ['tasks', 'promptTokens', 'passes'] as const) requireCount('rerun', p, key);
  const root = new Rng(seed, 'rerun');
  const sessions = Array.from({ length: p.tasks }, (_, i) => task(p, root.child(`task/${i}`), i));
  return { header: { scenario: 'rerun', seed, params: { ...p }, passes: p.passes }, sessions };
}

function task(p: RerunParams, rng: Rng, index: number): TraceSession {
  const options = ['A', 'B', 'C', 'D'].map((letter) => `${letter}. ${rng.prose(12)}`).join('\n');
  const question = `Question ${index + 1}: ${rng.prose(24)}`;
  const rest = approxTokens(SYSTEM) + approxTokens(options) + approxTokens(question) + 6;
  const passage = rng.prose(Math.max(1, p.promptTokens - rest));
  // No think time: a harness sends the next task as soon as it has a free worker.
  return {
    id: `task-${index}`,
    steps: [{
      kind: 'turn',
      dialect: 'openai',
      thinkMs: 0,
      messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: `${passage}\n\n${question}\n${options}\nAnswer:` }],
      params: { model: BENCH_MODEL, max_tokens: p.answerTokens, temperature: 0 },
    }],
  };
}
