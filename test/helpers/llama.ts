// Shared by integration tests: a real llama-server from the rig, and small HTTP helpers.
import { ensureLlamaServer } from '../../bench/rig/llama-cpp.js';
import { ensureModel } from '../../bench/rig/model.js';
import { type LlamaServer, type ServerOptions, startLlamaServer } from '../../bench/rig/server.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Starts llama-server (building it on first use) with a rig model preset, `tiny` by default. */
export async function rigServer(options: Partial<ServerOptions> & { preset?: string } = {}): Promise<LlamaServer> {
  const { preset = 'tiny', ...rest } = options;
  const binary = await ensureLlamaServer(log);
  const model = await ensureModel(preset, log);
  return startLlamaServer({ binary, model, ...rest });
}

/** Text of some hundreds of tokens for `n` of a few hundred, sharing nothing across seeds but the word stems. */
export const words = (seed: string, n: number): string => Array.from({ length: n }, (_, i) => `${seed}${i % 89} w${i}`).join(' ');

/** POSTs JSON and returns the parsed answer; a non-2xx status throws with the body. */
export async function postJson<T = any>(url: string, body: unknown, timeoutMs = 120_000): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} -> ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** A text completion's timings, and the tokens slotkeeper says it restored for it (x-slotkeeper-restored), as the disk-tier tests read them. */
export interface Completion { timings: { cache_n: number; prompt_n: number }; restored: number | null }

/** POSTs a 2-token, temperature-0 text completion of `prompt` to `gateway`; a non-200 throws with the body. */
export async function complete(gateway: { url: string }, prompt: string): Promise<Completion> {
  const res = await fetch(`${gateway.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, max_tokens: 2, temperature: 0 }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}: ${text}`);
  const restored = res.headers.get('x-slotkeeper-restored');
  return { ...(JSON.parse(text) as Omit<Completion, 'restored'>), restored: restored === null ? null : Number(restored) };
}
