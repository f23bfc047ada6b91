import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatClock, formatFixed, formatInt, formatRatio, formatSeconds } from '../../../bench/report/format.js';
import { markdownTable } from '../../../bench/report/table.js';
import { config, record, twoConfigs } from './fixtures.js';

const table = suite('table');
const cellsOf = (line: string) => line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());

table('formats numbers for people, whatever the locale', () => {
  assert.is(formatInt(1234567), '1,234,567');
  assert.is(formatInt(999), '999');
  assert.is(formatInt(-4500), '-4,500');
  assert.is(formatInt(null), '—');
  assert.is(formatFixed(1234.56, 1), '1,234.6');
  assert.is(formatSeconds(420), '0.42');
  assert.is(formatSeconds(12_345), '12.3');
  assert.is(formatSeconds(1_234_567), '1,234.6');
  assert.is(formatRatio(650 / 190), '3.42×');
  assert.is(formatRatio(null), '—');
  assert.is(formatClock(65_000), '1:05');
  assert.is(formatClock(3_725_000), '1:02:05');
});

table('one row per configuration with its figures', () => {
  const md = markdownTable(twoConfigs());
  const lines = md.trimEnd().split('\n');
  assert.is(cellsOf(lines[0]!).length, 11);
  assert.match(lines[1]!, /^\| :--- \| ---: \|/);
  const rows = lines.filter((l) => l.startsWith('| llama-server'));
  assert.is(rows.length, 2);
  assert.equal(cellsOf(rows[0]!), ['llama-server alone, --cache-ram default', '4', '4', '0', '650', '3.42×', '170', '0.0 % / 45.0 %', '0.30 / 0.50 s', '1.50 / 12.5 s', '17.0 s']);
  assert.equal(cellsOf(rows[1]!), ['llama-server alone, --cache-ram 64', '4', '4', '1', '190 †', '1.00×', '300 †', '100.0 % / 100.0 %', '0.18 / 0.25 s', '1.10 / 1.20 s', '1,234.6 s']);
});

table('notes the oracle total and the /metrics fallback under the table', () => {
  const md = markdownTable(twoConfigs());
  assert.match(md, /\n\nOracle: 190 prompt tokens/);
  assert.match(md, /† from the \/metrics counters/);
  assert.not.match(markdownTable(twoConfigs().slice(0, 1)), /†/);
});

table('escapes a pipe in a name and survives an empty run', () => {
  const md = markdownTable([config('a | b', []), config('none', [record({ oracleN: null, promptN: null })])]);
  assert.ok(md.includes('| a \\| b | 0 | 0 | 0 | 0 | — | 0 | — | — | — | 10.0 s |'), md);
  assert.match(md, /Oracle: unknown/);
  assert.not.match(md, /NaN|undefined|null/);
  assert.is(markdownTable([]).split('\n').filter((l) => l.startsWith('|')).length, 2);
});

table.run();
