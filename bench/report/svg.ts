// The report's two plots: how latency is distributed, and how many prompt tokens each request
// cost against the least any cache could have.
import type { ConfigResult, RequestRecord } from '../results.js';
import { PALETTE, type Series, linePlot } from './line-plot.js';
import { isError } from './stats.js';

/** The colour of the i-th configuration. */
export function colourOf(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/**
 * Latency CDF: the fraction of a configuration's requests that succeeded within x seconds.
 * Failed requests count in the denominator but never arrive, so a curve that tops out below 1
 * shows its errors rather than hiding them.
 */
export function latencyCdfSvg(results: readonly ConfigResult[]): string {
  const series = results.map((result, i): Series => {
    const n = result.records.length;
    const seconds = result.records.filter((r) => !isError(r)).map((r) => r.totalMs / 1000).sort((a, b) => a - b);
    // A step function: flat between latencies, rising 1/n at each one.
    const points: Array<[number, number]> = [];
    seconds.forEach((s, k) => points.push([s, k / n], [s, (k + 1) / n]));
    return { label: result.name, colour: colourOf(i), segments: [points] };
  });
  return linePlot({ title: 'Latency CDF', xLabel: 'latency, s (request sent to last byte)', yLabel: 'fraction of requests done', series, yMax: 1 });
}

/**
 * Prompt tokens evaluated per request, one line per configuration, against the oracle (dashed).
 * Requests are numbered in the first configuration's send order and matched across
 * configurations by (pass, session, step): closed-loop timing differs between configurations,
 * and matching by send order would set one request's cost against another's oracle.
 */
export function tokensPerRequestSvg(results: readonly ConfigResult[]): string {
  const order = requestOrder(results);
  const byKey = results.map((r) => new Map(r.records.map((rec) => [keyOf(rec), rec])));
  const series = results.map((result, i): Series => ({
    label: result.name,
    colour: colourOf(i),
    segments: segmentsOf(order.map((key) => byKey[i]!.get(key)?.promptN ?? null)),
  }));
  // Configurations' oracles differ only where their closed-loop answers differed (the oracle counts
  // earlier answers as cached): draw the first configuration's, filling gaps from the others.
  const oracle = order.map((key) => byKey.map((m) => m.get(key)?.oracleN).find((v) => v !== undefined && v !== null) ?? null);
  if (oracle.some((v) => v !== null)) series.push({ label: 'oracle (least any cache could evaluate)', colour: '#555555', dashed: true, segments: segmentsOf(oracle) });
  return linePlot({
    title: 'Prompt tokens evaluated per request',
    xLabel: results.length > 1 ? 'request #, in the send order of the first configuration' : 'request #, in send order',
    yLabel: 'prompt tokens evaluated',
    series,
    xInteger: true,
    yInteger: true,
  });
}

/** Request keys in the first configuration's send order, then any only later configurations sent. */
export function requestOrder(results: readonly ConfigResult[]): string[] {
  const seen = new Set<string>();
  for (const result of results) {
    const sorted = [...result.records].sort((a, b) => a.startMs - b.startMs || a.pass - b.pass || compare(a.session, b.session) || a.step - b.step);
    for (const record of sorted) seen.add(keyOf(record));
  }
  return [...seen];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function keyOf(r: RequestRecord): string {
  return JSON.stringify([r.pass, r.session, r.step]);
}

/** Values at x = 1, 2, …; a null (no timings, or a request this configuration lacks) breaks the line. */
function segmentsOf(values: ReadonlyArray<number | null>): Array<Array<[number, number]>> {
  const segments: Array<Array<[number, number]>> = [];
  let current: Array<[number, number]> = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length > 0) segments.push(current);
      current = [];
    } else current.push([i + 1, v]);
  });
  if (current.length > 0) segments.push(current);
  return segments;
}
