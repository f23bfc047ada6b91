import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ExpectedReuse, SlotContent } from '../../src/prefix/prefix-index.js';
import { type CopySource, type ServerView, type SlotView, schedule } from '../../src/scheduler/policy.js';
import type { Rates } from '../../src/scheduler/rates.js';

// Situations in, decisions out. Units: 1 block = 100 chars = 30 tokens at 0.3 tokens/char;
// prefill 1 token/ms, so 30 ms per block.
const NOW = 1_000_000;
const rates: Rates = { promptTokensPerMs: 1, genTokensPerMs: 0.05, tokensPerChar: 0.3, serviceMs: 1000 };
const params = { blockChars: 100, reuseHalfLifeMs: 600_000, ramCacheTokens: 0 };
const balance = { absThreshold: 2, relThreshold: 1.5 };
const range = (from: number, n: number) => Float64Array.from({ length: n }, (_, i) => from + i);

interface SlotSpec { holds?: number; base?: number; chain?: Float64Array; busy?: boolean; waitMs?: number; idleMs?: number; ram?: boolean; copied?: boolean }

function slot(server: number, id: number, request: Float64Array, spec: SlotSpec = {}): SlotView {
  const chain = spec.chain ?? (spec.holds === undefined ? undefined : range(spec.base ?? 1, spec.holds));
  const content: SlotContent | undefined = chain === undefined ? undefined
    : { chain, tokens: chain.length * 30, lastUsedMs: NOW - (spec.idleMs ?? 0) };
  let blocks = 0;
  if (content) while (blocks < Math.min(content.chain.length, request.length) && content.chain[blocks] === request[blocks]) blocks++;
  const reuse: ExpectedReuse = spec.ram ? { blocks: request.length, source: 'ram', ramEntry: { chain: request, tokens: request.length * 30 } }
    : blocks > 0 ? { blocks, source: 'slot' } : { blocks: 0, source: 'none' };
  return { slot: id, key: `${server}/${id}`, busy: spec.busy ?? false, waitMs: spec.waitMs ?? 0, content, reuse, copiedElsewhere: spec.copied ?? false };
}

function server(id: number, request: Float64Array, specs: SlotSpec[], extra: Partial<ServerView> = {}): ServerView {
  const slots = specs.map((s, i) => slot(id, i, request, s));
  return { server: id, slots, rates, load: slots.filter((s) => s.busy).length, params, ...extra };
}

const req = (blocks: number, from = 1, clientSlot: number | null = null) => ({ chain: range(from, blocks), promptChars: blocks * 100 + 50, maxTokens: 16, clientSlot });

const test = suite('scheduler/policy');

test('goes to the slot holding the longest prefix', () => {
  const r = req(40);
  const d = schedule(r, [server(0, r.chain, [{ holds: 10 }, { holds: 30 }, {}])], NOW, balance)!;
  assert.is(d.kind, 'prefix_hit');
  assert.is(d.best.key, '0/1');
  assert.equal(d.keys, ['0/1']);
  assert.ok(d.best.reuseTokens > 800 && d.best.reuseTokens <= 900);
});

test('a short side request takes the empty slot, not the long hot context', () => {
  const r = req(2, 5000);
  const d = schedule(r, [server(0, r.chain, [{ holds: 100 }, {}, { holds: 80 }])], NOW, balance)!;
  assert.is(d.kind, 'cold');
  assert.is(d.best.key, '0/1');
});

test('with every slot full, a side request overwrites the stalest, smallest context', () => {
  const r = req(2, 5000);
  const d = schedule(r, [server(0, r.chain, [{ holds: 100, idleMs: 1_000 }, { holds: 100, idleMs: 3_600_000 }, { holds: 20, base: 300 }])], NOW, balance)!;
  // 100 blocks idle an hour (1/64 chance) costs less than 20 fresh blocks.
  assert.is(d.best.key, '0/1');
});

test('a context copied elsewhere (RAM cache or another slot) is cheap to overwrite', () => {
  const r = req(2, 5000);
  const d = schedule(r, [server(0, r.chain, [{ holds: 100 }, { holds: 50, base: 300 }, { holds: 100, base: 900, copied: true }])], NOW, balance)!;
  assert.is(d.best.key, '0/2');
});

test('a RAM cache that can hold the evicted context lowers its eviction cost', () => {
  const r = req(2, 5000);
  const withRam = server(0, r.chain, [{ holds: 100 }], { params: { ...params, ramCacheTokens: 60_000 } });
  const without = server(0, r.chain, [{ holds: 100 }]);
  const a = schedule(r, [withRam], NOW, balance)!;
  const b = schedule(r, [without], NOW, balance)!;
  assert.ok(a.best.evictionMs < b.best.evictionMs / 10, `${a.best.evictionMs} vs ${b.best.evictionMs}`);
});

test('a continuation never pays eviction for its own slot', () => {
  const r = req(12);
  const d = schedule(r, [server(0, r.chain, [{ holds: 10 }])], NOW, balance)!;
  assert.is(d.best.evictionMs, 0);
});

test('a request sharing only a system prompt with a slot\'s conversation pays for the turns it destroys', () => {
  // Three conversations behind one 30-block system prompt. Both slots keep more than half of
  // their content for this request (llama-server reuses them as they are), but each loses its
  // own turns: 10 blocks (300 ms of prefill) in slot 0, 5 in slot 1.
  const system = range(1, 30);
  const own = (from: number, n: number) => Float64Array.from([...system, ...range(from, n)]);
  const r = { chain: own(9000, 5), promptChars: 35 * 100 + 50, maxTokens: 16, clientSlot: null };
  const d = schedule(r, [server(0, r.chain, [{ chain: own(100, 10) }, { chain: own(200, 5) }])], NOW, balance)!;
  assert.is(d.best.key, '0/1');
  assert.is(d.choices.get('0/0')!.evictionMs, 300);
  assert.is(d.choices.get('0/1')!.evictionMs, 150);
  assert.is(d.best.reuseTokens, 900);
});

test('waits for a busy slot with the prefix when the wait is shorter than recomputing', () => {
  const r = req(100);
  const d = schedule(r, [server(0, r.chain, [{ holds: 95, busy: true, waitMs: 200 }, {}])], NOW, balance)!;
  assert.is(d.best.key, '0/0');
  assert.is(d.kind, 'prefix_hit');
  // The empty slot would cost the full prefill, so it is not an acceptable alternative.
  assert.equal(d.keys, ['0/0']);
});

test('recomputes on a free slot when the wait for the cached one is longer', () => {
  const r = req(100);
  const d = schedule(r, [server(0, r.chain, [{ holds: 95, busy: true, waitMs: 60_000 }, {}])], NOW, balance)!;
  assert.is(d.best.key, '0/1');
  assert.is(d.kind, 'cold');
});

test('a cold request with every slot busy accepts any equally good slot', () => {
  const r = req(5, 5000);
  const d = schedule(r, [server(0, r.chain, [{ busy: true, waitMs: 1000 }, { busy: true, waitMs: 2000 }, { busy: true, waitMs: 3000 }])], NOW, balance)!;
  assert.equal(d.keys, ['0/0', '0/1', '0/2']);
});

test('across servers the cache wins while load is balanced', () => {
  const r = req(40);
  const a = server(0, r.chain, [{ busy: true, waitMs: 100 }, {}]);
  const b = server(1, r.chain, [{ holds: 40 }, { busy: true, waitMs: 100 }]);
  const d = schedule(r, [a, b], NOW, balance)!;
  assert.is(d.best.key, '1/0');
});

test('across servers the load wins when unbalanced, even against the cache', () => {
  const r = req(40);
  const hot = server(0, r.chain, [{ holds: 40 }, { busy: true }, { busy: true }, { busy: true }], { load: 7 });
  const idle = server(1, r.chain, [{}, {}, {}, {}], { load: 1 });
  const d = schedule(r, [hot, idle], NOW, balance)!;
  assert.is(d.kind, 'balance');
  assert.is(d.best.server, 1);
});

test('balance needs both thresholds', () => {
  const r = req(40);
  // 3 vs 0 passes abs (>2) and rel; 3 vs 2 passes neither.
  const hot = (load: number) => server(0, r.chain, [{ holds: 40 }], { load });
  const other = (load: number) => server(1, r.chain, [{}], { load });
  assert.is(schedule(r, [hot(3), other(0)], NOW, balance)!.kind, 'balance');
  assert.is(schedule(r, [hot(3), other(2)], NOW, balance)!.kind, 'prefix_hit');
  assert.is(schedule(r, [hot(30), other(25)], NOW, balance)!.kind, 'prefix_hit', 'within 1.5x');
});

test('a RAM-cache hit is named as such', () => {
  const r = req(20);
  const d = schedule(r, [server(0, r.chain, [{ holds: 3, base: 700, ram: true }])], NOW, balance)!;
  assert.is(d.kind, 'ram_hit');
  assert.ok(d.best.reuseTokens > 500);
});

test("a client's own id_slot is honoured where it exists", () => {
  const r = req(10, 1, 2);
  const d = schedule(r, [server(0, r.chain, [{ holds: 10 }, {}, { holds: 50, base: 400 }])], NOW, balance)!;
  assert.is(d.kind, 'pinned');
  assert.equal(d.keys, ['0/2']);
  const missing = req(10, 1, 9);
  assert.is(schedule(missing, [server(0, missing.chain, [{ holds: 10 }, {}])], NOW, balance)!.best.key, '0/0');
});

test('the last prompt token is always evaluated; no servers → null', () => {
  const r = req(10);
  const d = schedule({ ...r, promptChars: 1000 }, [server(0, r.chain, [{ holds: 10 }])], NOW, balance)!;
  assert.ok(d.best.prefillTokens >= 1);
  assert.is(schedule(r, [], NOW, balance), null);
  assert.is(schedule(r, [server(0, r.chain, [])], NOW, balance), null);
});

// A prefix of `blocks` blocks elsewhere: in a busy slot of server `from` (ready in readyMs) or a file.
const slotSource = (from: number, slotId: number, blocks: number, readyMs: number, copyMs = 50, entryBlocks = blocks + 2): CopySource => ({
  from: { kind: 'slot', server: from, slot: slotId }, blocks, entryBlocks, tokens: entryBlocks * 30, readyMs, copyMs,
});
const fileSource = (blocks: number, copyMs = 20, entryBlocks = blocks + 2): CopySource => ({
  from: { kind: 'file', file: 'f.bin' }, blocks, entryBlocks, tokens: entryBlocks * 30, readyMs: 0, copyMs,
});

// 100 shared blocks (3,000 ms of prefill) and 5 of the request's own.
const shared = () => ({ chain: Float64Array.from([...range(1, 100), ...range(7000, 5)]), promptChars: 105 * 100 + 50, maxTokens: 16, clientSlot: null });

test('copy decisions, a table of situations', () => {
  const cases: { name: string; servers: (r: ReturnType<typeof shared>) => ServerView[]; key: string; kind: string; copied: boolean }[] = [
    {
      name: 'a prefix being computed in a busy slot: wait for it on the free slot, not prefill it again',
      servers: (r) => [server(0, r.chain, [{ chain: range(1, 102), busy: true, waitMs: 1_000 }, {}], { copies: [slotSource(0, 0, 100, 1_000)] })],
      key: '0/1', kind: 'waited_for_prefix', copied: true,
    },
    {
      name: 'the same prefix, but its request ends only after a fresh prefill would: prefill',
      servers: (r) => [server(0, r.chain, [{ chain: range(1, 102), busy: true, waitMs: 9_000 }, {}], { copies: [slotSource(0, 0, 100, 9_000)] })],
      key: '0/1', kind: 'cold', copied: false,
    },
    {
      name: 'a saved file of the prefix: restore it into the free slot',
      servers: (r) => [server(0, r.chain, [{}, {}], { copies: [fileSource(100)] })],
      key: '0/0', kind: 'copy_prefix', copied: true,
    },
    {
      name: 'a copy slower than the prefill it saves (huge file, short prefix): prefill',
      servers: (r) => [server(0, r.chain, [{}], { copies: [fileSource(100, 10_000)] })],
      key: '0/0', kind: 'cold', copied: false,
    },
    {
      name: 'a source the request keeps less than half of: llama-server would drop it, so no copy',
      servers: (r) => [server(0, r.chain, [{}], { copies: [fileSource(100, 20, 250)] })],
      key: '0/0', kind: 'cold', copied: false,
    },
    {
      name: 'the slot already holds the prefix itself: no copy',
      servers: (r) => [server(0, r.chain, [{ holds: 100 }], { copies: [fileSource(100)] })],
      key: '0/0', kind: 'prefix_hit', copied: false,
    },
    {
      name: 'across servers: the idle server restores the prefix the busy one computes, instead of queueing there',
      servers: (r) => [
        server(0, r.chain, [{ chain: range(1, 102), busy: true, waitMs: 2_000 }, { chain: range(1, 102), busy: true, waitMs: 2_500 }]),
        server(1, r.chain, [{}, {}], { copies: [slotSource(0, 0, 100, 2_000)] }),
      ],
      key: '1/0', kind: 'waited_for_prefix', copied: true,
    },
    {
      name: 'a copy from the same slot it would run in is no copy',
      servers: (r) => [server(0, r.chain, [{ holds: 3, base: 9000 }], { copies: [slotSource(0, 0, 100, 0)] })],
      key: '0/0', kind: 'cold', copied: false,
    },
  ];
  for (const c of cases) {
    const r = shared();
    const d = schedule(r, c.servers(r), NOW, balance)!;
    assert.is(d.best.key, c.key, c.name);
    assert.is(d.kind, c.kind, c.name);
    assert.is(d.best.copy !== undefined, c.copied, c.name);
    if (c.copied) assert.ok(d.best.prefillTokens < 200 && d.best.copyTokens! > 2_900, `${c.name}: prefill ${d.best.prefillTokens}`);
  }
});

test('a copy keeps what the slot gives by itself as its reuse, for the restore decision', () => {
  const r = shared();
  const d = schedule(r, [server(0, r.chain, [{ holds: 10 }], { copies: [fileSource(100)] })], NOW, balance)!;
  assert.ok(d.best.copy);
  assert.is(d.best.reuse.blocks, 10);
  assert.ok(d.best.reuseTokens < 400);
});

test.run();
