// The scenarios the benchmark knows, with their presets. `quick` replays in about 2-3 minutes on
// the 2-core rig (at most ~100k prompt tokens sent, at ~700 prefill tokens/s with no cache
// at all); `full` is what notes quote (400-800k tokens, 10-20 minutes without a cache). The
// figures come from sentTokens; test/bench/generators/index.test.ts holds the presets to them.
import type { Trace } from '../trace.js';
import * as agent from './agent.js';
import * as rerun from './rerun.js';
import * as sharedPrefix from './shared-prefix.js';
import * as team from './team.js';

export { estimateReplay, sentTokens, sessionPromptTokens, type ReplayEstimate } from './estimate.js';

/** A scenario: its generator, its presets and a line for reports. */
export interface Scenario<P extends object = object> {
  /** Builds the trace for `params` (missing keys take the scenario's defaults) and `seed`. */
  generate(params: Partial<P>, seed: number): Trace;
  /** Overrides for a quick run (CI, a first look). */
  quick: Partial<P>;
  /** Overrides for a full run (the figures notes quote). */
  full: Partial<P>;
  description: string;
}

const teamScenario: Scenario<team.TeamParams> = {
  generate: team.generate,
  quick: { users: 5, turns: 4, contextTokens: 2500 },
  full: { users: 10, turns: 10, contextTokens: 3500 },
  description: 'more chat users than slots, each with a private document or file; think times between turns; title and summary side requests',
};

const agentScenario: Scenario<agent.AgentParams> = {
  generate: agent.generate,
  quick: { sessions: 3, minTurns: 6, maxTurns: 6, systemTokens: 1500, toolOutputTokens: 1200, summarizeEvery: 4 },
  full: { sessions: 4, minTurns: 5, maxTurns: 50, toolOutputTokens: 1500, summarizeEvery: 6 },
  description: 'Claude-Code-shaped coding agents: long system prompt with a per-request billing header, tools, tool results, summaries that replace the history',
};

const sharedPrefixScenario: Scenario<sharedPrefix.SharedPrefixParams> = {
  generate: sharedPrefix.generate,
  quick: { users: 6, sharedTokens: 3000, turns: 3 },
  full: { users: 16, sharedTokens: 4000, turns: 6 },
  description: "users of one assistant whose long system prompt holds a customer's documents; short private histories",
};

const rerunScenario: Scenario<rerun.RerunParams> = {
  generate: rerun.generate,
  quick: { tasks: 16, promptTokens: 2000 },
  full: { tasks: 72, promptTokens: 3200 },
  description: 'a temperature-0 evaluation suite of independent single-turn tasks, replayed twice',
};

/** Every scenario by name. */
export const scenarios = {
  team: teamScenario,
  agent: agentScenario,
  'shared-prefix': sharedPrefixScenario,
  rerun: rerunScenario,
} as const;

/** A scenario's name. */
export type ScenarioName = keyof typeof scenarios;

/** How generateScenario picks the parameters. */
export interface GenerateOptions {
  /** The quick preset instead of the full one. */
  quick?: boolean;
  seed?: number;
  /** Parameters on top of the preset (from the command line, say); unknown keys throw. */
  overrides?: Record<string, unknown>;
}

/** The seed used when none is given, so two runs without one replay the same trace. */
export const DEFAULT_SEED = 1;

/** Generates scenario `name` with its quick or full preset, then `overrides`; throws on an unknown name. */
export function generateScenario(name: string, options: GenerateOptions = {}): Trace {
  if (!Object.hasOwn(scenarios, name)) throw new Error(`unknown scenario "${name}" (known: ${Object.keys(scenarios).join(', ')})`);
  const scenario = scenarios[name as ScenarioName] as Scenario<Record<string, unknown>>;
  const preset = options.quick ? scenario.quick : scenario.full;
  return scenario.generate({ ...preset, ...options.overrides }, options.seed ?? DEFAULT_SEED);
}
