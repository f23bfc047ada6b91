// Context across model swaps: two models in one llama-swap swap group (the stand-in in
// test/helpers/llama-swap-stand-in.ts over real llama-servers of the rig's `bench` shape, two
// seeds), one conversation on each, alternating for a few turns, so every request swaps the
// other model out. Run once against the stand-in alone and once with slotkeeper in front (which
// saves the outgoing model's slot before the swap and restores it when that model comes back);
// prints one table, both runs side by side.
//
//   npm run build && node dist/bench/swap.js [--turns 3] [--tokens 1500] [--preset bench]
//
// "evaluated" is the turn's timings.prompt_n (tokens prefilled); "TTFB" is the time to the
// answer's first byte for a one-token, non-streamed answer: swap (model load), any restore, and
// the prefill.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { withDefaults } from '../src/config/config.js';
import { startGateway } from '../src/gateway.js';
import { PRESETS } from './rig/model.js';
import { startLlamaSwapStandIn } from '../test/helpers/llama-swap-stand-in.js';

interface Turn { model: string; evaluated: number; reused: number; ttfbMs: number }

const log = (line: string) => process.stderr.write(`${line}\n`);

async function ask(base: string, model: string, prompt: string): Promise<Turn> {
  const started = performance.now();
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt, max_tokens: 1, temperature: 0 }),
  });
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  let ttfbMs = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (chunks.length === 0) ttfbMs = performance.now() - started;
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!res.ok) throw new Error(`${model}: ${res.status} ${text}`);
  const { timings } = JSON.parse(text) as { timings: { prompt_n: number; cache_n: number } };
  return { model, evaluated: timings.prompt_n, reused: timings.cache_n, ttfbMs };
}

/** Items of about 7 tokens each on the rig's tokenizer (measured: 405 items, 2932 tokens). */
const words = (seed: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `${seed}${(from + i) % 97} w${from + i}`).join(' ');

/** Two conversations, one per model, alternating: each turn adds a short message to its own. */
async function run(base: string, seed: string, turns: number, tokens: number): Promise<Turn[]> {
  const items = Math.round(tokens / 7.2);
  const step = Math.round(120 / 7.2);
  const conversations = new Map([['m1', words(`${seed}x`, 0, items)], ['m2', words(`${seed}y`, 0, items)]]);
  const out: Turn[] = [];
  for (let t = 0; t < turns; t++) {
    for (const model of ['m1', 'm2']) {
      const prompt = `${conversations.get(model)!} ${words(`${seed}t${t}`, items + t * step, step)}`;
      conversations.set(model, prompt);
      out.push(await ask(base, model, prompt));
      log(`${seed} turn ${t + 1} ${model}: evaluated ${out.at(-1)!.evaluated}, reused ${out.at(-1)!.reused}, ${out.at(-1)!.ttfbMs.toFixed(0)} ms`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    turns: { type: 'string', default: '3' }, tokens: { type: 'string', default: '1500' }, preset: { type: 'string', default: 'bench' },
  } });
  const turns = Number(values.turns);
  const tokens = Number(values.tokens);
  const base = PRESETS[values.preset];
  if (base === undefined) throw new Error(`unknown preset ${values.preset}`);
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-bench-swap-'));
  log(`starting the llama-swap stand-in (two ${values.preset} models, one swap group)...`);
  const standIn = await startLlamaSwapStandIn({
    models: [{ id: 'm1', model: values.preset }, { id: 'm2', model: { ...base, seed: base.seed + 1 } }],
    server: { slots: 1, cacheRamMiB: 0, ctx: Math.round(tokens * 1.3) + turns * 300 + 512 },
    slotSavePath: dir,
  });
  try {
    // The same conversations both times: nothing carries over, since every turn restarts a server.
    const direct = await run(standIn.url, 'c', turns, tokens);
    const gateway = await startGateway(withDefaults({
      port: 0,
      upstreams: [{ url: standIn.url, kind: 'llama-swap', ramCacheTokens: 0, slotSaveDir: dir }],
    }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
    let kept: Turn[];
    try {
      kept = await run(gateway.url, 'c', turns, tokens);
    } finally {
      await gateway.close();
    }
    const sum = (xs: Turn[], f: (t: Turn) => number) => xs.reduce((s, t) => s + f(t), 0);
    const rows = direct.map((d, i) => {
      const k = kept[i]!;
      return `| ${Math.floor(i / 2) + 1} | ${d.model} | ${d.evaluated} | ${k.evaluated} | ${k.reused} | ${d.ttfbMs.toFixed(0)} | ${k.ttfbMs.toFixed(0)} | ${(d.ttfbMs / k.ttfbMs).toFixed(2)}× |`;
    });
    // The first turn of each model has nothing to restore: the steady state is the turns after.
    const later = (xs: Turn[]) => xs.slice(2);
    const out = [
      '| turn | model | evaluated, stand-in alone | evaluated, slotkeeper | reused, slotkeeper | TTFB ms, stand-in alone | TTFB ms, slotkeeper | TTFB ratio |',
      '|---:|---|---:|---:|---:|---:|---:|---:|',
      ...rows,
      `| all | | ${sum(direct, (t) => t.evaluated)} | ${sum(kept, (t) => t.evaluated)} | ${sum(kept, (t) => t.reused)} | ${sum(direct, (t) => t.ttfbMs).toFixed(0)} | ${sum(kept, (t) => t.ttfbMs).toFixed(0)} | ${(sum(direct, (t) => t.ttfbMs) / sum(kept, (t) => t.ttfbMs)).toFixed(2)}× |`,
      `| after turn 1 | | ${sum(later(direct), (t) => t.evaluated)} | ${sum(later(kept), (t) => t.evaluated)} | ${sum(later(kept), (t) => t.reused)} | ${sum(later(direct), (t) => t.ttfbMs).toFixed(0)} | ${sum(later(kept), (t) => t.ttfbMs).toFixed(0)} | ${(sum(later(direct), (t) => t.ttfbMs) / sum(later(kept), (t) => t.ttfbMs)).toFixed(2)}× |`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await standIn.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
