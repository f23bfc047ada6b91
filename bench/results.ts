// What a benchmark run records: one row per request, grouped by configuration.
import type { Dialect } from './trace.js';

/** One replayed request. */
export interface RequestRecord {
  session: string;
  /** Index of the step within its session. */
  step: number;
  /** Pass number (0-based) when the trace is replayed more than once. */
  pass: number;
  kind: 'turn' | 'side' | 'rewrite';
  dialect: Dialect;
  /** Which server (index into the configuration's servers) answered; -1 when the front did not say (slotkeeper with several). */
  server: number;
  /** The slot the front says it used (slotkeeper's x-slotkeeper-slot). */
  slot?: number;
  /** Why the front chose it (slotkeeper's x-slotkeeper-decision). */
  decision?: string;
  /** Tokens a disk restore put into the slot first (slotkeeper's x-slotkeeper-restored). */
  restored?: number;
  /** When it was sent, ms since the configuration's replay started. */
  startMs: number;
  /** Time to the first byte of the response body, ms. */
  ttfbMs: number;
  /** Time to the end of the response, ms. */
  totalMs: number;
  /** HTTP status, or 0 when the request failed before one arrived. */
  status: number;
  error?: string;
  /** The front's `x-cache` header (slotkeeper's response cache), when it sent one. */
  cache?: string;
  /** Prompt tokens llama-server evaluated (timings.prompt_n), when it said; 0 for an answer the response cache gave. */
  promptN: number | null;
  /** Prompt tokens reused from a cache (timings.cache_n), when it said. */
  cacheN: number | null;
  /** Tokens of this prompt that no earlier request to the same model shares as a prefix: the least any cache could evaluate. */
  oracleN: number | null;
}

/** `x-cache` values of answers that cost the upstream nothing: stored, or shared with an identical request in flight. */
const FROM_CACHE = new Set(['HIT', 'HIT-NORM', 'HIT-SUFFIX', 'COALESCED']);

/** True when the response cache answered the request without an upstream call of its own. */
export function servedByCache(cache: string | null | undefined): boolean {
  return cache != null && FROM_CACHE.has(cache);
}

/** Counters read from llama-server's /metrics (summed over servers). */
export type MetricsSnapshot = Record<string, number>;

/** The outcome of replaying a trace under one configuration. */
export interface ConfigResult {
  /** Human label, e.g. "llama-server alone, --cache-ram default". */
  name: string;
  /** The flags it ran with, for the report. */
  setup: Record<string, unknown>;
  records: RequestRecord[];
  wallMs: number;
  metricsBefore: MetricsSnapshot;
  metricsAfter: MetricsSnapshot;
}
