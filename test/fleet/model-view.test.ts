// A multi-model upstream as the fleet hands it out: one view per model with its own slot scope,
// and the swap question asked just before a request (Fleet.beforeRun), against a scripted
// llama-swap. The real thing, through the stand-in, is in llama-swap.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../../src/config/config.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { ModelView } from '../../src/fleet/model-view.js';

/** A llama-server serving p at plain:1, and a llama-swap serving m1 and m2 whose /running answers `running()`; records the paths asked. */
function llamaSwap(running: () => string[], seen: string[] = []): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = new URL(String(input));
    seen.push(url.pathname);
    const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200 });
    if (url.pathname === '/health') return new Response('OK', { status: 200 });
    if (url.pathname === '/v1/models' && url.host === 'plain:1') return json({ object: 'list', data: [{ id: 'p', object: 'model' }] });
    if (url.pathname === '/v1/models') return json({ object: 'list', data: [{ id: 'm1', object: 'model' }, { id: 'm2', object: 'model' }] });
    if (url.pathname === '/running') return json({ running: running().map((model) => ({ model, state: 'ready' })) });
    if (url.pathname === '/upstream/m1/props') return json({ total_slots: 3, default_generation_settings: { n_ctx: 2048 } });
    if (url.pathname === '/upstream/m1/slots') return json([{ id: 0, n_ctx: 2048 }, { id: 1, n_ctx: 2048 }, { id: 2, n_ctx: 2048 }]);
    return new Response('404 page not found', { status: 404 });
  }) as typeof fetch;
}

async function fleetWith(running: () => string[], seen?: string[]): Promise<Fleet> {
  const fleet = new Fleet(withDefaults({
    upstreams: [{ url: 'http://plain:1' }, { url: 'http://swap:2', kind: 'llama-swap' }],
  }), { fetch: llamaSwap(running, seen), setTimer: () => () => {} });
  await fleet.start();
  return fleet;
}

const test = suite('fleet: model views of a multi-model upstream');

test('each model gets a view with the upstream\'s id and URL but its own slot scope and slots', async () => {
  let loaded = ['m1'];
  const fleet = await fleetWith(() => loaded);
  const m1 = fleet.resolveModel('m1').upstreams[0] as ModelView;
  const m2 = fleet.resolveModel('m2').upstreams[0] as ModelView;
  assert.instance(m1, ModelView);
  assert.instance(m2, ModelView);
  assert.is(m1!.id, 1);
  assert.is(m2!.id, 1);
  assert.ok(m1!.slotScope >= 2 && m2!.slotScope >= 2 && m1!.slotScope !== m2!.slotScope, 'scopes never collide with config indices or each other');
  assert.is(fleet.resolveModel('m1').upstreams[0], m1, 'the same view every time');
  assert.is(fleet.resolveModel('p').upstreams[0], fleet.upstreams[0], 'a plain llama-server is routed as itself');
  assert.equal(m1!.slotIds, [0, 1, 2], 'm1 was loaded: its slots were read through /upstream/m1/');
  assert.equal(m2!.slotIds, [0], 'm2 was never loaded: one slot until seen');
  loaded = [];
  await fleet.close();
});

test('beforeRun: a cold model, and the loaded one it will swap out', async () => {
  let loaded = ['m1'];
  const seen: string[] = [];
  const fleet = await fleetWith(() => loaded, seen);
  const m2 = fleet.resolveModel('m2').upstreams[0]!;
  const swap = await fleet.beforeRun(m2, 'm2');
  assert.is(swap.cold, true);
  assert.equal(swap.evicted.map((v) => (v as ModelView).model), ['m1']);
  assert.not.ok(seen.some((p) => p.startsWith('/upstream/m2')), 'nothing asked of a model that is not loaded');
  loaded = ['m2'];
  assert.equal(await fleet.beforeRun(m2, 'm2'), { cold: false, evicted: [] });
  assert.equal(fleet.upstreams[1]!.loaded, ['m2'], 'the loaded set read before a request is kept');
  await fleet.close();
});

test('beforeRun on a plain llama-server asks nothing and swaps nothing', async () => {
  const seen: string[] = [];
  const fleet = await fleetWith(() => [], seen);
  const before = seen.length;
  assert.equal(await fleet.beforeRun(fleet.upstreams[0]!, 'p'), { cold: false, evicted: [] });
  assert.is(seen.length, before);
  await fleet.close();
});

test('routables: plain servers, and views of loaded models only (a save on another would load it)', async () => {
  const fleet = await fleetWith(() => ['m2']);
  const out = fleet.routables();
  assert.is(out[0], fleet.upstreams[0]);
  assert.equal(out.slice(1).map((v) => (v as ModelView).model), ['m2']);
  await fleet.close();
});

test('a request failure on a view drains its upstream', async () => {
  const fleet = await fleetWith(() => []);
  const view = fleet.resolveModel('m1').upstreams[0]!;
  fleet.reportFailure(view, new Error('socket hang up'));
  assert.is(fleet.upstreams[1]!.state, 'draining');
  await fleet.close();
});

test.run();
