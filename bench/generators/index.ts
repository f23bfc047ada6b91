// The scenarios the benchmark knows, with their presets, sized to what the rig's bench model
// really prefills on 2 cores: ~450-500 tokens/s on a fresh context, ~225 tokens/s deeper in (CPU
// attention grows with context). `quick` sends at most ~60k prompt tokens, so both
// configurations of a scenario finish in about 5 minutes even when nothing is reused; `full`,
// what notes quote, sends 150-250k (10-15 minutes per configuration without a cache). The
// figures come from sentTokens; test/bench/generators/index.test.ts holds the presets to them.
import type { Trace } from '../trace.js';
import * as agent from './agent.js';
import * as fleet from './fleet.js';
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
  full: { users: 8, turns: 6, contextTokens: 3000 },
  description: 'more chat users than slots, each with a private document or file; think times between turns; title and summary side requests',
};

const agentScenario: Scenario<agent.AgentParams> = {
  generate: agent.generate,
  quick: { sessions: 3, minTurns: 4, maxTurns: 4, systemTokens: 1200, toolOutputTokens: 600, summarizeEvery: 3 },
  full: { sessions: 4, minTurns: 5, maxTurns: 16, toolOutputTokens: 900, summarizeEvery: 6 },
  description: 'Claude-Code-shaped coding agents: long system prompt with a per-request billing header, tools, tool results, summaries that replace the history',
};

const sharedPrefixScenario: Scenario<sharedPrefix.SharedPrefixParams> = {
  generate: sharedPrefix.generate,
  quick: { users: 6, sharedTokens: 3000, turns: 3 },
  full: { users: 10, sharedTokens: 4000, turns: 4 },
  description: "users of one assistant whose long system prompt holds a customer's documents; short private histories",
};

const fleetScenario: Scenario<fleet.FleetParams> = {
  generate: fleet.generate,
  quick: {},
  full: { customers: 4, usersPerCustomer: 4, documentTokens: 2500, turns: 4 },
  description: "customers' users behind their customer's document, non-streamed, meant for 2 servers × 2 slots of one thread each",
};

const rerunScenario: Scenario<rerun.RerunParams> = {
  generate: rerun.generate,
  quick: { tasks: 16, promptTokens: 2000 },
  full: { tasks: 32, promptTokens: 3000 },
  description: 'a temperature-0 evaluation suite of independent single-turn tasks, replayed twice',
};

/** Every scenario by name. */
export const scenarios = {
  team: teamScenario,
  agent: agentScenario,
  'shared-prefix': sharedPrefixScenario,
  rerun: rerunScenario,
  fleet: fleetScenario,
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
