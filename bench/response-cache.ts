// `npm run build && node dist/bench/response-cache.js [--quick]`
// The response cache over real HTTP, in the gateway itself (body read, worker analysis and
// hashing, model resolution, cache), before the fake llama-server:
//   1. latency one request at a time for 1 KB and 100 KB answers: straight to the fake, through
//      slotkeeper with the cache off, a miss
//      through the cache (x-slotkeeper-cache: refresh, so every request goes upstream and is
//      stored again), a warm hit (memory tier), and a hit read from disk (memoryBytes 0);
//   2. a burst of 50 identical streaming requests: upstream calls, whether every client got the
//      whole stream, and the followers' time to first byte against the stream's duration.
// Client, front and fake share this process (one event loop), so every number includes the
// client's own work; the hit target is 1 ms p50 at 100 KB.
import { Buffer } from 'node:buffer';
import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type PartialConfig, withDefaults } from '../src/config/config.js';
import { type Gateway, startGateway } from '../src/gateway.js';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { percentile } from './report/stats.js';

interface Answer { status: number; xCache: string; body: Buffer; startMs: number; firstByteMs: number; endMs: number }

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const startMs = performance.now();
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      let firstByteMs = 0;
      res.on('data', (c: Buffer) => {
        if (firstByteMs === 0) firstByteMs = performance.now();
        chunks.push(c);
      });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, xCache: String(res.headers['x-cache'] ?? '-'), body: Buffer.concat(chunks), startMs, firstByteMs, endMs: performance.now(),
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** slotkeeper in front of `upstream` with the response cache on. */
function startFront(upstream: string, responseCache: PartialConfig['responseCache'], enabled = true): Promise<Gateway> {
  return startGateway(withDefaults({ port: 0, upstreams: [{ url: upstream }], responseCache: { enabled, ...responseCache } }), { defaultMetrics: false });
}

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(3) : v.toFixed(1));

async function latencies(url: string, body: string, n: number, headers: Record<string, string> = {}, expect?: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const a = await post(url, body, headers);
    if (a.status !== 200) throw new Error(`status ${a.status}: ${a.body.toString().slice(0, 200)}`);
    if (expect !== undefined && a.xCache !== expect) throw new Error(`expected x-cache ${expect}, got ${a.xCache}`);
    if (i >= 20) out.push(a.endMs - a.startMs); // the first 20 warm the connection and the JIT
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
  const n = values.quick === true ? 200 : 1000;
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-bench-cache-'));
  console.log(`response cache bench: ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}, ${n} requests per cell, store in ${dir}\n`);

  // ---- 1. latency by answer size ----
  const rows: string[][] = [];
  for (const { label, tokens } of [{ label: '1 KB', tokens: 150 }, { label: '100 KB', tokens: 24_000 }]) {
    const fake = await startFakeUpstream({ answer: tokens, record: false });
    let front = await startFront(fake.url, { dir: join(dir, label.replace(' ', '')) });
    try {
      const body = JSON.stringify({ model: 'm', temperature: 0, messages: [{ role: 'user', content: `size ${label}` }] });
      const url = `${front.url}/v1/chat/completions`;
      const first = await post(url, body);
      const direct = await latencies(`${fake.url}/v1/chat/completions`, body, n);
      const plain = await startFront(fake.url, {}, false);
      const off = await latencies(`${plain.url}/v1/chat/completions`, body, n).finally(() => plain.close());
      const miss = await latencies(url, body, n, { 'x-slotkeeper-cache': 'refresh' }, 'MISS');
      await front.cache.settled();
      const hit = await latencies(url, body, n, {}, 'HIT');
      // The same store without its memory tier: every hit reads and hashes its file.
      await front.close();
      front = await startFront(fake.url, { dir: join(dir, label.replace(' ', '')), memoryBytes: 0 });
      const diskHit = await latencies(`${front.url}/v1/chat/completions`, body, n, {}, 'HIT');
      const cell = (v: number[]) => [ms(percentile(v, 50)), ms(percentile(v, 95))];
      rows.push([label, `${(first.body.length / 1024).toFixed(1)} KB`, ...cell(direct), ...cell(off), ...cell(miss), ...cell(hit), ...cell(diskHit)]);
    } finally {
      await front.close();
      await fake.close();
    }
  }
  printTable('Latency, one request at a time (ms, request sent → last body byte)',
    ['answer', 'bytes', 'fake p50', 'fake p95', 'cache off p50', 'cache off p95', 'miss p50', 'miss p95', 'hit p50', 'hit p95', 'disk hit p50', 'disk hit p95'], rows);

  // ---- 2. a burst of identical streams ----
  const clients = 50;
  const fake = await startFakeUpstream({ answer: 100, tokenDelayMs: 10 });
  const front = await startFront(fake.url, { dir: join(dir, 'burst') });
  try {
    const body = JSON.stringify({ model: 'm', temperature: 0, stream: true, messages: [{ role: 'user', content: 'burst' }] });
    const answers = await Promise.all(Array.from({ length: clients }, () => post(`${front.url}/v1/chat/completions`, body)));
    const calls = fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/chat/completions').length;
    const leader = answers.find((a) => a.xCache === 'MISS');
    if (leader === undefined) throw new Error('no client started the upstream call');
    const followers = answers.filter((a) => a !== leader);
    const whole = answers.every((a) => a.body.equals(leader.body) && a.body.toString().endsWith('data: [DONE]\n\n'));
    const streamMs = leader.endMs - leader.startMs;
    const ttfb = followers.map((a) => a.firstByteMs - a.startMs);
    const beforeEnd = followers.filter((a) => a.firstByteMs < leader.endMs - streamMs / 2).length;
    printTable(`A burst of ${clients} identical streaming requests (100 tokens, 10 ms apart)`, ['measure', 'value'], [
      ['upstream calls', String(calls)],
      ['x-cache', Object.entries(countBy(answers.map((a) => a.xCache))).map(([k, v]) => `${k} ${v}`).join(', ')],
      ['every client got the whole stream', whole ? `yes (${leader.body.length} bytes each)` : 'NO'],
      ['stream duration, leader (ms)', ms(streamMs)],
      ['followers\' time to first byte p50 / p95 / max (ms)', `${ms(percentile(ttfb, 50))} / ${ms(percentile(ttfb, 95))} / ${ms(Math.max(...ttfb))}`],
      ['followers whose first byte came in the stream\'s first half', `${beforeEnd} of ${followers.length}`],
    ]);
  } finally {
    await front.close();
    await fake.close();
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`${title}\n\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${rows.map(line).join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
