// `npm run bench -- <scenario> [--quick] [--seed N] [--set key=value ...] [--out DIR]`
// Generates the scenario's trace, replays it against llama-server alone with --cache-ram at its
// default and scaled down, writes a report (markdown, SVG plots, raw results) and prints the table.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateScenario, scenarios } from './generators/index.js';
import { isError } from './report/stats.js';
import { writeReport } from './report/write.js';
import { writeTrace } from './trace.js';
import { type Configuration, runConfigurations } from './run.js';
import { DEFAULT_CACHE_RAM_MIB, SCALED_CONTEXTS, serverSetup } from './scale.js';
import { EXPECTED_COMMIT } from './rig/llama-cpp.js';
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

const USAGE = `usage: npm run bench -- <scenario> [--quick] [--servers N] [--seed N] [--set key=value ...] [--out DIR]

scenarios:
${Object.entries(scenarios).map(([name, s]) => `  ${name.padEnd(14)} ${s.description}`).join('\n')}

  --quick      the small preset (a few minutes); without it, the full preset that notes quote
  --servers N  N llama-servers with the same flags, requests spread round-robin (default 1)
  --seed N     trace seed (default 1)
  --set k=v    a generator parameter on top of the preset (numbers and JSON accepted)
  --out DIR    where the report goes (default bench/results/<scenario>-<preset>-<time>)`;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      quick: { type: 'boolean' }, seed: { type: 'string' }, set: { type: 'string', multiple: true },
      out: { type: 'string' }, servers: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const name = positionals[0];
  if (values.help || !name) { process.stdout.write(`${USAGE}\n`); return values.help ? 0 : 2; }
  const quick = values.quick ?? false;
  const overrides = Object.fromEntries((values.set ?? []).map(parseSetting));
  const trace = generateScenario(name, { quick, seed: values.seed ? Number(values.seed) : undefined, overrides });
  const servers = values.servers ? Number(values.servers) : 1;
  if (!Number.isInteger(servers) || servers < 1) throw new Error(`--servers wants a whole number from 1, got '${values.servers}'`);
  const setup = serverSetup(trace, quick, servers);
  const fleet = servers > 1 ? ` × ${servers} servers, round-robin` : '';
  const preset = quick ? 'quick' : 'full';
  const out = values.out ?? join('bench', 'results', `${name}-${preset}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  writeTrace(join(out, 'trace.jsonl'), trace);

  const configs: Configuration[] = [
    { name: `llama-server alone${fleet}, --cache-ram default (${DEFAULT_CACHE_RAM_MIB} MiB)` },
    { name: `llama-server alone${fleet}, --cache-ram ${setup.scaledCacheRamMiB} MiB (~${SCALED_CONTEXTS} contexts)`, cacheRamMiB: setup.scaledCacheRamMiB },
  ];
  log(`bench: ${name} (${preset}), ${servers} server(s) of ${setup.slots} slots × ${setup.ctxPerSlot} tokens, largest prompt ~${setup.largestPromptTokens} tokens`);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));
  const results = await runConfigurations(trace, setup, configs, log, abort.signal);
  const table = await writeReport(out, {
    title: `slotkeeper bench: ${name} (${preset})`,
    trace: trace.header,
    results,
    notes: [
      `Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), no GPU.`,
      `llama-server from llama.cpp ${EXPECTED_COMMIT.slice(0, 12)}; model: the rig's \`bench\` preset (random weights, 12 KB of KV per token).`,
      `Oracle: per request, the prompt tokens no earlier request shares as a prefix (at least 1), tokenized by llama-server itself.`,
    ],
  });
  process.stdout.write(`\n${table}\nreport: ${join(out, 'report.md')}\n`);
  return results.some((r) => r.records.some(isError)) ? 1 : 0;
}

function parseSetting(setting: string): [string, unknown] {
  const eq = setting.indexOf('=');
  if (eq < 1) throw new Error(`--set wants key=value, got '${setting}'`);
  const raw = setting.slice(eq + 1);
  let value: unknown = raw;
  try { value = JSON.parse(raw); } catch { /* a bare string */ }
  return [setting.slice(0, eq), value];
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exitCode = 1;
});
