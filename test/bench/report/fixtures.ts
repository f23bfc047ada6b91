// Hand-made runs for the report tests: small enough to check every figure by hand.
import type { ConfigResult, RequestRecord } from '../../../bench/results.js';

/** A successful request; override what a test cares about. */
export function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    session: 's0', step: 0, pass: 0, kind: 'turn', dialect: 'openai', server: 0,
    startMs: 0, ttfbMs: 100, totalMs: 1000, status: 200,
    promptN: 10, cacheN: 0, oracleN: 10,
    ...overrides,
  };
}

/** A configuration's result around some records. */
export function config(name: string, records: RequestRecord[], extra: Partial<ConfigResult> = {}): ConfigResult {
  return { name, setup: {}, records, wallMs: 10_000, metricsBefore: {}, metricsAfter: {}, ...extra };
}

/**
 * Two configurations over one trace of four requests (oracle 100 + 20 + 30 + 40 = 190).
 * "default" re-evaluates the whole of request 4 (its cache was evicted): 650 evaluated, 3.42×.
 * "64" has one request fail with no timings, so its totals come from /metrics.
 */
export function twoConfigs(): ConfigResult[] {
  const oracle = [100, 20, 30, 40];
  const base = (i: number) => ({ session: `s${i % 2}`, step: Math.floor(i / 2), startMs: i * 100, oracleN: oracle[i]! });
  const evicted = config('llama-server alone, --cache-ram default', [
    record({ ...base(0), promptN: 100, cacheN: 0, ttfbMs: 200, totalMs: 1000 }),
    record({ ...base(1), promptN: 20, cacheN: 80, ttfbMs: 300, totalMs: 1500 }),
    record({ ...base(2), promptN: 30, cacheN: 90, ttfbMs: 400, totalMs: 2000 }),
    record({ ...base(3), promptN: 500, cacheN: 0, ttfbMs: 500, totalMs: 12_500 }),
  ], {
    setup: { 'cache-ram': 'default' },
    wallMs: 17_000,
    metricsBefore: { 'llamacpp:prompt_tokens_total': 0, 'llamacpp:prompt_seconds_total': 1 },
    metricsAfter: { 'llamacpp:prompt_tokens_total': 650, 'llamacpp:prompt_seconds_total': 3.5 },
  });
  const kept = config('llama-server alone, --cache-ram 64', [
    record({ ...base(0), promptN: 100, cacheN: 0, ttfbMs: 250, totalMs: 1200 }),
    record({ ...base(1), promptN: 20, cacheN: 80, ttfbMs: 150, totalMs: 900 }),
    record({ ...base(2), promptN: null, cacheN: null, ttfbMs: 0, totalMs: 30, status: 0, error: 'ECONNRESET' }),
    record({ ...base(3), promptN: 40, cacheN: 130, ttfbMs: 180, totalMs: 1100 }),
  ], {
    setup: { 'cache-ram': 64 },
    wallMs: 1_234_567,
    metricsBefore: { 'llamacpp:prompt_tokens_total': 5000, 'llamacpp:prompt_tokens_cached_total': 10, 'llamacpp:prompt_seconds_total': 0 },
    metricsAfter: { 'llamacpp:prompt_tokens_total': 5190, 'llamacpp:prompt_tokens_cached_total': 310, 'llamacpp:prompt_seconds_total': 0.75 },
  });
  return [evicted, kept];
}
