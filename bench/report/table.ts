// The report's headline: one markdown row per configuration, printed to the terminal too.
import type { ConfigResult } from '../results.js';
import { MISSING, formatInt, formatRatio, formatSeconds } from './format.js';
import { type Source, type Summary, summarize } from './stats.js';

const HEADER = ['configuration', 'requests', 'upstream calls', 'errors', 'prompt tokens evaluated', '÷ oracle', 'cached tokens', 'reuse per turn p50 / mean', 'TTFB p50 / p95', 'latency p50 / p95', 'wall time'];
/** Numbers align right, names left. */
const ALIGN = HEADER.map((_, i) => (i === 0 ? ':---' : '---:'));
/** Marks a total read from /metrics, explained under the table. */
const FROM_METRICS = '†';

/** The markdown table of a run, with a note on the oracle (and on totals taken from /metrics) under it. */
export function markdownTable(results: readonly ConfigResult[]): string {
  const summaries = results.map(summarize);
  const lines = [row(HEADER), row(ALIGN), ...summaries.map((s) => row(cells(s)))];
  return [...lines, '', ...notes(summaries)].join('\n') + '\n';
}

/** The cells of one configuration's row. */
function cells(s: Summary): string[] {
  return [
    escapeCell(s.name),
    formatInt(s.requests),
    formatInt(s.upstreamCalls),
    formatInt(s.errors),
    marked(s.promptEvaluated, s.promptSource),
    formatRatio(s.ratio),
    marked(s.cached, s.cachedSource),
    s.turnReuseP50 === null || s.turnReuseMean === null ? MISSING : `${percent(s.turnReuseP50)} / ${percent(s.turnReuseMean)}`,
    pair(s.ttfbP50, s.ttfbP95),
    pair(s.totalP50, s.totalP95),
    s.wallMs > 0 ? `${formatSeconds(s.wallMs)} s` : MISSING,
  ];
}

/** The lines under the table. */
function notes(summaries: readonly Summary[]): string[] {
  const oracles = [...new Set(summaries.map((s) => s.oracle).filter((o) => o !== null))];
  const out: string[] = [];
  if (oracles.length === 0) out.push('Oracle: unknown (the records carry no oracleN).');
  // Every configuration replays the same trace, but the oracle also counts earlier answers, and
  // those can differ between configurations, so the totals can too.
  else if (oracles.length === 1) out.push(`Oracle: ${formatInt(oracles[0]!)} prompt tokens, the least any cache could have evaluated for this trace; ÷ oracle = evaluated / oracle, 1.00× is perfect reuse.`);
  else out.push(`Oracle (differs by configuration): ${summaries.map((s) => `${s.name} ${formatInt(s.oracle)}`).join('; ')}.`);
  if (summaries.some((s) => s.promptSource === 'metrics' || s.cachedSource === 'metrics')) {
    out.push(`${FROM_METRICS} from the /metrics counters: some responses carried no timings.`);
  }
  return out;
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

function marked(n: number | null, source: Source): string {
  return source === 'metrics' ? `${formatInt(n)} ${FROM_METRICS}` : formatInt(n);
}

function pair(p50: number | null, p95: number | null): string {
  return p50 === null || p95 === null ? MISSING : `${formatSeconds(p50)} / ${formatSeconds(p95)} s`;
}

function row(values: readonly string[]): string {
  return `| ${values.join(' | ')} |`;
}

/** A pipe or a newline in a name would break the row. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
