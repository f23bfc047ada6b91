// Restart: llama-server restarted halfway through a workload of several conversations (the team
// scenario: more users than slots, each with a private document). A restart empties its slots
// and its RAM prompt cache, so llama-server alone prefills every conversation again; slotkeeper's
// disk tier restores the ones it saved (a conversation's context is saved when another request
// is about to overwrite it), and the index on disk outlives the restart. Prints one markdown
// table, the configurations side by side from one run.
//
//   npm run build && node dist/bench/restart.js [--users 4] [--turns 4] [--context 2000] [--slots 2] [--cache-ram MiB]
//                                              [--idle-save 2] [--seed 1]
//
// Every session waits at its middle turn until all have reached it; then the server stops and
// starts again on the same port and --slot-save-path, so no request is in flight at the restart.
// A third configuration turns on idle saves (kv.saveIdleSeconds = --idle-save; 0 leaves it out):
// the conversations still in a slot at the restart were saved only when something overwrote them
// before, so without it they come back as of an earlier turn.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { withDefaults } from '../src/config/config.js';
import { type Gateway, startGateway } from '../src/gateway.js';
import { generateScenario } from './generators/index.js';
import { percentile } from './report/stats.js';
import { ensureLlamaServer } from './rig/llama-cpp.js';
import { ensureModel } from './rig/model.js';
import { type LlamaServer, startLlamaServer } from './rig/server.js';
import { replay } from './replay.js';
import type { RequestRecord } from './results.js';
import { BENCH_IDLE_TIMEOUT_MS, cacheRamTokens } from './run.js';
import { BENCH_MODEL, serverSetup } from './scale.js';
import type { Trace } from './trace.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

type Front = 'direct' | 'slotkeeper' | 'slotkeeper-idle';

interface Outcome {
  front: Front;
  records: RequestRecord[];
  /** The step index each session restarted before. */
  split: number;
  restartMs: number;
  wallMs: number;
  kv: string;
}

/** Counts of the gateway's disk tier, from its /metrics. */
async function kvCounts(gateway: Gateway): Promise<string> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const sum = (name: string, label: string) => text.split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return `${sum('slotkeeper_kv_saves_total', 'result="ok"')} / ${sum('slotkeeper_kv_restores_total', 'result="ok"')}`;
}

async function until(check: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(front: Front, trace: Trace, options: { binary: string; model: string; slots: number; ctx: number; cacheRamMiB?: number; idleSaveSeconds: number }): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-restart-bench-'));
  const serverOptions = {
    binary: options.binary, model: options.model, slots: options.slots, ctx: options.ctx, slotSavePath: dir,
    ...(options.cacheRamMiB !== undefined ? { cacheRamMiB: options.cacheRamMiB } : {}),
  };
  let server: LlamaServer = await startLlamaServer(serverOptions);
  let gateway: Gateway | undefined;
  try {
    if (front !== 'direct') {
      gateway = await startGateway(withDefaults({
        port: 0,
        upstreams: [{ url: server.url, ramCacheTokens: cacheRamTokens(options.cacheRamMiB), slotSaveDir: dir }],
        // Probed often, so the gateway sees the restarted server as soon as it listens.
        fleet: { probeIntervalMs: 200 },
        limits: { upstreamIdleTimeoutMs: BENCH_IDLE_TIMEOUT_MS },
        ...(front === 'slotkeeper-idle' ? { kv: { saveIdleSeconds: options.idleSaveSeconds } } : {}),
      }), { defaultMetrics: false, log: (line) => log(`slotkeeper: ${line}`) });
    }
    const g = gateway;
    const turns = Math.min(...trace.sessions.map((s) => s.steps.length));
    const split = Math.floor(turns / 2);
    let arrived = 0;
    let restartMs = 0;
    let release!: () => void;
    let fail!: (err: unknown) => void;
    const restarted = new Promise<void>((resolve, reject) => { release = resolve; fail = reject; });
    const started = performance.now();
    const restart = async () => {
      restartMs = performance.now() - started;
      log(`restart: ${front}: stopping llama-server at ${(restartMs / 1000).toFixed(1)} s`);
      const generation = g?.fleet.upstreams[0]!.generation ?? 0;
      await server.stop();
      server = await startLlamaServer({ ...serverOptions, extraArgs: ['--port', String(server.port)] });
      if (g) await until(() => g.fleet.upstreams[0]!.state === 'ready' && g.fleet.upstreams[0]!.generation > generation, 'the gateway to see the restart');
    };
    const result = await replay({
      baseUrls: [g ? g.url : server.url], trace,
      onRecord: (r) => log(`restart: ${front}: ${r.session} step ${r.step}: prompt_n ${r.promptN}, cache_n ${r.cacheN}, TTFB ${(r.ttfbMs / 1000).toFixed(2)} s`),
      beforeStep: async (_session, step) => {
        if (step !== split) return;
        if (++arrived === trace.sessions.length) restart().then(release, fail);
        await restarted;
      },
    });
    return { front, records: result.records, split, restartMs, wallMs: result.wallMs, kv: g ? await kvCounts(g) : '–' };
  } finally {
    await gateway?.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(o: Outcome, name: string): string {
  const ok = o.records.filter((r) => r.status === 200 && r.error === undefined);
  const after = ok.filter((r) => r.step >= o.split);
  const before = ok.filter((r) => r.step < o.split);
  const sum = (rs: RequestRecord[], f: (r: RequestRecord) => number | null) => rs.reduce((n, r) => n + (f(r) ?? 0), 0);
  const ttfb = after.map((r) => r.ttfbMs);
  const secs = (ms: number | null) => (ms === null ? '–' : (ms / 1000).toFixed(2));
  const errors = o.records.length - ok.length;
  return `| ${name} | ${sum(before, (r) => r.promptN).toLocaleString('en')} | ${after.length} | **${sum(after, (r) => r.promptN).toLocaleString('en')}** | ${sum(after, (r) => r.cacheN).toLocaleString('en')} `
    + `| ${secs(percentile(ttfb, 50))} / ${secs(percentile(ttfb, 95))} s | ${o.kv} | ${errors} | ${(o.wallMs / 1000).toFixed(1)} s |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '4' }, turns: { type: 'string', default: '4' }, context: { type: 'string', default: '2000' },
      slots: { type: 'string', default: '2' }, 'cache-ram': { type: 'string' }, 'idle-save': { type: 'string', default: '2' },
      seed: { type: 'string', default: '1' },
    },
  });
  // Side requests would only add noise to a count of what the restart cost the conversations.
  const trace = generateScenario('team', {
    quick: true, seed: Number(values.seed),
    overrides: { users: Number(values.users), turns: Number(values.turns), contextTokens: Number(values.context), sideChance: 0 },
  });
  const setup = serverSetup(trace, true);
  const slots = Number(values.slots);
  const cacheRamMiB = values['cache-ram'] === undefined ? undefined : Number(values['cache-ram']);
  const binary = await ensureLlamaServer(log);
  const model = await ensureModel(BENCH_MODEL, log);
  const idleSaveSeconds = Number(values['idle-save']);
  const options = { binary, model, slots, ctx: slots * setup.ctxPerSlot, idleSaveSeconds, ...(cacheRamMiB !== undefined ? { cacheRamMiB } : {}) };
  const fronts: Front[] = idleSaveSeconds > 0 ? ['direct', 'slotkeeper', 'slotkeeper-idle'] : ['direct', 'slotkeeper'];
  const outcomes: Outcome[] = [];
  for (const front of fronts) outcomes.push(await run(front, trace, options));
  const ram = cacheRamMiB === undefined ? 'default --cache-ram' : `--cache-ram ${cacheRamMiB} MiB`;
  const lines = [
    `${trace.sessions.length} conversations of ${values.turns} turns (~${values.context}-token private contexts), ${slots} slots, ${ram}; llama-server restarted before turn ${outcomes[0]!.split + 1}.`,
    '',
    '| configuration | evaluated before the restart | requests after | **prompt tokens evaluated after the restart** | reused after | TTFB p50 / p95 after | disk saves / restores | errors | wall |',
    '| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    row(outcomes[0]!, 'llama-server alone'),
    row(outcomes[1]!, 'slotkeeper (disk tier)'),
    ...(outcomes[2] ? [row(outcomes[2], `slotkeeper, idle saves after ${idleSaveSeconds} s`)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
