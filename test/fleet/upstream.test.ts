import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { UpstreamConfig } from '../../src/config/config.js';
import { defaults } from '../../src/defaults.js';
import type { ProbeFailureKind, ProbeSuccess } from '../../src/fleet/probe.js';
import { Upstream, type UpstreamState, failuresUntilDown } from '../../src/fleet/upstream.js';

// --- helpers -------------------------------------------------------------------------------

function answer(over: Partial<Omit<ProbeSuccess, 'ok' | 'models'>> & { models?: string[] } = {}): ProbeSuccess {
  const ids = over.models ?? ['tiny'];
  return {
    ok: true,
    models: ids.map((id) => ({ id, aliases: [id], ownedBy: 'llamacpp', created: 1 })),
    slotIds: over.slotIds === undefined ? [0, 1] : over.slotIds,
    nCtx: over.nCtx === undefined ? 4096 : over.nCtx,
    sleeping: over.sleeping ?? false,
  };
}

function upstream(config: Partial<UpstreamConfig> = {}): Upstream {
  return new Upstream(0, { url: 'http://127.0.0.1:1', ...config });
}

/** One step: a whole probe that succeeds or fails, or a request-path failure. */
type Step = ProbeSuccess | ProbeFailureKind | 'request';

function apply(u: Upstream, step: Step): void {
  if (step === 'request') {
    u.requestFailed('socket hang up');
  } else if (typeof step === 'string') {
    u.beginProbe();
    u.probeFailed({ ok: false, kind: step, error: `failed: ${step}` });
  } else {
    const { ticket } = u.beginProbe();
    u.probeSucceeded(ticket, step, 1000);
  }
}

/** An upstream after `steps`. */
function after(steps: Step[], config: Partial<UpstreamConfig> = {}): Upstream {
  const u = upstream(config);
  for (const step of steps) apply(u, step);
  return u;
}

// --- suites ----------------------------------------------------------------------------------

const fields = suite('upstream: fields');

fields('a new upstream is unknown, generation 0, with config fields and no discovered facts', () => {
  const u = new Upstream(3, { url: 'http://h:8080', apiKey: 'k', ramCacheTokens: 5 });
  assert.is(u.id, 3);
  assert.is(u.url, 'http://h:8080');
  assert.is(u.apiKey, 'k');
  assert.is(u.ramCacheTokens, 5);
  assert.is(u.state, 'unknown');
  assert.is(u.generation, 0);
  assert.equal(u.models, []);
  assert.equal(u.slotIds, []);
  assert.is(u.nCtx, null);
  assert.is(u.lastError, null);
  assert.is(u.consecutiveFailures, 0);
  assert.is(u.lastSeenAt, null);
});

fields('defaults: ramCacheTokens from defaults, no apiKey, no slot override', () => {
  const u = upstream();
  assert.is(u.ramCacheTokens, defaults.ramCacheTokens);
  assert.is(u.apiKey, null);
  assert.is(u.slotsOverride, null);
});

fields('a good probe fills models, slot ids, n_ctx and lastSeenAt', () => {
  const u = after([answer({ models: ['a', 'b'], slotIds: [0, 1, 2], nCtx: 2048 })]);
  assert.equal(u.models, ['a', 'b']);
  assert.equal(u.modelInfo.map((m) => m.id), ['a', 'b']);
  assert.equal(u.slotIds, [0, 1, 2]);
  assert.is(u.nCtx, 2048);
  assert.is(u.lastSeenAt, 1000);
});

fields('the config slot count overrides discovery, and then /slots is never wanted', () => {
  const u = upstream({ slots: 4 });
  assert.not.ok(u.wantsSlotList);
  apply(u, answer({ slotIds: [0, 1] }));
  assert.equal(u.slotIds, [0, 1, 2, 3]);
});

fields('a server that says nothing about slots (llama-swap) gets one slot', () => {
  assert.equal(after([answer({ slotIds: null, nCtx: null })]).slotIds, [0]);
});

const states = suite('upstream: transitions');

// [steps, state, consecutiveFailures]
const table: Array<[string, Step[], UpstreamState, number]> = [
  ['nothing', [], 'unknown', 0],
  ['first probe ok', [answer()], 'ready', 0],
  ['first probe fails', ['unreachable'], 'draining', 1],
  ['first probe: model loading', ['loading'], 'draining', 1],
  ['ready, one failed probe', [answer(), 'timeout'], 'draining', 1],
  ['ready, failures until down - 1', [answer(), ...Array<Step>(failuresUntilDown - 1).fill('timeout')], 'draining', failuresUntilDown - 1],
  ['ready, failures until down', [answer(), ...Array<Step>(failuresUntilDown).fill('unreachable')], 'down', failuresUntilDown],
  ['down stays down on more failures', [answer(), ...Array<Step>(failuresUntilDown + 2).fill('http')], 'down', failuresUntilDown + 2],
  ['down, then a good probe', [answer(), ...Array<Step>(failuresUntilDown).fill('unreachable'), answer()], 'ready', 0],
  ['draining, then a good probe', [answer(), 'timeout', answer()], 'ready', 0],
  ['a failure in between resets the count', [answer(), 'timeout', 'timeout', answer(), 'timeout', 'timeout'], 'draining', 2],
  ['ready, request failure', [answer(), 'request'], 'draining', 0],
  ['request failures do not count toward down', [answer(), 'request', 'request', 'request', 'request'], 'draining', 0],
  ['request failure, then a good probe', [answer(), 'request', answer()], 'ready', 0],
  ['down, request failure: still down', [answer(), 'http', 'http', 'http', 'request'], 'down', 3],
];

for (const [name, steps, state, failures] of table) {
  states(name, () => {
    const u = after(steps);
    assert.is(u.state, state);
    assert.is(u.consecutiveFailures, failures);
  });
}

states('only the first probe goes through probing', () => {
  const u = upstream();
  const first = u.beginProbe();
  assert.is(u.state, 'probing');
  assert.equal(first.change, { previousState: 'unknown', previousGeneration: 0 });
  u.probeSucceeded(first.ticket, answer(), 0);
  const second = u.beginProbe();
  assert.is(u.state, 'ready', 'a ready upstream keeps taking requests while it is probed');
  assert.is(second.change, null);
});

states('transitions report what changed, and null when nothing did', () => {
  const u = upstream();
  const { ticket } = u.beginProbe();
  assert.equal(u.probeSucceeded(ticket, answer(), 0), { previousState: 'probing', previousGeneration: 0 });
  const again = u.beginProbe();
  assert.is(u.probeSucceeded(again.ticket, answer(), 0), null);
  assert.equal(u.requestFailed('reset'), { previousState: 'ready', previousGeneration: 1 });
  assert.is(u.requestFailed('reset'), null);
});

states('a probe that began before a request failure cannot bring the upstream back', () => {
  const u = after([answer()]);
  const { ticket } = u.beginProbe();
  u.requestFailed('ECONNREFUSED');
  assert.is(u.probeSucceeded(ticket, answer(), 0), null);
  assert.is(u.state, 'draining');
  assert.is(u.lastError, 'ECONNREFUSED');
  const next = u.beginProbe();
  u.probeSucceeded(next.ticket, answer(), 0);
  assert.is(u.state, 'ready');
  assert.is(u.lastError, null);
});

states('lastError holds the latest failure until a good probe', () => {
  const u = after([answer(), 'timeout']);
  assert.is(u.lastError, 'failed: timeout');
  apply(u, 'unreachable');
  assert.is(u.lastError, 'failed: unreachable');
  apply(u, answer());
  assert.is(u.lastError, null);
});

const generations = suite('upstream: generation');

// [steps, generation]: a bump means "whatever was believed about this server's KV cache is void".
const bumps: Array<[string, Step[], number]> = [
  ['never seen', [], 0],
  ['first ready', [answer()], 1],
  ['the same answer again', [answer(), answer(), answer()], 1],
  ['slot count changed', [answer({ slotIds: [0, 1] }), answer({ slotIds: [0, 1, 2] })], 2],
  ['n_ctx changed', [answer({ nCtx: 4096 }), answer({ nCtx: 8192 })], 2],
  ['model list changed', [answer({ models: ['a'] }), answer({ models: ['a', 'b'] })], 2],
  ['model list reordered only', [answer({ models: ['a', 'b'] }), answer({ models: ['b', 'a'] })], 1],
  ['went to sleep', [answer(), answer({ sleeping: true })], 2],
  ['still asleep', [answer(), answer({ sleeping: true }), answer({ sleeping: true })], 2],
  ['woke up (the cache was already void when it slept)', [answer(), answer({ sleeping: true }), answer()], 2],
  ['ready after down', [answer(), 'timeout', 'timeout', 'timeout', answer()], 2],
  ['ready after a timeout: busy, not restarted', [answer(), 'timeout', answer()], 1],
  ['ready after an http error', [answer(), 'http', answer()], 1],
  ['ready after connection refused', [answer(), 'unreachable', answer()], 2],
  ['ready after "Loading model"', [answer(), 'loading', answer()], 2],
  ['ready after a request-path connection failure', [answer(), 'request', answer()], 2],
  ['first probe failed, then ready', ['unreachable', answer()], 1],
  ['failures alone never bump', [answer(), 'unreachable', 'unreachable', 'unreachable', 'request'], 1],
];

for (const [name, steps, generation] of bumps) {
  generations(name, () => assert.is(after(steps).generation, generation));
}

generations('a changed slot count reported by the server is ignored under a config override', () => {
  const u = after([answer({ slotIds: [0, 1] }), answer({ slotIds: [0, 1, 2] })], { slots: 2 });
  assert.is(u.generation, 1);
});

generations('/slots is wanted on discovery only: before the first ready, after a possible restart, when down', () => {
  assert.ok(after([]).wantsSlotList);
  assert.not.ok(after([answer()]).wantsSlotList);
  assert.not.ok(after([answer(), 'timeout']).wantsSlotList);
  assert.ok(after([answer(), 'unreachable']).wantsSlotList);
  assert.ok(after([answer(), 'request']).wantsSlotList);
  assert.ok(after([answer(), 'timeout', 'timeout', 'timeout']).wantsSlotList);
  assert.not.ok(after([answer(), 'unreachable', answer()]).wantsSlotList);
});

fields.run();
states.run();
generations.run();
