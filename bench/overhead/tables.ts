// The overhead bench's markdown tables: latency direct vs through each gateway variant, max req/s,
// and the event-loop test.
import { MISSING, formatFixed } from '../report/format.js';
import { percentile } from '../report/stats.js';

/** Latencies of one path (direct, or one gateway variant), ms; null when it was not measured. */
export interface PathRun {
  latencies: number[];
  errors: number;
  firstError?: string;
  /** Requests the client sent again because the server had closed their kept-alive socket. */
  retries?: number;
  /** Closed-loop throughput, requests per second. */
  rps?: number;
  /** Through the gateway: mean ms per request in analysis (worker or inline) and waiting for a slot lease, one at a time and in the closed loop. */
  split?: { latency?: Split; throughput?: Split };
}

/** Mean ms per request of two phases, from the gateway's own histograms. */
export interface Split {
  analysisMs: number;
  slotWaitMs: number;
}

/** One row: a body size and mode, the direct path and each variant. */
export interface Row {
  body: string;
  mode: string;
  direct: PathRun;
  via: Record<string, PathRun | null>;
}

/** The issue's targets for 100 KB bodies, ms. */
export const TARGET = { bodyLabel: '100 KB', addedP50: 0.3, addedP99: 2 } as const;

/** Latency table: direct p50/p99, each variant's p50/p99 and the difference (added). */
export function latencyTable(rows: readonly Row[], variants: readonly string[]): string {
  const header = ['body', 'mode', 'n', 'direct p50 / p99', ...variants.flatMap((v) => [`${v} p50 / p99`, `added p50 / p99`])];
  const lines = rows.map((row) => {
    const d50 = p(row.direct, 50);
    const d99 = p(row.direct, 99);
    const cells = variants.flatMap((v) => {
      const via = row.via[v];
      if (!via) return [MISSING, MISSING];
      const v50 = p(via, 50);
      const v99 = p(via, 99);
      const a50 = v50 === null || d50 === null ? null : v50 - d50;
      const a99 = v99 === null || d99 === null ? null : v99 - d99;
      const mark = row.body === TARGET.bodyLabel && a50 !== null && a99 !== null
        ? (a50 <= TARGET.addedP50 && a99 <= TARGET.addedP99 ? ' ✓' : ' ✗') : '';
      return [pair(v50, v99, via.errors), `${pair(a50, a99)}${mark}`];
    });
    return [row.body, row.mode, String(row.direct.latencies.length), pair(d50, d99, row.direct.errors), ...cells];
  });
  return markdown(header, lines);
}

/** Throughput table: closed-loop max req/s, direct and through each variant. */
export function throughputTable(rows: readonly Row[], variants: readonly string[], concurrency: number): string {
  const header = ['body', 'mode', `direct req/s (c=${concurrency})`, ...variants.flatMap((v) => [`${v} req/s`, `${v} ÷ direct`])];
  const lines = rows.map((row) => [
    row.body, row.mode, rps(row.direct),
    ...variants.flatMap((v) => {
      const via = row.via[v];
      const ratio = via?.rps !== undefined && row.direct.rps ? `${(via.rps / row.direct.rps).toFixed(2)}×` : MISSING;
      return [via ? rps(via) : MISSING, ratio];
    }),
  ]);
  return markdown(header, lines);
}

/** Where the gateway's time goes: mean analysis and slot-wait ms, one at a time and (unless `concurrency` is null) in the closed loop. */
export function splitTable(rows: readonly Row[], variants: readonly string[], concurrency: number | null): string {
  const header = ['body', 'mode', ...variants.flatMap((v) => [`${v} analysis / slot wait (c=1)`, ...(concurrency === null ? [] : [`(c=${concurrency})`])])];
  const lines = rows.map((row) => [
    row.body, row.mode,
    ...variants.flatMap((v) => {
      const split = row.via[v]?.split;
      return [splitCell(split?.latency), ...(concurrency === null ? [] : [splitCell(split?.throughput)])];
    }),
  ]);
  return markdown(header, lines);
}

function splitCell(split: Split | undefined): string {
  return split === undefined ? MISSING : `${ms(split.analysisMs)} / ${ms(split.slotWaitMs)}`;
}

/** One event-loop measurement: the gateway's main thread while streams are open and big prompts arrive. */
export interface LoopRun {
  variant: string;
  /** Event-loop delay percentiles, ms (the timer resolution already taken out). */
  p50: number;
  p99: number;
  max: number;
  streamsHeld: number;
  streamsWanted: number;
  bigPrompts: number;
  bigPromptErrors: number;
  bigPromptP50: number | null;
  bigPromptP99: number | null;
  seconds: number;
  /** Time to open every stream, s. */
  openSeconds: number;
  firstError?: string;
}

/** The event-loop table, one row per gateway variant. */
export function loopTable(runs: readonly LoopRun[]): string {
  const header = ['front', 'loop delay p50', 'p99 (target ≤ 10)', 'max', 'streams held (opened in)', '1 MB prompts (errors)', '1 MB prompt latency p50 / p99'];
  const lines = runs.map((r) => [
    r.variant, ms(r.p50), `${ms(r.p99)}${r.p99 <= 10 ? ' ✓' : ' ✗'}`, ms(r.max), `${r.streamsHeld} / ${r.streamsWanted} (${r.openSeconds.toFixed(1)} s)`,
    `${r.bigPrompts} in ${r.seconds.toFixed(1)} s (${r.bigPromptErrors})`, pair(r.bigPromptP50, r.bigPromptP99),
  ]);
  return markdown(header, lines);
}

function p(run: PathRun, q: number): number | null {
  return percentile(run.latencies, q);
}

function rps(run: PathRun): string {
  if (run.rps === undefined) return MISSING;
  return `${formatFixed(run.rps, 0)}${run.errors > 0 ? ` (${run.errors} errors)` : ''}`;
}

function pair(a: number | null, b: number | null, errors = 0): string {
  const text = `${ms(a)} / ${ms(b)}`;
  return errors > 0 ? `${text} (${errors} errors)` : text;
}

/** Milliseconds: three decimals under 1 ms (the targets are fractions of one), two under 10, one above. */
export function ms(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return MISSING;
  const abs = Math.abs(x);
  return formatFixed(x, abs < 1 ? 3 : abs < 10 ? 2 : 1);
}

function markdown(header: string[], lines: string[][]): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i < 2 ? ':---' : '---:'));
  return [row(header), row(align), ...lines.map(row)].join('\n');
}
