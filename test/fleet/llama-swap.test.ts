// slotkeeper in front of llama-swap: two models in one swap group, REAL llama-servers behind the
// stand-in (test/helpers/llama-swap-stand-in.ts). A request for m2 stops m1's server; without
// slotkeeper, m1's next turn prefills its whole conversation again; with it, m1's slot was saved
// before the swap and is restored when m1 comes back (timings.cache_n proves the reuse).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { words } from '../helpers/llama.js';
import { type LlamaSwapStandIn, startLlamaSwapStandIn, tinyVariant } from '../helpers/llama-swap-stand-in.js';
import { metric } from '../helpers/metrics.js';

interface Completion { timings: { cache_n: number; prompt_n: number } }

async function complete(base: string, model: string, prompt: string): Promise<Completion> {
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt, max_tokens: 2, temperature: 0, cache_prompt: true }),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}: ${text}`);
  return JSON.parse(text) as Completion;
}


/** A conversation on m1, a request for m2 (the swap), then m1's next turn: its response. */
async function swapSequence(base: string, seed: string): Promise<{ first: Completion; back: Completion }> {
  const a = words(`${seed}a`, 450);
  const first = await complete(base, 'm1', a);
  await complete(base, 'm2', words(`${seed}b`, 120));
  const back = await complete(base, 'm1', `${a} and the next turn`);
  return { first, back };
}

let standIn: LlamaSwapStandIn | undefined;

const test = suite('fleet: llama-swap (stand-in) with real llama-servers');

test.before(async () => {
  standIn = await startLlamaSwapStandIn({
    models: [{ id: 'm1', model: 'tiny' }, { id: 'm2', model: tinyVariant(2) }],
    // One slot, no RAM cache: reuse after a swap can only come from a restore.
    server: { slots: 1, cacheRamMiB: 0 },
  });
});

test.after(async () => {
  await standIn?.stop();
});

test('without slotkeeper, a swap loses the conversation: the next turn prefills it all again', async () => {
  const { first, back } = await swapSequence(standIn!.url, 'direct');
  assert.ok(first.timings.prompt_n > 1500, `the conversation is ${first.timings.prompt_n} tokens`);
  assert.ok(back.timings.cache_n < 64, `after the swap only ${back.timings.cache_n} tokens were reused`);
  assert.equal(standIn!.loads.slice(-3), ['m1', 'm2', 'm1'], 'each request swapped the model');
});

test('with slotkeeper, m1 is saved before the swap and restored when it comes back', async () => {
  const lines: string[] = [];
  const gateway = await startGateway(withDefaults({
    port: 0,
    upstreams: [{ url: standIn!.url, kind: 'llama-swap', ramCacheTokens: 0, slotSaveDir: standIn!.slotSavePath }],
    kv: { minSaveTokens: 64 },
  }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 }, log: (l) => lines.push(l) });
  try {
    assert.equal(gateway.fleet.upstreams[0]!.models, ['m1', 'm2'], 'models come from llama-swap\'s /v1/models');
    const loadsBefore = standIn!.loads.length;
    const expectedLoads = standIn!.loaded() === 'm1' ? ['m2', 'm1'] : ['m1', 'm2', 'm1'];
    const { first, back } = await swapSequence(gateway.url, 'kept');
    assert.ok(first.timings.prompt_n > 1500);
    assert.ok(back.timings.cache_n >= first.timings.prompt_n - 8, `reused ${back.timings.cache_n} of ${first.timings.prompt_n} after the swap`);
    assert.is(await metric(gateway, 'slotkeeper_kv_restore_verifications_total', { result: 'reused' }), 1);
    // m1 before m2 came in, m2 before m1 came back.
    assert.is(await metric(gateway, 'slotkeeper_kv_saves_total', { result: 'ok' }), 2, lines.join('\n'));
    assert.equal(standIn!.loads.slice(loadsBefore), expectedLoads, 'saves, restores and probes never loaded a model on their own');
  } finally {
    await gateway.close();
  }
});

test('an alias, or no model at all, reaches llama-swap as the model it resolves to', async () => {
  const gateway = await startGateway(withDefaults({
    port: 0, upstreams: [{ url: standIn!.url, kind: 'llama-swap', ramCacheTokens: 0 }],
    aliases: { 'gpt-4o': 'm1' }, defaultModel: 'm1', kv: { enabled: false },
  }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
  try {
    for (const model of ['gpt-4o', undefined]) {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...(model ? { model } : {}), messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 0 }),
      });
      assert.is(res.status, 200, `${model ?? 'no model'}: ${await res.clone().text()}`);
      assert.is(standIn!.loaded(), 'm1');
      await res.arrayBuffer();
    }
  } finally {
    await gateway.close();
  }
});

test('slots belong to a model: a swap does not make m2 look like it holds m1\'s conversation', async () => {
  const gateway = await startGateway(withDefaults({
    port: 0,
    upstreams: [{ url: standIn!.url, kind: 'llama-swap', ramCacheTokens: 0 }],
    kv: { enabled: false },
  }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
  try {
    const a = words('scope', 300);
    await complete(gateway.url, 'm1', a);
    // The same prompt on m2: its own server never saw it, so it is a cold start there, not a hit.
    const res = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm2', prompt: a, max_tokens: 2, temperature: 0 }),
    });
    assert.is(res.status, 200);
    assert.is(res.headers.get('x-slotkeeper-decision'), 'cold');
    const body = await res.json() as Completion;
    assert.ok(body.timings.cache_n < 64);
    assert.is(await metric(gateway, 'slotkeeper_index_corrections_total'), 0, 'no belief had to be corrected');
  } finally {
    await gateway.close();
  }
});

test.run();
