// `npm run build && node dist/bench/overhead.js [--quick] [--only fake,loop,llama]`
// What slotkeeper adds to a request, measured side by side in one run: the same client sends the
// same bodies straight to an upstream, through a bare Node proxy (the floor of any Node gateway)
// and through slotkeeper (started in this process, with request analysis in its worker pool, in a
// fixed pool, and inline; see overhead/fronts.ts), and the tables show each and the difference. Against a fast fake llama-server first
// (bodies of 1 KB, 100 KB and 1 MB, streamed and not: latency one request at a time, then
// closed-loop req/s), then the event-loop delay while 200 streams are open and 1 MB prompts keep
// arriving, then against the real llama-server with a short prompt and max_tokens 1.
//
// Threads: the fronts run on this main thread (slotkeeper's worker pool on its own threads); the
// client and the fake upstream each run in a worker thread, so the event-loop delay measured here
// is the front's alone. All of it shares the machine's cores, as a gateway shares them with its
// clients and its llama-server.
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { rigServer } from '../test/helpers/llama.js';
import type { BodySpec } from './overhead/bodies.js';
import type { ClientResult } from './overhead/client.js';
import { FRONTS, type LiveFront, startFronts } from './overhead/fronts.js';
import { type Target, latencyRounds, throughput } from './overhead/measure.js';
import { type LoopRun, type Row, TARGET, latencyTable, loopTable, splitTable, throughputTable } from './overhead/tables.js';
import { type ClientThread, startClientThread, startUpstreamThread } from './overhead/threads.js';
import { percentile } from './report/stats.js';

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

const log = (line: string) => process.stderr.write(`${line}\n`);
const FRONT_NAMES = FRONTS.map((f) => f.name);
const GATEWAY_NAMES = FRONTS.filter((f) => f.gateway).map((f) => f.name);

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
  const sections = new Set((values.only ?? 'fake,loop,llama').split(','));
  const unknown = [...sections].filter((name) => !['fake', 'loop', 'llama'].includes(name));
  if (unknown.length > 0) throw new Error(`--only takes fake, loop and llama, comma-separated; got ${unknown.join(', ')}`);
  const presetName = values.quick ? 'quick' : 'full';
  const preset = presets[presetName];
  const out: string[] = [
    `# slotkeeper overhead (${presetName})`, '',
    `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadAverage()} at the start. Fronts in-process; client and fake upstream in worker threads.`,
  ];
  const client = startClientThread();
  try {
    if (sections.has('fake')) out.push('', ...(await fakeSection(client, preset)));
    if (sections.has('loop')) out.push('', ...(await loopSection(client, preset)));
    if (sections.has('llama')) out.push('', ...(await realSection(client, preset)));
  } finally {
    await client.close();
  }
  out.push('', `Load average ${loadAverage()} at the end (other work on the machine falls on every column alike, but widens p99s).`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' / ');
}

function targetsOf(upstream: string, live: readonly LiveFront[]): Target[] {
  return [{ name: 'direct', url: upstream, gateway: false }, ...live.map((l) => ({ name: l.front.name, url: l.url, gateway: l.front.gateway }))];
}

/** Direct vs each front against the fast fake: latency one at a time, then req/s. */
async function fakeSection(client: ClientThread, preset: Preset): Promise<string[]> {
  // More slots than requests in flight: the gateway leases a slot per request and queues beyond,
  // which would measure its queue, not its overhead (the fake itself never queues).
  const fake = await startUpstreamThread({ answer: ANSWER_TOKENS, slots: 2 * CONCURRENCY });
  const fronts = await startFronts(fake.url, client);
  try {
    const targets = targetsOf(fake.url, fronts.live);
    const rows: Row[] = [];
    for (const [i, size] of SIZES.entries()) {
      for (const stream of [false, true]) {
        const spec: BodySpec = { bytes: size.bytes, stream, maxTokens: ANSWER_TOKENS };
        const count = preset.latency[i] ?? 100;
        log(`overhead: ${size.label} ${stream ? 'stream' : 'non-stream'}: latency × ${count}, then ${preset.throughputMs} ms closed loop`);
        const runs = await latencyRounds(client, targets, spec, count, preset.rounds);
        for (const t of targets) await throughput(client, t, runs[t.name]!, spec, CONCURRENCY, preset.throughputMs);
        rows.push({
          body: size.label, mode: stream ? 'stream' : 'non-stream', direct: runs.direct!,
          via: Object.fromEntries(FRONT_NAMES.map((name) => [name, runs[name] ?? null])),
        });
      }
    }
    return [
      '## Against a fast fake llama-server',
      '',
      `Each request asks for ${ANSWER_TOKENS} tokens, which the fake sends at once; every prompt is distinct from its first characters. Latency: one request at a time, first byte sent to last byte received, the targets taking turns in ${preset.rounds} rounds; "added" is a front's percentile minus the direct one. ✓/✗: the issue's target at ${TARGET.bodyLabel} (added p50 ≤ ${TARGET.addedP50} ms, p99 ≤ ${TARGET.addedP99} ms).`,
      ...fronts.notes,
      '',
      latencyTable(rows, FRONT_NAMES),
      '',
      `Closed loop, ${CONCURRENCY} requests in flight for ${preset.throughputMs / 1000} s each (the fake has ${2 * CONCURRENCY} slots, so no request needs to wait for one):`,
      '',
      throughputTable(rows, FRONT_NAMES, CONCURRENCY),
      '',
      'Where slotkeeper\'s time goes, from its own histograms: mean ms per request in analysis (slotkeeper_worker_task_seconds: parse and hash, plus the pool\'s queueing and transfer when in the worker) and waiting for a slot lease (slotkeeper_queue_wait_seconds), one request at a time and in the closed loop:',
      '',
      splitTable(rows, GATEWAY_NAMES, CONCURRENCY),
    ];
  } finally {
    await fronts.close();
    await fake.close();
  }
}

/** Each front's event-loop delay while 200 slow streams are open and 1 MB prompts keep arriving. */
async function loopSection(client: ClientThread, preset: Preset): Promise<string[]> {
  const tokens = Math.ceil((preset.holdMs * 3) / STREAM_TOKEN_DELAY_MS);
  // A slot for every stream and big prompt: 200 streams are only open at once if 200 slots are leased.
  const fake = await startUpstreamThread({ answer: tokens, tokenDelayMs: STREAM_TOKEN_DELAY_MS, slots: STREAMS + 2 * preset.bigConcurrency });
  const fronts = await startFronts(fake.url, client);
  const runs: LoopRun[] = [];
  try {
    for (const { front, url } of fronts.live) {
      log(`overhead: event loop of ${front.name}: ${STREAMS} streams held ${preset.holdMs} ms while 1 MB prompts arrive`);
      const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      let big: Promise<ClientResult> | undefined;
      const streams = client.run(
        // max_tokens as long as the answer: slotkeeper then expects each stream to hold its slot
        // past the test. Without it, it expects a typical answer, and once that time has passed a
        // busy slot scores like an idle one (wait 0), so new requests could queue behind streams.
        { kind: 'streams', url, body: { bytes: KB, stream: true, maxTokens: tokens }, count: STREAMS, holdMs: preset.holdMs, openTimeoutMs: 30_000 },
        () => {
          histogram.enable();
          // max_tokens 1: the answer comes one token delay later, so the loop's work is the upload and the analysis.
          big = client.run({ kind: 'throughput', url, body: { bytes: KB * KB, stream: false, maxTokens: 1 }, concurrency: preset.bigConcurrency, durationMs: preset.holdMs - 500 });
        },
      );
      const held = await streams;
      const bigResult = big === undefined ? undefined : await big;
      histogram.disable();
      const delay = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
      runs.push({
        variant: front.name, p50: delay(histogram.percentile(50)), p99: delay(histogram.percentile(99)), max: delay(histogram.max),
        streamsHeld: held.completed, streamsWanted: STREAMS, openSeconds: (held.openMs ?? NaN) / 1000,
        bigPrompts: bigResult?.completed ?? 0, bigPromptErrors: bigResult?.errors ?? 0,
        bigPromptP50: percentile(bigResult?.latencies ?? [], 50), bigPromptP99: percentile(bigResult?.latencies ?? [], 99),
        seconds: (bigResult?.elapsedMs ?? 0) / 1000, firstError: held.firstError ?? bigResult?.firstError,
      });
    }
  } finally {
    await fronts.close();
    await fake.close();
  }
  const errors = runs.filter((r) => r.firstError !== undefined).map((r) => `- ${r.variant}: first error: ${r.firstError}`);
  return [
    '## Event loop under load',
    '',
    `${STREAMS} streams through each front, opened one after the other, each getting a token every ${STREAM_TOKEN_DELAY_MS} ms from the fake (${(STREAMS * 1000) / STREAM_TOKEN_DELAY_MS} chunks/s), held open while ${preset.bigConcurrency} clients send 1 MB prompts (max_tokens 1) back to back. Delay of this main thread, where the front runs (perf_hooks.monitorEventLoopDelay at ${LOOP_RESOLUTION_MS} ms resolution, resolution subtracted), ms.`,
    ...fronts.notes,
    '',
    runs.length > 0 ? loopTable(runs) : '(not measured: no front forwards)',
    ...(errors.length > 0 ? ['', ...errors] : []),
  ];
}

/** Direct vs each front against the real llama-server: a short prompt, max_tokens 1. */
async function realSection(client: ClientThread, preset: Preset): Promise<string[]> {
  log('overhead: starting llama-server (rig, tiny model, 4 slots)');
  const server = await rigServer({ preset: 'tiny', slots: 4 });
  const fronts = await startFronts(server.url, client);
  try {
    const targets = targetsOf(server.url, fronts.live);
    const rows: Row[] = [];
    const notes: string[] = [];
    for (const stream of [false, true]) {
      const spec: BodySpec = { bytes: 300, stream, maxTokens: 1 };
      log(`overhead: llama-server ${stream ? 'stream' : 'non-stream'}: latency × ${preset.real}`);
      // Turns of 4 requests: llama-server's own latency drifts by milliseconds (its threads and
      // ours share 2 cores), so long blocks would put that drift between the targets.
      const runs = await latencyRounds(client, targets, spec, preset.real, preset.real / 4);
      const mode = stream ? 'stream' : 'non-stream';
      rows.push({ body: '300 B', mode, direct: runs.direct!, via: Object.fromEntries(FRONT_NAMES.map((name) => [name, runs[name] ?? null])) });
      for (const [name, run] of Object.entries(runs)) {
        if (run.retries) notes.push(`${name}, ${mode}: ${run.retries} requests sent again by the client because llama-server had closed their kept-alive socket after a streamed answer (timed from the retry).`);
        if (run.firstError !== undefined) notes.push(`${name}, ${mode}: ${run.errors} errors, the first: ${run.firstError.slice(0, 240)}`);
      }
    }
    return [
      '## Against the real llama-server',
      '',
      'The rig\'s tiny model on 4 slots; a 300-byte chat prompt (distinct per request) with max_tokens 1, one request at a time, the targets taking turns of 4 requests.',
      ...fronts.notes,
      '',
      latencyTable(rows, FRONT_NAMES),
      '',
      'Mean ms per request in analysis and waiting for a slot lease, from slotkeeper\'s histograms:',
      '',
      splitTable(rows, GATEWAY_NAMES, null),
      ...(notes.length > 0 ? ['', ...notes.map((n) => `- ${n}`)] : []),
    ];
  } finally {
    await fronts.close();
    await server.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`overhead: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
