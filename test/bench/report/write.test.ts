import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { REPORT_FILES, writeReport } from '../../../bench/report/write.js';
import type { TraceHeader } from '../../../bench/trace.js';
import { twoConfigs } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-report-'));
const trace: TraceHeader = { scenario: 'agent-loop', seed: 42, params: { sessions: 2, turns: 2, system: 'You are terse.' }, passes: 2 };
const write = suite('write');
write.after(() => rmSync(dir, { recursive: true, force: true }));

write('writes the four files into a new directory and returns the table', async () => {
  const out = join(dir, 'nested', 'run-1');
  const results = twoConfigs();
  const table = await writeReport(out, { title: 'Cache reuse under pressure', trace, results, notes: ['model: tiny test model'] });
  assert.equal(readdirSync(out).sort(), Object.values(REPORT_FILES).sort());
  assert.match(table, /^\| configuration \|/);
  assert.is(table.split('\n').filter((l) => l.startsWith('| llama-server')).length, 2);

  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(md, /^# Cache reuse under pressure\n/);
  assert.match(md, /Scenario \*\*agent-loop\*\*, seed 42, 2 passes\./);
  assert.match(md, /- sessions: `2`/);
  assert.match(md, /- system: `You are terse\.`/);
  assert.ok(md.includes(table.trimEnd()), 'the table is in the report');
  assert.match(md, /- \*\*llama-server alone, --cache-ram 64\*\*: `\{"cache-ram":64\}`/);
  assert.match(md, /!\[Latency CDF\]\(latency-cdf\.svg\)/);
  assert.match(md, /!\[[^\]]+\]\(tokens-per-request\.svg\)/);
  assert.match(md, /## Notes\n\n- model: tiny test model/);

  assert.equal(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), results);
  for (const svg of [REPORT_FILES.latency, REPORT_FILES.tokens]) {
    const text = readFileSync(join(out, svg), 'utf8');
    assert.match(text, /^<\?xml[^>]*>\n<svg /);
    assert.match(text, /<\/svg>\n$/);
  }
});

write('an empty run still writes a report', async () => {
  const out = join(dir, 'empty');
  const table = await writeReport(out, { title: 'Nothing', trace: { scenario: 'none', seed: 0, params: {} }, results: [] });
  assert.is(readdirSync(out).length, 4);
  assert.is(table.split('\n').filter((l) => l.startsWith('|')).length, 2);
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(md, /1 pass\./);
  assert.not.match(md, /## Notes|undefined|NaN/);
});

write.run();
