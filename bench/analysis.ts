// Micro-benchmark: what request analysis costs, and where. For realistic chat bodies of ~1 KB,
// ~100 KB and ~1 MB (a tools array, many user/assistant/tool turns) it times, per call:
//   JSON.parse     parsing the decoded text alone, the floor any analysis pays;
//   blockHashes    hashing the canonical prompt alone;
//   analyze        the whole worker task in-process (decode, parse, canonicalize, hash, layout);
//   pool           analyze through a real one-thread piscina pool, round trip incl. both transfers;
//   score 16       the main-thread alternative to scoring in the worker: for each of 16 slot
//                  chains, a binary search for the longest common run of hashes.
// Ratios matter more than absolute times (the machine is shared). Run: node dist/bench/analysis.js
import { createWorkerPool } from '../src/worker-pool.js';
import { analyzeRequest } from '../workers/analyze.js';
import { blockHashes } from '../workers/block-hash.js';
import { canonicalPrompt } from '../workers/canonical.js';

const BLOCK_CHARS = 256;
const SLOTS = 16;
const SIZES = [
  { label: '1 KB', bytes: 1024, iterations: 5000 },
  { label: '100 KB', bytes: 100 * 1024, iterations: 1000 },
  { label: '1 MB', bytes: 1024 * 1024, iterations: 200 },
];
// Scoring takes well under a microsecond; time it in batches so the timer does not dominate.
const SCORE_BATCH = 100;

// A seeded generator, so every run benchmarks the same bodies.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORDS = 'the a function returns file line error test value config slot cache prompt token server request build module import type string number array object'.split(' ');

function sentence(next: () => number, words: number): string {
  return Array.from({ length: words }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ');
}

// A coding-agent conversation: a system prompt, ten tools, then turns until the body is `bytes`.
function chatBody(bytes: number): string {
  const next = random(bytes);
  const tools = Array.from({ length: Math.min(10, Math.ceil(bytes / 2048)) }, (_, i) => ({
    type: 'function',
    function: {
      name: `tool_${i}`,
      description: sentence(next, 20),
      parameters: { type: 'object', properties: { path: { type: 'string', description: sentence(next, 8) } }, required: ['path'] },
    },
  }));
  const messages: unknown[] = [{ role: 'system', content: sentence(next, 40) }];
  const body = { model: 'qwen', stream: true, temperature: 0.2, max_tokens: 512, tools, messages };
  let size = JSON.stringify(body).length;
  for (let turn = 0; size < bytes; turn++) {
    const id = `call_${turn}`;
    const batch = [
      { role: 'user', content: sentence(next, 30) },
      { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'tool_0', arguments: '{"path":"src/a.ts"}' } }] },
      { role: 'tool', tool_call_id: id, content: sentence(next, 150) },
      { role: 'assistant', content: sentence(next, 40) },
    ];
    for (const message of batch) {
      messages.push(message);
      size += JSON.stringify(message).length + 1;
      if (size >= bytes) break;
    }
  }
  return JSON.stringify(body);
}

/**
 * Times `fn` `iterations` times after a warm-up; returns per-call ms, sorted. `prepare` runs
 * before the clock starts and hands `fn` its input; `per` divides a batched sample.
 */
async function time<T>(iterations: number, fn: (input: T) => unknown, prepare: () => T, per = 1): Promise<number[]> {
  for (let i = 0; i < Math.min(50, iterations); i++) await fn(prepare());
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const input = prepare();
    const start = process.hrtime.bigint();
    await fn(input);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6 / per);
  }
  return samples.sort((a, b) => a - b);
}

const none = () => undefined;

// Nearest rank: always one of the samples.
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function cell(sorted: number[]): string {
  const format = (ms: number) => (ms < 0.1 ? `${(ms * 1000).toFixed(2)} µs` : `${ms.toFixed(3)} ms`);
  return `${format(percentile(sorted, 50))} / ${format(percentile(sorted, 99))}`;
}

// Length of the longest common run of two hash chains. Chained hashes mean a match at i implies
// matches before it, so the boundary can be binary-searched: O(log blocks) comparisons.
function commonRun(a: Float64Array, b: Float64Array): number {
  let lo = 0;
  let hi = Math.min(a.length, b.length);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] === b[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Slot chains that share 0..100 % of the request's blocks, then diverge.
function slotChains(hashes: Float64Array): Float64Array[] {
  return Array.from({ length: SLOTS }, (_, slot) => {
    const chain = hashes.slice();
    for (let i = Math.floor((hashes.length * slot) / (SLOTS - 1)); i < chain.length; i++) chain[i] = -1 - i;
    return chain;
  });
}

const encoder = new TextEncoder();
const pool = createWorkerPool({ minThreads: 1, maxThreads: 1 });
const header = ['body', 'bytes', 'blocks', 'JSON.parse', 'blockHashes', 'analyze', 'pool', `score ${SLOTS}`, 'analyze ÷ parse', 'pool ÷ analyze'];
const rows: string[][] = [];
try {
  for (const { label, bytes, iterations } of SIZES) {
    const text = chatBody(bytes);
    const body = encoder.encode(text).buffer;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const canonical = canonicalPrompt(parsed, 'chat');
    if (!canonical.ok) throw new Error(canonical.message);
    const task = { body, route: 'chat' as const, blockChars: BLOCK_CHARS };
    const result = analyzeRequest(task);
    if (!result.ok) throw new Error(result.message);
    const chains = slotChains(result.hashes);
    let sink = 0;

    const parse = await time(iterations, () => JSON.parse(text), none);
    const hash = await time(iterations, () => blockHashes(canonical.text, BLOCK_CHARS), none);
    const whole = await time(iterations, () => analyzeRequest(task), none);
    // Each call transfers its body away, so the copy is made before the clock starts.
    const viaPool = await time(iterations, (copy: ArrayBuffer) => pool.analyze(copy), () => body.slice(0));
    const score = await time(
      Math.max(200, iterations),
      () => {
        for (let n = 0; n < SCORE_BATCH; n++) for (const chain of chains) sink += commonRun(result.hashes, chain);
      },
      none,
      SCORE_BATCH,
    );
    if (sink < 0) console.log(sink); // keeps the scoring loop from being optimized away

    rows.push([
      label,
      String(body.byteLength),
      String(result.hashes.length),
      cell(parse),
      cell(hash),
      cell(whole),
      cell(viaPool),
      cell(score),
      (percentile(whole, 50) / percentile(parse, 50)).toFixed(2),
      (percentile(viaPool, 50) / percentile(whole, 50)).toFixed(2),
    ]);
  }
} finally {
  await pool.destroy();
}

console.log(`p50 / p99 per call; blockChars ${BLOCK_CHARS}; node ${process.version}\n`);
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
