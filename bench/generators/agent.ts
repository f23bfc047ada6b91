// "agent": coding-agent sessions shaped like Claude Code's (Anthropic messages). A long system
// prompt and six tool definitions on every request; each turn answers the model's tool calls
// with tool results, so the history grows by a file or a log at a time; now and then the
// conversation is compacted into a summary that replaces it. The first system block is a billing
// header whose cch changes on every request, right at the start of the prompt: a prefix cache
// that does not see past it reuses nothing.
import type { Trace, TraceSession, TraceStep } from '../trace.js';
import { TOOLS, toolCall } from './agent-tools.js';
import { BENCH_MODEL, type Range, requireCount, requireOneOf, resolveParams } from './params.js';
import { Rng, approxTokens, truncateTokens } from './random.js';

/** The agent scenario's knobs. */
export interface AgentParams {
  /** Agent sessions running at once. */
  sessions: number;
  /** Fewest turns (requests of kind turn) of a session; each session draws its count in [minTurns, maxTurns]. */
  minTurns: number;
  /** Most turns of a session. */
  maxTurns: number;
  /** The whole system prompt (billing header, identity line, instructions, environment). */
  systemTokens: number;
  /** The first user message: project notes in a system-reminder, then the task. */
  taskTokens: number;
  /** Largest tool result; sizes are seeded, mostly small (at least 100). */
  toolOutputTokens: number;
  /** Probability that a turn carries two tool calls instead of one. */
  parallelToolChance: number;
  /** A summary replaces the history before every summarizeEvery-th turn; 0 never. */
  summarizeEvery: number;
  /** Size of that summary. */
  summaryTokens: number;
  /** max_tokens of every request. */
  answerTokens: number;
  /** Think time between requests of a session, ms (tools run fast). */
  thinkMs: Range;
  /** When each session's first request goes out, ms after the replay starts. */
  startMs: Range;
  /** The client version in the billing header, fixed per trace. */
  ccVersion: string;
  /** When the 3-hex suffix of cc_version changes: every request, or per conversation (a session's start and each summary). */
  versionSuffix: 'request' | 'conversation';
}

/** Defaults: three sessions of ten turns with a 2500-token system prompt. */
export const AGENT_DEFAULTS: AgentParams = {
  sessions: 3,
  minTurns: 10,
  maxTurns: 10,
  systemTokens: 2500,
  taskTokens: 300,
  toolOutputTokens: 2500,
  parallelToolChance: 0.3,
  summarizeEvery: 8,
  summaryTokens: 400,
  answerTokens: 32,
  thinkMs: [200, 1500],
  startMs: [0, 2000],
  ccVersion: '2.1.63',
  versionSuffix: 'request',
};

/** Budget of the per-session environment block that ends the system prompt. */
const ENV_TOKENS = 60;

/** The identity line Claude Code's second system block starts with. */
const IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude.";

/** The billing header line of a request. */
export function billingHeader(version: string, suffix: string, cch: string): string {
  return `x-anthropic-billing-header: cc_version=${version}.${suffix}; cc_entrypoint=cli; cch=${cch};`;
}

/** Generates an agent trace: `sessions` Claude-Code-shaped sessions of tool calls and results. */
export function generate(params: Partial<AgentParams>, seed: number): Trace {
  const p = resolveParams('agent', AGENT_DEFAULTS, params);
  for (const key of ['sessions', 'minTurns', 'systemTokens', 'taskTokens'] as const) requireCount('agent', p, key);
  requireCount('agent', p, 'toolOutputTokens', 100);
  requireCount('agent', p, 'maxTurns', p.minTurns);
  requireCount('agent', p, 'summarizeEvery', 0);
  requireOneOf('agent', p, 'versionSuffix', ['request', 'conversation']);
  if (!/^\d+\.\d+\.\d+$/.test(p.ccVersion)) throw new Error(`agent.ccVersion: expected x.y.z, got ${JSON.stringify(p.ccVersion)}`);
  const root = new Rng(seed, 'agent');
  // Instructions are the same for every session (one client version); only the environment differs.
  const rest = approxTokens(billingHeader(p.ccVersion, 'fff', 'fffff')) + approxTokens(IDENTITY) + ENV_TOKENS;
  const instructions = instructionText(root.child('system'), p.systemTokens - rest);
  // cch is a hash of the whole body, so no two requests share one; a later session redraws on a
  // collision, which keeps earlier sessions unchanged when sessions are added.
  const used = new Set<string>();
  const sessions = Array.from({ length: p.sessions }, (_, i) => {
    const rng = root.child(`session/${i}`);
    // Sessions come in pairs of opposite lengths (u and 1-u of one draw): an even number of
    // sessions always does the same number of turns, where independent draws would make one
    // seed's sessions all short and another's all long (a 3x spread in work between seeds).
    const u = root.child(`turns/${Math.floor(i / 2)}`).next();
    const spread = i % 2 === 0 ? u : 1 - u;
    const turns = Math.min(p.maxTurns, p.minTurns + Math.floor(spread * (p.maxTurns - p.minTurns + 1)));
    const cchRng = rng.child('cch');
    const cch = (): string => {
      let value = cchRng.hex(5);
      while (used.has(value)) value = cchRng.hex(5);
      used.add(value);
      return value;
    };
    return session(p, rng, i, turns, instructions, cch);
  });
  return { header: { scenario: 'agent', seed, params: { ...p } }, sessions };
}

function session(p: AgentParams, rng: Rng, index: number, turns: number, instructions: string, cch: () => string): TraceSession {
  const project = `/home/dev/${rng.ident().toLowerCase()}-${index}`;
  const env = truncateTokens(`<env>\nWorking directory: ${project}\nIs directory a git repo: yes\nPlatform: linux\nToday's date: 2026-0${rng.int(1, 9)}-${rng.int(10, 28)}\n</env>`, ENV_TOKENS);
  const versionRng = rng.child('version');
  let suffix = versionRng.hex(3);
  const params = (newConversation: boolean): Record<string, unknown> => {
    if (p.versionSuffix === 'request' || newConversation) {
      // A new suffix must differ from the one before, or "changes on every request" would not hold.
      const previous = suffix;
      while (suffix === previous) suffix = versionRng.hex(3);
    }
    const system = [
      { type: 'text', text: billingHeader(p.ccVersion, suffix, cch()) },
      { type: 'text', text: IDENTITY },
      { type: 'text', text: `${instructions}\n\n${env}` },
    ];
    return { model: BENCH_MODEL, max_tokens: p.answerTokens, temperature: 0, system, tools: TOOLS };
  };
  // The first message, as Claude Code sends it: project notes in a system-reminder, then the task.
  const reminder = (notes: string): string => `<system-reminder>\nProject notes from CLAUDE.md:\n${notes}\n</system-reminder>`;
  const notesTokens = Math.round(p.taskTokens * 0.6);
  const steps: TraceStep[] = [{
    kind: 'turn',
    dialect: 'anthropic',
    thinkMs: rng.between(p.startMs),
    messages: [{ role: 'user', content: [
      { type: 'text', text: reminder(rng.prose(Math.max(1, notesTokens - approxTokens(reminder(''))))) },
      { type: 'text', text: rng.prose(Math.max(1, p.taskTokens - notesTokens)) },
    ] }],
    params: params(false),
  }];
  const summary = (text: string): string => `Summary of the conversation so far: ${text}\n\nContinue with the task from where it stopped.`;
  for (let turn = 1; turn < turns; turn++) {
    if (p.summarizeEvery > 0 && turn % p.summarizeEvery === 0) {
      const text = summary(rng.prose(Math.max(1, p.summaryTokens - approxTokens(summary('')))));
      steps.push({ kind: 'rewrite', dialect: 'anthropic', thinkMs: rng.between(p.thinkMs), messages: [{ role: 'user', content: [{ type: 'text', text }] }], params: params(true) });
    }
    const calls = Array.from({ length: rng.chance(p.parallelToolChance) ? 2 : 1 }, () => toolCall(rng, project, p.toolOutputTokens));
    steps.push({
      kind: 'turn',
      dialect: 'anthropic',
      thinkMs: rng.between(p.thinkMs),
      assistantAppend: calls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.input })),
      messages: [{ role: 'user', content: calls.map((c) => ({ type: 'tool_result', tool_use_id: c.id, content: c.output })) }],
      params: params(false),
    });
  }
  return { id: `agent-${index}`, steps };
}

// Instructions in the shape agents' system prompts have: headed sections of bullet points.
function instructionText(rng: Rng, tokens: number): string {
  const headings = ['Tone and style', 'Doing tasks', 'Tool usage policy', 'Code references', 'Following conventions', 'Task management', 'Git and commits', 'Testing'];
  const parts: string[] = [];
  let used = 0;
  for (let i = 0; used < tokens; i++) {
    const bullets = Array.from({ length: rng.int(3, 6) }, () => `- ${rng.sentence()}${rng.chance(0.5) ? ` ${rng.sentence()}` : ''}`);
    const section = `# ${headings[i % headings.length]}\n${bullets.join('\n')}`;
    parts.push(section);
    used += approxTokens(section) + 2;
  }
  return truncateTokens(parts.join('\n\n'), Math.max(1, tokens));
}
