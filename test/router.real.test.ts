// Prefix copies on REAL llama-servers (issue #14): a long prefix that two requests share is
// computed once; the second request waits for it and has it restored into another slot, on the
// same server or on another one that shares the save directory. timings.cache_n proves it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../bench/rig/server.js';
import { withDefaults } from '../src/config/config.js';
import { type Gateway, startGateway } from '../src/gateway.js';
import { rigServer, words } from './helpers/llama.js';

// About 1,300 tokens: on the bench model a prefill of seconds, a copy of milliseconds.
const PREFIX = words('doc', 220);
// The leader's own part is long, so queueing behind it in its slot would destroy more than the
// short warm-up conversation in the free slot: the follower takes the free slot and a copy.
const LEADER = `${PREFIX} ${words('alpha', 60)}`;

interface Answer { status: number; promptN: number; cacheN: number; upstream: number; decision: string | null }

async function ask(gateway: Gateway, prompt: string, signal?: AbortSignal): Promise<Answer> {
  const res = await fetch(`${gateway.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, max_tokens: 2, temperature: 0 }),
    signal: signal ?? AbortSignal.timeout(120_000),
  });
  const body = await res.json() as { timings?: { prompt_n: number; cache_n: number } };
  return {
    status: res.status, promptN: body.timings?.prompt_n ?? -1, cacheN: body.timings?.cache_n ?? -1,
    upstream: Number(res.headers.get('x-slotkeeper-upstream')), decision: res.headers.get('x-slotkeeper-decision'),
  };
}

/** `servers` bench-model llama-servers of `slots` slots sharing one save directory, and a gateway in front. */
async function withFleet(servers: number, slots: number, body: (gateway: Gateway) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-copy-test-'));
  const started: LlamaServer[] = [];
  let gateway: Gateway | undefined;
  try {
    for (let i = 0; i < servers; i++) started.push(await rigServer({ preset: 'bench', slots, ctx: slots * 4096, cacheRamMiB: 0, slotSavePath: dir }));
    gateway = await startGateway(withDefaults({
      port: 0, upstreams: started.map((s) => ({ url: s.url, ramCacheTokens: 0, slotSaveDir: dir })),
      fleet: { probeIntervalMs: 200, probeTimeoutMs: 5_000 }, kv: { minSaveTokens: 16 },
    }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
    // Three unrelated conversations, one more than the slots of a server: an overwrite saves one,
    // which measures the model's KV bytes per token (no endpoint says it) for the copy estimates.
    for (const w of ['one', 'two', 'three'].slice(0, slots + 1)) assert.is((await ask(gateway, words(w, 12))).status, 200);
    await body(gateway);
  } catch (err) {
    for (const s of started) process.stderr.write(`\n--- llama-server log ---\n${s.log().slice(-3000)}\n`);
    throw err;
  } finally {
    await gateway?.close();
    await Promise.all(started.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

const test = suite('router: prefix copies on llama-server');

test('two requests sharing a long prefix, arriving together, prefill it once (one server, two slots)', () => withFleet(1, 2, async (gateway) => {
  const leader = ask(gateway, LEADER);
  await later(300);
  const follower = await ask(gateway, `${PREFIX} second user asks bravo`);
  const first = await leader;
  assert.is(first.status, 200);
  assert.is(follower.status, 200);
  // Queued behind the leader in its slot, or copied into the free one: either way it waits for
  // the prefix instead of prefilling it beside the leader.
  assert.ok(follower.decision === 'waited_for_prefix' || follower.decision === 'prefix_hit', `decision ${follower.decision}`);
  assert.ok(follower.cacheN >= 1_300, `the follower reused ${follower.cacheN} tokens (the shared prefix is about 1,400 of the leader's ${first.promptN})`);
  assert.ok(follower.promptN < 50, `the follower prefilled ${follower.promptN}`);
}));

test('a follower whose leader is aborted still gets its answer', () => withFleet(1, 2, async (gateway) => {
  const abort = new AbortController();
  const leader = ask(gateway, LEADER, abort.signal).catch((err: Error) => err);
  await later(300);
  const follower = ask(gateway, `${PREFIX} second user asks bravo`);
  await later(300);
  abort.abort();
  assert.instance(await leader, Error);
  const answer = await follower;
  assert.is(answer.status, 200);
  assert.ok(answer.promptN + answer.cacheN > 1_000, 'its whole prompt was processed');
}));

test.run();
