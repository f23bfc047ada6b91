// Writes a run's report to a directory: the markdown summary, its two plots and the raw results.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigResult } from '../results.js';
import type { TraceHeader } from '../trace.js';
import { latencyCdfSvg, tokensPerRequestSvg } from './svg.js';
import { markdownTable } from './table.js';

/** What a report says besides the results. */
export interface ReportInput {
  title: string;
  /** The trace's header: scenario, seed, generator parameters, passes. */
  trace: TraceHeader;
  results: readonly ConfigResult[];
  /** Free lines for the end of the report (hardware, model, llama.cpp version). */
  notes?: readonly string[];
}

/** The files writeReport creates, by name. */
export const REPORT_FILES = {
  markdown: 'report.md',
  latency: 'latency-cdf.svg',
  tokens: 'tokens-per-request.svg',
  results: 'results.json',
} as const;

/** Writes report.md, latency-cdf.svg, tokens-per-request.svg and results.json into dir (created if missing); returns the markdown table. */
export async function writeReport(dir: string, input: ReportInput): Promise<string> {
  const table = markdownTable(input.results);
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, REPORT_FILES.markdown), reportMarkdown(input, table)),
    writeFile(join(dir, REPORT_FILES.latency), latencyCdfSvg(input.results)),
    writeFile(join(dir, REPORT_FILES.tokens), tokensPerRequestSvg(input.results)),
    writeFile(join(dir, REPORT_FILES.results), JSON.stringify(input.results, null, 2) + '\n'),
  ]);
  return table;
}

/** The whole report.md, around an already rendered table. */
export function reportMarkdown(input: ReportInput, table: string): string {
  const { trace } = input;
  const passes = trace.passes ?? 1;
  const lines = [
    `# ${input.title}`,
    '',
    `Scenario **${trace.scenario}**, seed ${trace.seed}, ${passes} pass${passes === 1 ? '' : 'es'}.`,
    '',
    ...bullets(trace.params),
    '',
    '## Results',
    '',
    table.trimEnd(),
    '',
    '## Configurations',
    '',
    ...input.results.map((r) => `- **${r.name}**${Object.keys(r.setup).length > 0 ? `: \`${JSON.stringify(r.setup)}\`` : ''}`),
    '',
    `![Latency CDF](${REPORT_FILES.latency})`,
    '',
    `![Prompt tokens evaluated per request](${REPORT_FILES.tokens})`,
    '',
  ];
  if (input.notes && input.notes.length > 0) lines.push('## Notes', '', ...input.notes.map((n) => `- ${n}`), '');
  lines.push(`Raw records: [${REPORT_FILES.results}](${REPORT_FILES.results}).`, '');
  return lines.join('\n');
}

/** Generator parameters as a list; values other than strings as JSON, so nested ones stay readable. */
function bullets(params: Record<string, unknown>): string[] {
  const entries = Object.entries(params);
  if (entries.length === 0) return ['(no generator parameters)'];
  return ['Generator parameters:', '', ...entries.map(([k, v]) => `- ${k}: \`${typeof v === 'string' ? v : JSON.stringify(v)}\``)];
}
