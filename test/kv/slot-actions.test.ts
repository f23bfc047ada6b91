// Slot actions over HTTP: the URL and body for each kind of upstream (llama-server, llama-swap,
// llama.cpp's router mode), the answers parsed, and every failure mapped to its code (501 =
// disabled, other statuses = rejected, no answer in time = unreachable). Against a fake server.
import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ActionTarget, KvActionError, SlotActions, parseSlotSizes, slotActionRequest } from '../../src/kv/slot-actions.js';
import { type FakeSlotServer, startFakeSlotServer } from '../helpers/fake-slot-server.js';

const target = (over: Partial<ActionTarget> = {}): ActionTarget => ({ url: 'http://h:1', apiKey: null, kind: 'llama-server', model: 'qwen/coder:7b', ...over });

async function failure(p: Promise<unknown>): Promise<KvActionError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, KvActionError);
    return err as KvActionError;
  }
  throw new Error('expected a KvActionError');
}

const shapes = suite('kv/slot-actions: request shapes');

shapes('llama-server: /slots/{id}?action=…, the file name alone in the body', () => {
  assert.equal(slotActionRequest(target(), 2, 'save', 'f.bin'), { url: 'http://h:1/slots/2?action=save', body: { filename: 'f.bin' } });
  assert.equal(slotActionRequest(target(), 0, 'erase'), { url: 'http://h:1/slots/0?action=erase', body: {} });
});

shapes('llama-swap: through /upstream/{model}/, the model id escaped', () => {
  assert.equal(slotActionRequest(target({ kind: 'llama-swap' }), 1, 'restore', 'f.bin'), {
    url: 'http://h:1/upstream/qwen%2Fcoder%3A7b/slots/1?action=restore', body: { filename: 'f.bin' },
  });
});

shapes('router mode: the plain path, "model" in the body', () => {
  assert.equal(slotActionRequest(target({ kind: 'router' }), 3, 'save', 'f.bin'), {
    url: 'http://h:1/slots/3?action=save', body: { filename: 'f.bin', model: 'qwen/coder:7b' },
  });
});

shapes.run();

const calls = suite('kv/slot-actions: calls');
let fake: FakeSlotServer;
calls.before.each(async () => {
  fake = await startFakeSlotServer({ tokens: 700, bytesPerToken: 3 });
});
calls.after.each(() => fake.close());

calls('save and restore parse the answer; the api key goes as a bearer token; llama-swap paths reach the fake', async () => {
  const actions = new SlotActions({ timeoutMs: 5_000 });
  const t = target({ url: fake.url, apiKey: 'sekret', kind: 'llama-swap' });
  assert.equal(await actions.save(t, 1, 'a.bin'), { tokens: 700, bytes: 2100, ms: 2 });
  assert.equal(await actions.restore(t, 0, 'a.bin'), { tokens: 700, bytes: 2100, ms: 1 });
  assert.equal(fake.requests.map((r) => [r.path, r.action, r.body.filename, r.authorization]), [
    ['/upstream/qwen%2Fcoder%3A7b/slots/1', 'save', 'a.bin', 'Bearer sekret'],
    ['/upstream/qwen%2Fcoder%3A7b/slots/0', 'restore', 'a.bin', 'Bearer sekret'],
  ]);
  await actions.save(target({ url: fake.url, kind: 'router' }), 0, 'b.bin');
  assert.equal(fake.requests.at(-1)!.body, { filename: 'b.bin', model: 'qwen/coder:7b' });
  assert.is(fake.requests.at(-1)!.authorization, undefined);
});

calls('supported: 400 for slot "x" means on, 501 off; a 2xx or 404 is not trusted', async () => {
  const actions = new SlotActions({ timeoutMs: 5_000 });
  const t = target({ url: fake.url });
  assert.is(await actions.supported(t, 2_000), true);
  assert.is(fake.requests[0]!.path, '/slots/x');
  fake.options.enabled = false;
  assert.is(await actions.supported(t, 2_000), false);
  const lying = new SlotActions({ timeoutMs: 5_000, fetch: async () => new Response('{}', { status: 200 }) });
  assert.is(await lying.supported(t, 2_000), false);
  const missing = new SlotActions({ timeoutMs: 5_000, fetch: async () => new Response('nope', { status: 404 }) });
  assert.is(await missing.supported(t, 2_000), false);
});

calls('errors: 501 unsupported, other statuses rejected with the status, a non-JSON answer rejected', async () => {
  const actions = new SlotActions({ timeoutMs: 5_000 });
  const t = target({ url: fake.url });
  fake.options.enabled = false;
  const off = await failure(actions.save(t, 0, 'a.bin'));
  assert.is(off.code, 'unsupported');
  assert.is(off.status, 501);
  fake.options.enabled = true;
  fake.options.failRestore = 500;
  const bad = await failure(actions.restore(t, 0, 'a.bin'));
  assert.is(bad.code, 'rejected');
  assert.is(bad.status, 500);
  assert.match(bad.message, /failed to restore slot/);
  const html = new SlotActions({ timeoutMs: 5_000, fetch: async () => new Response('<html>', { status: 200 }) });
  assert.is((await failure(html.save(t, 0, 'a.bin'))).code, 'rejected');
});

calls('no answer within timeoutMs, a refused connection or the caller\'s abort: unreachable, status 0', async () => {
  fake.options.hangSave = true;
  const actions = new SlotActions({ timeoutMs: 50 });
  const slow = await failure(actions.save(target({ url: fake.url }), 0, 'a.bin'));
  assert.is(slow.code, 'unreachable');
  assert.is(slow.status, 0);
  // A port nobody listens on: bind one, note it, close it.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.is((await failure(actions.restore(target({ url: `http://127.0.0.1:${port}` }), 0, 'a.bin'))).code, 'unreachable');
  const caller = new AbortController();
  const patient = new SlotActions({ timeoutMs: 60_000 });
  const pending = failure(patient.save(target({ url: fake.url }), 0, 'a.bin', caller.signal));
  caller.abort(new Error('client went away'));
  assert.is((await pending).code, 'unreachable');
});

calls('sizes: GET /slots as what each slot holds; null when the server does not say', async () => {
  fake.options.slots = [{ id: 0, is_processing: true, n_prompt_tokens: 812 }, { id: 1, is_processing: false }];
  const actions = new SlotActions({ timeoutMs: 1000 });
  assert.equal(await actions.sizes(target({ url: fake.url }), 1000), [{ id: 0, tokens: 812, processing: true }, { id: 1, tokens: 0, processing: false }]);
  fake.options.slots = undefined;
  assert.is(await actions.sizes(target({ url: fake.url }), 1000), null, '404');
  assert.is(parseSlotSizes({ error: 'x' }), null);
  assert.is(parseSlotSizes([{ id: 'a' }]), null);
});

calls.run();
