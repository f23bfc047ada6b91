// `npm run bench -- <scenario> [--quick] [--servers N] [--configs a,b] [--cache-ram which] ...`
// Generates the scenario's trace, replays it under each configuration (llama-server alone or
// round-robin, a least-loaded proxy, slotkeeper in front; --cache-ram at its default and scaled
// down), writes a report (markdown, SVG plots, raw results) and prints the table.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateScenario, scenarios } from './generators/index.js';
import { isError } from './report/stats.js';
import { writeReport } from './report/write.js';
import { writeTrace } from './trace.js';
import { type Configuration, type Front, runConfigurations } from './run.js';
import { DEFAULT_CACHE_RAM_MIB, SCALED_CONTEXTS, type ServerSetup, defaultServers, serverSetup } from './scale.js';
import { EXPECTED_COMMIT } from './rig/llama-cpp.js';
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

/** The fronts the default configurations compare. */
const FRONTS: readonly Front[] = ['direct', 'least-loaded', 'slotkeeper'];
/** Every front --configs can name: the defaults, slotkeeper as `serve --upstream URL` starts it (and blind), and with its response cache. */
const ALL_FRONTS: readonly Front[] = [...FRONTS, 'slotkeeper-url', 'slotkeeper-blind', 'slotkeeper-cache'];
/** Which --cache-ram a configuration runs with, by the suffix of its short name. */
const CACHE_RAMS = { default: '', scaled: '-scaled' } as const;
type CacheRam = keyof typeof CACHE_RAMS;

const USAGE = `usage: npm run bench -- <scenario> [--quick] [--servers N] [--configs a,b,...] [--cache-ram default|scaled|both]
                          [--seed N] [--set key=value ...] [--out DIR]

scenarios:
${Object.entries(scenarios).map(([name, s]) => `  ${name.padEnd(14)} ${s.description}`).join('\n')}

configurations (short names for --configs):
  direct, direct-scaled                 llama-server alone; with --servers N, requests round-robin over them
  least-loaded, least-loaded-scaled     a plain proxy sending each request to the server with the fewest in flight
  slotkeeper, slotkeeper-scaled         slotkeeper in front of the server(s), told their --slot-save-path
  slotkeeper-url, …-url-scaled          slotkeeper as \`serve --upstream URL\` starts it: no slotSaveDir
  slotkeeper-blind, …-blind-scaled      the same with kv.detectSaveDir off: the disk tier works blind
  slotkeeper-cache, …-cache-scaled      slotkeeper with its response cache on (fresh directory); only when named
  a bare name runs llama-server's default --cache-ram (${DEFAULT_CACHE_RAM_MIB} MiB); -scaled the one that holds
  ~${SCALED_CONTEXTS} of the trace's largest contexts

  --quick      the small preset (a few minutes); without it, the full preset that notes quote
  --servers N  N llama-servers with the same flags (default 1; fleet: 2)
  --configs    the configurations to run, in this order. Default with one server: direct, slotkeeper,
               direct-scaled, slotkeeper-scaled; with more: direct-scaled, least-loaded-scaled,
               slotkeeper-scaled
  --cache-ram  which --cache-ram the default configurations run with: default, scaled or both
               (default: both with one server, scaled with more)
  --scaled-cache-ram MIB
               the -scaled configurations' --cache-ram (default: ~${SCALED_CONTEXTS} of the largest contexts)
  --seed N     trace seed (default 1)
  --set k=v    a generator parameter on top of the preset (numbers and JSON accepted)
  --out DIR    where the report goes (default bench/results/<scenario>-<preset>-<time>)`;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      quick: { type: 'boolean' }, seed: { type: 'string' }, set: { type: 'string', multiple: true },
      out: { type: 'string' }, servers: { type: 'string' }, configs: { type: 'string' }, 'cache-ram': { type: 'string' },
      'scaled-cache-ram': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const name = positionals[0];
  if (values.help || !name) { process.stdout.write(`${USAGE}\n`); return values.help ? 0 : 2; }
  const quick = values.quick ?? false;
  const overrides = Object.fromEntries((values.set ?? []).map(parseSetting));
  const trace = generateScenario(name, { quick, seed: values.seed ? Number(values.seed) : undefined, overrides });
  const servers = values.servers ? Number(values.servers) : defaultServers(name);
  if (!Number.isInteger(servers) || servers < 1) throw new Error(`--servers wants a whole number from 1, got '${values.servers}'`);
  const setup = serverSetup(trace, quick, servers);
  if (values['scaled-cache-ram'] !== undefined) {
    const mib = Number(values['scaled-cache-ram']);
    if (!Number.isInteger(mib) || mib < 0) throw new Error(`--scaled-cache-ram wants a whole number of MiB, got '${values['scaled-cache-ram']}'`);
    setup.scaledCacheRamMiB = mib;
  }
  const configs = chooseConfigurations(setup, values.configs, values['cache-ram']);
  const preset = quick ? 'quick' : 'full';
  const out = values.out ?? join('bench', 'results', `${name}-${preset}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  writeTrace(join(out, 'trace.jsonl'), trace);

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

/** The configurations to run, from --configs (short names) or the defaults for the fleet size and --cache-ram. */
function chooseConfigurations(setup: ServerSetup, names: string | undefined, cacheRam: string | undefined): Configuration[] {
  const known = catalogue(setup);
  if (names !== undefined) {
    if (cacheRam !== undefined) throw new Error('--configs names each configuration\'s --cache-ram (a -scaled suffix or none); drop --cache-ram');
    const picked = [...new Set(names.split(',').map((n) => n.trim()).filter((n) => n !== ''))];
    if (picked.length === 0) throw new Error('--configs wants at least one name');
    return picked.map((name) => {
      const config = known.get(name);
      if (!config) throw new Error(`--configs: unknown configuration '${name}' (known: ${[...known.keys()].join(', ')})`);
      return config;
    });
  }
  const rams = cacheRamsOf(cacheRam, setup.servers);
  // A least-loaded proxy in front of one server only adds a hop.
  const fronts = setup.servers > 1 ? FRONTS : FRONTS.filter((f) => f !== 'least-loaded');
  // Grouped by --cache-ram, so rows that face the same cache pressure sit next to each other.
  return rams.flatMap((ram) => fronts.map((front) => known.get(`${front}${CACHE_RAMS[ram]}`)!));
}

/** The --cache-ram values the default configurations run with. */
function cacheRamsOf(value: string | undefined, servers: number): CacheRam[] {
  // A fleet run is long already; the default --cache-ram holds everything at this scale anyway.
  if (value === undefined) return servers > 1 ? ['scaled'] : ['default', 'scaled'];
  if (value === 'both') return ['default', 'scaled'];
  if (value === 'default' || value === 'scaled') return [value];
  throw new Error(`--cache-ram wants default, scaled or both, got '${value}'`);
}

/** Every configuration by short name: `<front>` at the default --cache-ram, `<front>-scaled` at the scaled one. */
function catalogue(setup: ServerSetup): Map<string, Configuration> {
  const n = setup.servers;
  const fleet = n > 1 ? ` × ${n}` : '';
  const fronts: Record<Front, string> = {
    direct: n > 1 ? `llama-server × ${n}, round-robin` : 'llama-server alone',
    'least-loaded': `least-loaded proxy → llama-server${fleet}`,
    slotkeeper: `slotkeeper → llama-server${fleet}`,
    'slotkeeper-url': `slotkeeper (serve --upstream URL) → llama-server${fleet}`,
    'slotkeeper-blind': `slotkeeper, disk tier blind → llama-server${fleet}`,
    'slotkeeper-cache': `slotkeeper + response cache → llama-server${fleet}`,
  };
  const out = new Map<string, Configuration>();
  for (const [ram, suffix] of Object.entries(CACHE_RAMS) as [CacheRam, string][]) {
    for (const front of ALL_FRONTS) {
      out.set(`${front}${suffix}`, ram === 'default'
        ? { name: `${fronts[front]}, --cache-ram default (${DEFAULT_CACHE_RAM_MIB} MiB)`, front }
        : { name: `${fronts[front]}, --cache-ram ${setup.scaledCacheRamMiB} MiB (~${SCALED_CONTEXTS} contexts)`, front, cacheRamMiB: setup.scaledCacheRamMiB });
    }
  }
  return out;
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
