// Restore vs recompute: how long a llama-server takes to get a slot back to a prefix of N
// tokens by prefilling it again, against restoring it from a slot-save file, on the rig's
// `bench` model (12,288 bytes of KV per token). Prints one table, sizes side by side.
//
//   npm run build && node dist/bench/kv-restore.js [--sizes 2048,8192] [--repeat 3]
//
// "first token after restore" is the restore call plus the request that follows it (which
// evaluates only the prompt's last token), i.e. what a client waits for on the disk tier's path.
// That last token's evaluation is one decode step, which costs the same whether the slot's KV was
// restored or kept: the control column sends the prompt again to a slot that never lost it.
import { parseArgs } from 'node:util';
import { ensureLlamaServer } from './rig/llama-cpp.js';
import { ensureModel } from './rig/model.js';
import { type LlamaServer, startLlamaServer } from './rig/server.js';

interface Timings { prompt_n: number; prompt_ms: number; cache_n: number }

const log = (line: string) => process.stderr.write(`${line}\n`);

async function post<T>(url: string, body: unknown): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} -> ${res.status}: ${text}`);
  return { value: JSON.parse(text) as T, ms: performance.now() - started };
}

/** A prompt of about `tokens` tokens for the rig's tokenizer, sized with /tokenize. */
async function promptOf(server: LlamaServer, tokens: number, seed: string): Promise<string> {
  const words = (n: number) => Array.from({ length: n }, (_, i) => `${seed}${i % 101} w${i}`).join(' ');
  let n = Math.round(tokens / 3);
  for (let i = 0; i < 6; i++) {
    const { value } = await post<{ tokens: number[] }>(`${server.url}/tokenize`, { content: words(n) });
    if (Math.abs(value.tokens.length - tokens) < tokens * 0.01) break;
    n = Math.max(1, Math.round(n * tokens / value.tokens.length));
  }
  return words(n);
}

const completion = (server: LlamaServer, prompt: string) =>
  post<{ timings: Timings }>(`${server.url}/completion`, { prompt, n_predict: 1, temperature: 0, id_slot: 0, cache_prompt: true });
const action = <T>(server: LlamaServer, name: string, filename?: string) =>
  post<T>(`${server.url}/slots/0?action=${name}`, filename === undefined ? {} : { filename });

interface Row {
  tokens: number; recomputeMs: number; restoreCallMs: number; firstTokenMs: number;
  evalAfterRestoreMs: number; evalKeptMs: number; saveMs: number; fileMB: number; cacheN: number;
}

async function measure(server: LlamaServer, tokens: number, repeat: number): Promise<Row> {
  const prompt = await promptOf(server, tokens, `s${tokens}`);
  const recompute: number[] = [];
  let prefilled = 0;
  for (let i = 0; i < repeat; i++) {
    await action(server, 'erase');
    const { value } = await completion(server, prompt);
    recompute.push(value.timings.prompt_ms);
    prefilled = value.timings.prompt_n;
  }
  // Control: the slot still holds the prompt, so this evaluates its last token only.
  const kept: number[] = [];
  for (let i = 0; i < repeat; i++) kept.push((await completion(server, prompt)).value.timings.prompt_ms);
  const file = `bench-${tokens}.bin`;
  const saved = await action<{ n_written: number; timings: { save_ms: number } }>(server, 'save', file);
  const call: number[] = [];
  const first: number[] = [];
  const evalRestored: number[] = [];
  let cacheN = 0;
  for (let i = 0; i < repeat; i++) {
    await action(server, 'erase');
    const r = await action(server, 'restore', file);
    const c = await completion(server, prompt);
    call.push(r.ms);
    first.push(r.ms + c.value.timings.prompt_ms);
    evalRestored.push(c.value.timings.prompt_ms);
    cacheN = c.value.timings.cache_n;
  }
  return {
    tokens: prefilled, recomputeMs: median(recompute), restoreCallMs: median(call),
    firstTokenMs: median(first), evalAfterRestoreMs: median(evalRestored), evalKeptMs: median(kept), saveMs: saved.value.timings.save_ms, fileMB: saved.value.n_written / 1e6, cacheN,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '2048,8192' }, repeat: { type: 'string', default: '3' } } });
  const sizes = values.sizes.split(',').map(Number);
  const repeat = Number(values.repeat);
  const binary = await ensureLlamaServer(log);
  const model = await ensureModel('bench', log);
  const server = await startLlamaServer({ binary, model, slots: 1, cacheRamMiB: 0, ctx: Math.max(...sizes) + 1024 });
  try {
    const rows: Row[] = [];
    for (const size of sizes) {
      log(`measuring ${size} tokens (${repeat}× prefill, ${repeat}× restore)...`);
      rows.push(await measure(server, size, repeat));
    }
    const out = [
      '| prefix tokens | recompute (prefill) ms | restore call ms | restore vs recompute | last-token eval ms, restored / kept | first token after restore ms | end to end | reused after restore | save ms | file MB |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.tokens} | ${r.recomputeMs.toFixed(0)} | ${r.restoreCallMs.toFixed(1)} | ${(r.recomputeMs / r.restoreCallMs).toFixed(0)}× | ${r.evalAfterRestoreMs.toFixed(0)} / ${r.evalKeptMs.toFixed(0)} | ${r.firstTokenMs.toFixed(1)} | ${(r.recomputeMs / r.firstTokenMs).toFixed(0)}× | ${r.cacheN} | ${r.saveMs.toFixed(0)} | ${r.fileMB.toFixed(1)} |`),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
