// `npm run build && node dist/bench/overhead.js [--quick] [--no-llama]`
// What slotkeeper adds to a request, measured side by side in one run: the same client sends the
// same bodies straight to an upstream and through the gateway (started in this process), and the
// tables show both and the difference. Against a fast fake llama-server first (bodies of 1 KB,
// 100 KB and 1 MB, streamed and not: latency p50/p99 one request at a time, then closed-loop
// req/s), then the gateway's event-loop delay while 200 streams are open and 1 MB prompts keep
// arriving, then against the real llama-server with a short prompt and max_tokens 1.
//
// Threads: the gateway runs on this main thread (its worker pool on its own threads); the client
// and the fake upstream each run in a worker thread, so the event-loop delay measured here is the
// gateway's alone. All of it shares the machine's cores, as a gateway shares them with its clients.
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { withDefaults } from '../src/config/config.js';
import { type Gateway, type GatewayOptions, startGateway } from '../src/gateway.js';
import { rigServer } from '../test/helpers/llama.js';
import type { BodySpec } from './overhead/bodies.js';
import type { ClientResult } from './overhead/client.js';
import { type LoopRun, type PathRun, type Row, type Split, TARGET, latencyTable, loopTable, splitTable, throughputTable } from './overhead/tables.js';
import { type ClientThread, startClientThread, startUpstreamThread } from './overhead/threads.js';
import { percentile } from './report/stats.js';
import { readMetrics } from './server-metrics.js';

const KB = 1024;
const SIZES = [{ label: '1 KB', bytes: KB }, { label: '100 KB', bytes: 100 * KB }, { label: '1 MB', bytes: KB * KB }];
/** Tokens the fake answers in the latency and throughput runs. */
const ANSWER_TOKENS = 16;
const CONCURRENCY = 16;
const STREAMS = 200;
/** Slow enough that 200 streams stay open for the whole event-loop test, fast enough to keep chunks flowing (4,000 a second). */
const STREAM_TOKEN_DELAY_MS = 50;
/** Event-loop histogram resolution, ms; the histogram includes it, so it is subtracted. */
const LOOP_RESOLUTION_MS = 1;

const presets = {
  quick: { latency: [400, 200, 60], rounds: 2, throughputMs: 1500, holdMs: 5000, bigConcurrency: 4, real: 100 },
  full: { latency: [2000, 1000, 300], rounds: 4, throughputMs: 4000, holdMs: 15000, bigConcurrency: 4, real: 400 },
} as const;
type Preset = (typeof presets)[keyof typeof presets];

/** A way to run the gateway; every variant is measured in the same run. */
interface Variant {
  name: string;
  options: GatewayOptions;
}

// The A/B the gateway's `analysis` option exists for: request analysis (parse, hash) in the worker
// pool, its default, or inline on the main thread, which spares the messaging but blocks the loop.
const VARIANTS: Variant[] = [
  { name: 'slotkeeper/worker', options: { defaultMetrics: false, analysis: 'worker' } },
  { name: 'slotkeeper/inline', options: { defaultMetrics: false, analysis: 'inline' } },
];

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { quick: { type: 'boolean' }, 'no-llama': { type: 'boolean' } } });
  const presetName = values.quick ? 'quick' : 'full';
  const preset = presets[presetName];
  const out: string[] = [
    `# slotkeeper overhead (${presetName})`, '',
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadAverage()} at the start. Gateway in-process; client and fake upstream in worker threads.`,
  ];
  const client = startClientThread();
  try {
    out.push('', ...(await fakeSection(client, preset)));
    out.push('', ...(await loopSection(client, preset)));
    if (!values['no-llama']) out.push('', ...(await realSection(client, preset)));
  } finally {
    await client.close();
  }
  out.push('', `Load average ${loadAverage()} at the end (other work on the machine shows up in every column alike, but widens p99s).`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' / ');
}

/** Direct vs through each variant against the fast fake: latency one at a time, then req/s. */
async function fakeSection(client: ClientThread, preset: Preset): Promise<string[]> {
  // More slots than requests in flight: the gateway leases a slot per request and queues beyond,
  // which would measure its queue, not its overhead (the fake itself never queues).
  const fake = await startUpstreamThread({ answer: ANSWER_TOKENS, slots: 2 * CONCURRENCY });
  const gateways = await startGateways(fake.url, client);
  try {
    const rows: Row[] = [];
    for (const [i, size] of SIZES.entries()) {
      for (const stream of [false, true]) {
        const spec: BodySpec = { bytes: size.bytes, stream, maxTokens: ANSWER_TOKENS };
        const count = preset.latency[i] ?? 100;
        log(`overhead: ${size.label} ${stream ? 'stream' : 'non-stream'}: latency × ${count}, then ${preset.throughputMs} ms closed loop`);
        const targets = { direct: fake.url, ...Object.fromEntries(gateways.live.map(([v, gw]) => [v.name, gw.url])) };
        const latency = await latencyRounds(client, targets, spec, count, preset.rounds);
        const row: Row = { body: size.label, mode: stream ? 'stream' : 'non-stream', direct: latency.direct!, via: {} };
        for (const v of VARIANTS) row.via[v.name] = latency[v.name] ?? null;
        for (const [name, url] of Object.entries(targets)) {
          const before = name === 'direct' ? null : await splitSnapshot(url);
          const r = await client.run({ kind: 'throughput', url, body: spec, concurrency: CONCURRENCY, durationMs: preset.throughputMs });
          const run = name === 'direct' ? row.direct : row.via[name];
          if (!run) continue;
          Object.assign(run, { rps: (r.completed * 1000) / r.elapsedMs, errors: run.errors + r.errors });
          if (before !== null) run.split = { ...run.split, throughput: splitSince(before, await splitSnapshot(url)) };
        }
        rows.push(row);
      }
    }
    const names = VARIANTS.map((v) => v.name);
    return [
      '## Against a fast fake llama-server',
      '',
      `Each request asks for ${ANSWER_TOKENS} tokens, which the fake sends at once. Latency: one request at a time, first byte sent to last byte received, direct and through the gateway alternating in ${preset.rounds} rounds; "added" is the gateway's percentile minus the direct one. ✓/✗: the issue's target at ${TARGET.bodyLabel} (added p50 ≤ ${TARGET.addedP50} ms, p99 ≤ ${TARGET.addedP99} ms).`,
      ...gateways.notes,
      '',
      latencyTable(rows, names),
      '',
      `Closed loop, ${CONCURRENCY} requests in flight for ${preset.throughputMs / 1000} s each (the fake has ${2 * CONCURRENCY} slots, so no request needs to wait for one):`,
      '',
      throughputTable(rows, names, CONCURRENCY),
      '',
      'Where the gateway\'s time goes, from its own histograms: mean ms per request in analysis (slotkeeper_worker_task_seconds: parse and hash, plus the pool\'s queueing and transfer when in the worker) and waiting for a slot lease (slotkeeper_queue_wait_seconds), one request at a time and in the closed loop:',
      '',
      splitTable(rows, names, CONCURRENCY),
    ];
  } finally {
    await gateways.close();
    await fake.close();
  }
}

/** The gateway's event-loop delay while 200 slow streams are open and 1 MB prompts keep arriving. */
async function loopSection(client: ClientThread, preset: Preset): Promise<string[]> {
  const tokens = Math.ceil((preset.holdMs * 3) / STREAM_TOKEN_DELAY_MS);
  // A slot for every stream and big prompt: 200 streams are only open at once if 200 slots are leased.
  const fake = await startUpstreamThread({ answer: tokens, tokenDelayMs: STREAM_TOKEN_DELAY_MS, slots: STREAMS + 2 * preset.bigConcurrency });
  const gateways = await startGateways(fake.url, client);
  const runs: LoopRun[] = [];
  try {
    for (const [variant, gw] of gateways.live) {
      log(`overhead: event loop of ${variant.name}: ${STREAMS} streams held ${preset.holdMs} ms while 1 MB prompts arrive`);
      const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      let big: Promise<ClientResult> | undefined;
      const streams = client.run(
        // max_tokens set: the gateway expects each stream to hold its slot that long. Without it, it
        // expects a typical answer, and once that time has passed a busy slot scores like an idle one.
        { kind: 'streams', url: gw.url, body: { bytes: KB, stream: true, maxTokens: tokens }, count: STREAMS, holdMs: preset.holdMs, openTimeoutMs: 30_000 },
        () => {
          histogram.enable();
          // max_tokens 1: the answer comes after one token delay, so the loop is all about the upload and the analysis.
          big = client.run({ kind: 'throughput', url: gw.url, body: { bytes: KB * KB, stream: false, maxTokens: 1 }, concurrency: preset.bigConcurrency, durationMs: preset.holdMs - 500 });
        },
      );
      const held = await streams;
      const bigResult = big === undefined ? undefined : await big;
      histogram.disable();
      const delay = (q: number) => Math.max(0, histogram.percentile(q) / 1e6 - LOOP_RESOLUTION_MS);
      runs.push({
        variant: variant.name, p50: delay(50), p99: delay(99), max: Math.max(0, histogram.max / 1e6 - LOOP_RESOLUTION_MS),
        streamsHeld: held.completed, streamsWanted: STREAMS,
        bigPrompts: bigResult?.completed ?? 0, bigPromptErrors: bigResult?.errors ?? 0,
        bigPromptP50: percentile(bigResult?.latencies ?? [], 50), bigPromptP99: percentile(bigResult?.latencies ?? [], 99),
        seconds: (bigResult?.elapsedMs ?? 0) / 1000, firstError: held.firstError ?? bigResult?.firstError,
      });
    }
  } finally {
    await gateways.close();
    await fake.close();
  }
  const errors = runs.filter((r) => r.firstError !== undefined).map((r) => `${r.variant}: first error: ${r.firstError}`);
  return [
    '## Event loop under load',
    '',
    `${STREAMS} streams through the gateway, each getting a token every ${STREAM_TOKEN_DELAY_MS} ms from the fake (${(STREAMS * 1000) / STREAM_TOKEN_DELAY_MS} chunks/s), held open while ${preset.bigConcurrency} clients send 1 MB prompts (max_tokens 1) back to back. Delay of the gateway's main thread (perf_hooks.monitorEventLoopDelay at ${LOOP_RESOLUTION_MS} ms resolution, resolution subtracted), ms.`,
    ...gateways.notes,
    '',
    runs.length > 0 ? loopTable(runs) : '(not measured: the gateway does not forward yet)',
    ...errors.map((e) => `\n${e}`),
  ];
}

/** Direct vs through each variant against the real llama-server: a short prompt, max_tokens 1. */
async function realSection(client: ClientThread, preset: Preset): Promise<string[]> {
  log('overhead: starting llama-server (rig, tiny model, 4 slots)');
  const server = await rigServer({ preset: 'tiny', slots: 4 });
  const gateways = await startGateways(server.url, client);
  try {
    const rows: Row[] = [];
    for (const stream of [false, true]) {
      const spec: BodySpec = { bytes: 300, stream, maxTokens: 1 };
      log(`overhead: llama-server ${stream ? 'stream' : 'non-stream'}: latency × ${preset.real}`);
      const targets = { direct: server.url, ...Object.fromEntries(gateways.live.map(([v, gw]) => [v.name, gw.url])) };
      const latency = await latencyRounds(client, targets, spec, preset.real, preset.rounds);
      const row: Row = { body: '300 B', mode: stream ? 'stream' : 'non-stream', direct: latency.direct!, via: {} };
      for (const v of VARIANTS) row.via[v.name] = latency[v.name] ?? null;
      rows.push(row);
    }
    return [
      '## Against the real llama-server',
      '',
      'The rig\'s tiny model on 4 slots; a 300-byte chat prompt with max_tokens 1, one request at a time, direct and through the gateway alternating.',
      ...gateways.notes,
      '',
      latencyTable(rows, VARIANTS.map((v) => v.name)),
      '',
      'Mean ms per request in analysis and waiting for a slot lease, from the gateway\'s histograms:',
      '',
      splitTable(rows, VARIANTS.map((v) => v.name), null),
    ];
  } finally {
    await gateways.close();
    await server.stop();
  }
}

/** Every variant's gateway in front of `upstream`; the ones that do not forward yet are left out, with a note. */
async function startGateways(upstream: string, client: ClientThread) {
  const live: [Variant, Gateway][] = [];
  const all: Gateway[] = [];
  const notes: string[] = [];
  for (const variant of VARIANTS) {
    const gw = await startGateway(withDefaults({ port: 0, upstreams: [{ url: upstream }] }), variant.options);
    all.push(gw);
    const probe = await client.run({ kind: 'probe', url: gw.url, body: { bytes: KB, stream: false, maxTokens: 1 } });
    if (probe.status === 200) live.push([variant, gw]);
    else notes.push('', `${variant.name}: not measured, the gateway answered ${probe.status}: ${(probe.text ?? probe.firstError ?? '').slice(0, 200)}`);
  }
  return { live, notes, close: () => Promise.all(all.map((gw) => gw.close())).then(() => {}) };
}

/**
 * Latency of each target, one request at a time. The targets take turns in `rounds` blocks, so
 * drift (CPU frequency, GC, other load) falls on all of them alike. A short warm-up comes first.
 * Targets other than 'direct' are gateways, whose /metrics give the split of their time.
 */
async function latencyRounds(client: ClientThread, targets: Record<string, string>, body: BodySpec, count: number, rounds: number) {
  const runs: Record<string, PathRun> = {};
  const before: Record<string, SplitSnapshot> = {};
  for (const [name, url] of Object.entries(targets)) {
    await client.run({ kind: 'latency', url, body, count: Math.max(10, Math.ceil(count / 20)) });
    runs[name] = { latencies: [], errors: 0 };
    if (name !== 'direct') before[name] = await splitSnapshot(url);
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, url] of Object.entries(targets)) {
      const r = await client.run({ kind: 'latency', url, body, count: Math.ceil(count / rounds) });
      const run = runs[name]!;
      run.latencies.push(...r.latencies);
      run.errors += r.errors;
      run.firstError ??= r.firstError;
    }
  }
  for (const [name, run] of Object.entries(runs)) {
    const start = before[name];
    if (start !== undefined) run.split = { latency: splitSince(start, await splitSnapshot(targets[name]!)) };
    if (run.firstError !== undefined) log(`overhead: ${name}: ${run.errors} errors, first: ${run.firstError}`);
  }
  return runs;
}

/** The sums and counts of the gateway's analysis and slot-wait histograms. */
interface SplitSnapshot {
  analysisSum: number;
  analysisCount: number;
  waitSum: number;
  waitCount: number;
}

async function splitSnapshot(gatewayUrl: string): Promise<SplitSnapshot> {
  const m = await readMetrics(gatewayUrl);
  return {
    analysisSum: m.slotkeeper_worker_task_seconds_sum ?? NaN, analysisCount: m.slotkeeper_worker_task_seconds_count ?? NaN,
    waitSum: m.slotkeeper_queue_wait_seconds_sum ?? NaN, waitCount: m.slotkeeper_queue_wait_seconds_count ?? NaN,
  };
}

function splitSince(a: SplitSnapshot, b: SplitSnapshot): Split {
  return {
    analysisMs: (1000 * (b.analysisSum - a.analysisSum)) / (b.analysisCount - a.analysisCount),
    slotWaitMs: (1000 * (b.waitSum - a.waitSum)) / (b.waitCount - a.waitCount),
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`overhead: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
