// How a scenario's llama-server is scaled down from a real deployment to this 2-core machine.
// Real: a 30B model, 30-60k-token contexts, 4-8 slots, --cache-ram 8 GiB, which holds only one or
// two such contexts (~0.1-0.2 MB of KV per token). Here: the rig's `bench` model (~12 KB of KV
// per token), contexts of a few thousand tokens, and --cache-ram scaled to hold about as many
// contexts as the real 8 GiB would, so the cache pressure is the same shape.
import { estimateReplay } from './generators/index.js';
import { kvBytesPerToken, presetParams } from './rig/model.js';
import type { Trace } from './trace.js';

/** The model preset every scenario runs on. */
export const BENCH_MODEL = 'bench';

/** Slots per server by scenario and preset: always fewer than the sessions sharing them. */
const SLOTS: Record<string, { quick: number; full: number }> = {
  team: { quick: 2, full: 4 },
  agent: { quick: 2, full: 2 },
  'shared-prefix': { quick: 2, full: 4 },
  rerun: { quick: 4, full: 4 },
  fleet: { quick: 2, full: 2 },
};

/** Servers and CPU threads per server a scenario runs with unless told otherwise (one thread each: servers as parallel resources). */
const FLEETS: Record<string, { servers: number; threads: number }> = {
  fleet: { servers: 2, threads: 1 },
};

/** The servers a scenario runs on by default (1 for all but `fleet`). */
export function defaultServers(scenario: string): number {
  return FLEETS[scenario]?.servers ?? 1;
}

/** How many of a scenario's largest contexts the scaled --cache-ram holds. */
export const SCALED_CONTEXTS = 1.5;

/** llama-server's own --cache-ram default, MiB (common/common.h, cache_ram_mib). */
export const DEFAULT_CACHE_RAM_MIB = 8192;

/** The llama-server flags a scenario runs with. */
export interface ServerSetup {
  /** How many llama-servers, each with these flags. */
  servers: number;
  /** Slots per server. */
  slots: number;
  /** Context per slot (-c is slots × this): the largest prompt and its answer, with room to spare. */
  ctxPerSlot: number;
  /** --cache-ram for the scaled configuration, MiB. */
  scaledCacheRamMiB: number;
  /** The trace's largest prompt, estimated, tokens. */
  largestPromptTokens: number;
  /** --threads per server; undefined: llama-server's choice. */
  threads?: number;
}

/** Derives the server setup from the trace itself, so overrides that grow contexts grow the server too. */
export function serverSetup(trace: Trace, quick: boolean, servers = 1): ServerSetup {
  const slots = SLOTS[trace.header.scenario]?.[quick ? 'quick' : 'full'] ?? 2;
  const { maxPromptTokens } = estimateReplay(trace);
  // Estimates are within ~5 % (bench/generators/tokens.ts); 1.3x plus 512 for the answer is safe.
  const ctxPerSlot = Math.max(4096, Math.ceil((maxPromptTokens * 1.3 + 512) / 1024) * 1024);
  const kv = kvBytesPerToken(presetParams(BENCH_MODEL));
  const scaledCacheRamMiB = Math.max(16, Math.ceil((SCALED_CONTEXTS * maxPromptTokens * kv) / 2 ** 20));
  const threads = FLEETS[trace.header.scenario]?.threads;
  return { servers, slots, ctxPerSlot, scaledCacheRamMiB, largestPromptTokens: maxPromptTokens, ...(threads !== undefined ? { threads } : {}) };
}
