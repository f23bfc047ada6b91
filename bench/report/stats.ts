// Pure figures over one configuration's run: what the table and the plots show.
import { type ConfigResult, type RequestRecord, servedByCache } from '../results.js';

/** The /metrics counters the report reads. */
export const METRIC = {
  promptTokens: 'llamacpp:prompt_tokens_total',
  cachedTokens: 'llamacpp:prompt_tokens_cached_total',
  promptSeconds: 'llamacpp:prompt_seconds_total',
} as const;

/** Where a token total came from: the per-request timings, the /metrics delta, or nowhere. */
export type Source = 'records' | 'metrics' | null;

/** One configuration's figures; latencies in ms, null when there is nothing to measure. */
export interface Summary {
  name: string;
  requests: number;
  /** Requests that reached a server: all but those the response cache answered. */
  upstreamCalls: number;
  errors: number;
  /** Prompt tokens llama-server evaluated. */
  promptEvaluated: number | null;
  /** 'metrics' when some response lacked timings.prompt_n, so the sum would undercount. */
  promptSource: Source;
  cached: number | null;
  cachedSource: Source;
  /** The least any cache could have evaluated for the same requests. */
  oracle: number | null;
  /** promptEvaluated / oracle: 1 is a perfect cache. */
  ratio: number | null;
  ttfbP50: number | null;
  ttfbP95: number | null;
  totalP50: number | null;
  totalP95: number | null;
  wallMs: number;
  /** Seconds llama-server spent on prompt processing, from /metrics. */
  prefillSeconds: number | null;
  /** Per continuing turn, cache_n ÷ the previous turn's prompt tokens (at most 1): p50 and mean. */
  turnReuseP50: number | null;
  turnReuseMean: number | null;
}

/**
 * How much of the previous turn's prompt each turn found cached: cache_n of turn k ÷ (prompt_n +
 * cache_n) of turn k − 1, over consecutive `turn` requests of a session (a rewrite such as a
 * compaction starts a new prefix, so the turn after one is not counted). Capped at 1: the
 * previous answer is cached too.
 */
export function turnReuse(records: readonly RequestRecord[]): number[] {
  const bySession = new Map<string, RequestRecord[]>();
  for (const r of records) {
    const list = bySession.get(`${r.pass}/${r.session}`) ?? [];
    list.push(r);
    bySession.set(`${r.pass}/${r.session}`, list);
  }
  const out: number[] = [];
  for (const list of bySession.values()) {
    list.sort((a, b) => a.step - b.step);
    for (let i = 1; i < list.length; i++) {
      const [prev, cur] = [list[i - 1]!, list[i]!];
      if (prev.kind !== 'turn' || cur.kind !== 'turn' || isError(prev) || isError(cur)) continue;
      if (prev.promptN === null || prev.cacheN === null || cur.cacheN === null) continue;
      const prevPrompt = prev.promptN + prev.cacheN;
      if (prevPrompt > 0) out.push(Math.min(1, cur.cacheN / prevPrompt));
    }
  }
  return out;
}

/**
 * The p-th percentile (0..100) by nearest rank: the smallest value with at least p% of the
 * values at or below it. Always one of the inputs, so a p95 of latencies is a latency that
 * happened. Null for no values.
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1] ?? null;
}

/** True when a request failed: no 2xx status, or the replayer recorded an error. */
export function isError(record: RequestRecord): boolean {
  return record.error !== undefined || record.status < 200 || record.status > 299;
}

/** after − before for one counter, or null when either snapshot lacks it. */
export function metricDelta(result: ConfigResult, key: string): number | null {
  const before = result.metricsBefore[key];
  const after = result.metricsAfter[key];
  return before === undefined || after === undefined ? null : after - before;
}

/** Sum of a per-request count, or the /metrics delta when any request lacks it. */
function total(result: ConfigResult, field: 'promptN' | 'cacheN', metric: string): { value: number | null; source: Source } {
  const values = result.records.map((r) => r[field]);
  if (values.every((v) => v !== null)) return { value: sum(values as number[]), source: 'records' };
  // A failed or timing-less response hides what the server did; its counters still saw it.
  const delta = metricDelta(result, metric);
  return delta === null ? { value: null, source: null } : { value: delta, source: 'metrics' };
}

/** The figures of one configuration. */
export function summarize(result: ConfigResult): Summary {
  const { records } = result;
  const prompt = total(result, 'promptN', METRIC.promptTokens);
  const cached = total(result, 'cacheN', METRIC.cachedTokens);
  const oracles = records.map((r) => r.oracleN);
  // A partial oracle sum would make the ratio look worse than it is: all or nothing.
  const oracle = records.length > 0 && oracles.every((v) => v !== null) ? sum(oracles as number[]) : null;
  // Latencies of failed requests measure the failure (a refused connection returns at once).
  const ok = records.filter((r) => !isError(r));
  const ttfb = ok.map((r) => r.ttfbMs);
  const totals = ok.map((r) => r.totalMs);
  const reuse = turnReuse(records);
  return {
    name: result.name,
    requests: records.length,
    upstreamCalls: records.filter((r) => !servedByCache(r.cache)).length,
    errors: records.length - ok.length,
    promptEvaluated: prompt.value,
    promptSource: prompt.source,
    cached: cached.value,
    cachedSource: cached.source,
    oracle,
    ratio: prompt.value !== null && oracle ? prompt.value / oracle : null,
    ttfbP50: percentile(ttfb, 50),
    ttfbP95: percentile(ttfb, 95),
    totalP50: percentile(totals, 50),
    totalP95: percentile(totals, 95),
    wallMs: result.wallMs,
    prefillSeconds: metricDelta(result, METRIC.promptSeconds),
    turnReuseP50: percentile(reuse, 50),
    turnReuseMean: reuse.length > 0 ? sum(reuse) / reuse.length : null,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
