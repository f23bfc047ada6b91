// Where a multi-model upstream answers for one model, and the loaded sets it reports.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isMultiModel, modelUrl, parseRouterCapacity, parseRouterLoaded, parseRunning } from '../../src/fleet/model-routes.js';

const test = suite('fleet/model-routes');

test('llama-swap: /upstream/{model}/path; router: ?model= with autoload off', () => {
  assert.is(modelUrl('llama-swap', 'http://h:1', 'qwen/7b', '/props'), 'http://h:1/upstream/qwen%2F7b/props');
  assert.is(modelUrl('router', 'http://h:1', 'qwen 7b', '/slots'), 'http://h:1/slots?model=qwen%207b&autoload=false');
});

test('only llama-swap and router have per-model slots', () => {
  assert.ok(isMultiModel('llama-swap'));
  assert.ok(isMultiModel('router'));
  assert.not.ok(isMultiModel('llama-server'));
});

test('llama-swap /running: the ready processes', () => {
  const body = { running: [
    { model: 'm1', state: 'ready', cmd: 'llama-server', proxy: 'http://127.0.0.1:9001', ttl: 0, name: '', description: '' },
    { model: 'm2', state: 'starting' },
    { state: 'ready' },
  ] };
  assert.equal(parseRunning(body), ['m1']);
  assert.equal(parseRunning({ running: [] }), []);
  assert.is(parseRunning({ error: 'x' }), null);
  assert.is(parseRunning('OK'), null);
});

test('router /v1/models: status.value loaded; no status at all is not router mode', () => {
  const body = { object: 'list', data: [
    { id: 'r1', status: { value: 'loaded', args: [] } },
    { id: 'r2', status: { value: 'unloaded' } },
    { id: 'r3', status: { value: 'loading' } },
  ] };
  assert.equal(parseRouterLoaded(body), ['r1']);
  assert.is(parseRouterLoaded({ object: 'list', data: [{ id: 'tiny', owned_by: 'llamacpp' }] }), null);
  assert.is(parseRouterLoaded({}), null);
});

test('router /props: max_instances, 0 meaning no limit', () => {
  assert.is(parseRouterCapacity({ role: 'router', max_instances: 4 }), 4);
  assert.is(parseRouterCapacity({ role: 'router', max_instances: 0 }), 0);
  assert.is(parseRouterCapacity({ total_slots: 2 }), null);
  assert.is(parseRouterCapacity(undefined), null);
});

test.run();
