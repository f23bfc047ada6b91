// The fleet against real llama-servers: discovery, model resolution, a server going away, a
// request-path failure, API keys, and a server that falls asleep.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../../bench/rig/server.js';
import { type PartialConfig, type UpstreamConfig, withDefaults } from '../../src/config/config.js';
import { SlotkeeperError } from '../../src/errors.js';
import { Fleet } from '../../src/fleet/fleet.js';
import type { Upstream, UpstreamState } from '../../src/fleet/upstream.js';
import { rigServer } from '../helpers/llama.js';
import { setup } from '../helpers/setup.js';
import { exitIfStillRunningAfter } from '../helpers/watchdog.js';

exitIfStillRunningAfter(180_000, import.meta.url);

// --- helpers -------------------------------------------------------------------------------

function fleetOf(upstreams: UpstreamConfig[], over: PartialConfig = {}, fetchImpl?: typeof fetch): Fleet {
  const config = withDefaults({ upstreams, ...over });
  return new Fleet(config, fetchImpl === undefined ? {} : { fetch: fetchImpl });
}

/** Resolves once `predicate` holds, checked now and after every fleet change; rejects after `ms`. */
function until(fleet: Fleet, predicate: () => boolean, what: string, ms = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => { off(); reject(new Error(`no ${what} within ${ms} ms`)); }, ms);
    const off = fleet.onChange(() => {
      if (predicate()) { clearTimeout(timer); off(); resolve(); }
    });
  });
}

function throwsCode(fn: () => unknown, code: string, status: number): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, SlotkeeperError);
    assert.is((err as SlotkeeperError).code, code);
    assert.is((err as SlotkeeperError).status, status);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

const ids = (upstreams: readonly { id: number }[]) => upstreams.map((u) => u.id);

// --- two servers: discovery, resolution, one going away --------------------------------------

let a: LlamaServer | undefined;
let b: LlamaServer | undefined;
let pair: Fleet | undefined;
/** The states upstream 1 went through, in order. */
const statesOfB: UpstreamState[] = [];

const two = suite('fleet: two servers');
setup(two, async () => {
  [a, b] = await Promise.all([
    rigServer({ slots: 2, cacheRamMiB: 0 }),
    rigServer({ slots: 3, cacheRamMiB: 0, extraArgs: ['--alias', 'tinyB,tinyC'] }),
  ]);
  pair = fleetOf([{ url: a.url }, { url: b.url }], { aliases: { 'gpt-4o': 'tinyB' }, fleet: { probeIntervalMs: 100 } });
  pair.onChange((u) => { if (u.id === 1) statesOfB.push(u.state); });
  await pair.start();
});
two.after(async () => {
  await pair?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

two('start resolves with both ready: slots, n_ctx and models discovered', () => {
  const [ua, ub] = pair!.upstreams;
  assert.is(ua!.state, 'ready');
  assert.is(ub!.state, 'ready');
  assert.equal(ua!.slotIds, [0, 1]);
  assert.equal(ub!.slotIds, [0, 1, 2]);
  assert.is(ua!.nCtx, 4096);
  assert.is(ub!.nCtx, 4096);
  assert.is(ua!.models.length, 1);
  assert.match(ua!.models[0]!, /\.gguf$/, 'without --alias llama-server names the model by its path');
  assert.equal(ub!.models, ['tinyB']);
  assert.equal(ub!.modelInfo[0]!.aliases, ['tinyB', 'tinyC']);
  assert.is(ua!.generation, 1);
  assert.is(ub!.generation, 1);
  assert.ok(ua!.lastSeenAt !== null);
});

two('resolves ids, server-side aliases and config aliases to the servers serving them', () => {
  const f = pair!;
  const path = f.upstreams[0]!.models[0]!;
  assert.equal(ids(f.resolveModel(path).upstreams), [0]);
  assert.equal(ids(f.resolveModel('tinyB').upstreams), [1]);
  assert.is(f.resolveModel('tinyC').model, 'tinyB');
  assert.equal(ids(f.resolveModel('gpt-4o').upstreams), [1]);
  throwsCode(() => f.resolveModel('mistral'), 'model_not_found', 404);
  throwsCode(() => f.resolveModel(null), 'model_not_found', 404);
});

two('lists the models of both servers and the alias', () => {
  const list = pair!.modelList();
  assert.is(list.object, 'list');
  assert.equal(list.data.map((m) => m.id), [pair!.upstreams[0]!.models[0]!, 'tinyB', 'gpt-4o']);
  for (const m of list.data) {
    assert.is(m.object, 'model');
    assert.is(m.owned_by, 'llamacpp');
    assert.type(m.created, 'number');
  }
});

two('a server that stops is draining, then down, and requests go to the other', async () => {
  const f = pair!;
  const [ua, ub] = f.upstreams;
  statesOfB.length = 0;
  await b!.stop();
  await until(f, () => ub!.state === 'down', 'down');
  assert.equal(statesOfB, ['draining', 'down']);
  assert.is(ub!.consecutiveFailures, 3);
  assert.ok(ub!.lastError, 'the connection error is kept');
  throwsCode(() => f.resolveModel('tinyB'), 'no_upstream', 503);
  throwsCode(() => f.resolveModel('gpt-4o'), 'no_upstream', 503);
  assert.equal(ids(f.resolveModel(ua!.models[0]!).upstreams), [0]);
  assert.equal(f.modelList().data.map((m) => m.id), [ua!.models[0]!]);
  assert.is(ua!.state, 'ready');
  assert.is(ua!.generation, 1, 'probing a healthy server again and again does not bump its generation');
});

// --- one server behind three configs: API keys, slot override, request-path failures --------

let keyed: LlamaServer | undefined;
let trio: Fleet | undefined;

const keys = suite('fleet: api keys, overrides, reported failures');
setup(keys, async () => {
  keyed = await rigServer({ slots: 3, cacheRamMiB: 0, extraArgs: ['--no-slots', '--api-key', 'sekrit'] });
  trio = fleetOf([
    { url: keyed.url, apiKey: 'sekrit' },
    { url: keyed.url, apiKey: 'wrong' },
    { url: keyed.url, apiKey: 'sekrit', slots: 5, ramCacheTokens: 1000 },
  ]);
  await trio.start();
});
keys.after(async () => {
  await trio?.close();
  await keyed?.stop();
});

keys('with the right key: slots from /props total_slots when /slots is disabled', () => {
  const u = trio!.upstreams[0]!;
  assert.is(u.state, 'ready');
  assert.equal(u.slotIds, [0, 1, 2]);
  assert.is(u.nCtx, 4096);
  assert.is(u.apiKey, 'sekrit');
});

keys('with a wrong key: not ready, and the error says why', () => {
  const u = trio!.upstreams[1]!;
  assert.ok(u.state === 'draining' || u.state === 'down', u.state);
  assert.match(u.lastError ?? '', /401: Invalid API Key/);
});

keys('the config slot count overrides the discovered one', () => {
  const u = trio!.upstreams[2]!;
  assert.equal(u.slotIds, [0, 1, 2, 3, 4]);
  assert.is(u.ramCacheTokens, 1000);
});

keys('a reported failure drains the upstream at once; a probe soon brings it back with a new generation', async () => {
  const f = trio!;
  const u = f.upstreams[0]!;
  const before = u.generation;
  f.reportFailure(u, new Error('socket hang up'));
  assert.is(u.state, 'draining');
  assert.is(u.lastError, 'socket hang up');
  assert.equal(ids(f.resolveModel(null).upstreams), [2]);
  await until(f, () => u.state === 'ready', 'ready again', 5000);
  assert.is(u.generation, before + 1, 'a connection failure may have been a restart: the cache beliefs go');
  assert.equal(ids(f.resolveModel(null).upstreams), [0, 2]);
});

keys('reportFailure refuses an upstream of another fleet', () => {
  const other = fleetOf([{ url: 'http://127.0.0.1:1' }]);
  assert.throws(() => trio!.reportFailure(other.upstreams[0]!, new Error('x')), /not an upstream of this fleet/);
});

// --- a server with --sleep-idle-seconds: probes must not keep it awake ------------------------

let sleepy: LlamaServer | undefined;
let watcher: Fleet | undefined;
const paths: string[] = [];
/** Waiters for `paths` to reach a length. */
const pathWaiters: Array<{ length: number; resolve: () => void }> = [];

const countingFetch = ((input: string | URL | Request, init?: RequestInit) => {
  paths.push(new URL(String(input)).pathname);
  for (const w of pathWaiters.splice(0)) {
    if (paths.length >= w.length) w.resolve();
    else pathWaiters.push(w);
  }
  return fetch(input, init);
}) as typeof fetch;

function requestsReach(length: number): Promise<void> {
  return new Promise((resolve) => {
    if (paths.length >= length) resolve();
    else pathWaiters.push({ length, resolve });
  });
}

const sleeping = suite('fleet: a sleeping server');
setup(sleeping, async () => {
  sleepy = await rigServer({ slots: 2, cacheRamMiB: 0, extraArgs: ['--sleep-idle-seconds', '1'] });
  watcher = fleetOf([{ url: sleepy.url }], { fleet: { probeIntervalMs: 100 } }, countingFetch);
  await watcher.start();
});
sleeping.after(async () => {
  await watcher?.close();
  await sleepy?.stop();
});

sleeping('falling asleep bumps the generation; later probes neither wake it nor read /slots', async () => {
  const f = watcher!;
  const u = f.upstreams[0]!;
  assert.is(u.generation, 1);
  await until(f, () => u.sleeping, 'sleep');
  assert.is(u.generation, 2, 'the KV cache is gone with the unloaded model');
  // Five more whole probes (each starts with /health), then look again.
  const healthChecks = () => paths.filter((p) => p === '/health').length;
  const target = healthChecks() + 6;
  while (healthChecks() < target) await requestsReach(paths.length + 1);
  assert.ok(u.sleeping, 'still asleep');
  assert.is(u.state, 'ready', 'a sleeping server takes requests: the next one wakes it');
  assert.is(paths.filter((p) => p === '/slots').length, 1, '/slots only on discovery');
  assert.is(u.generation, 2);
});

two.run();
keys.run();
sleeping.run();
