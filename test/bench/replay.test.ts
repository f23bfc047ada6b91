import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Conversation, SseReader, replay } from '../../bench/replay.js';
import type { LlamaServer } from '../../bench/rig/server.js';
import { withServerLog } from '../../bench/rig/server.js';
import type { Trace, TraceStep } from '../../bench/trace.js';
import { rigServer } from '../helpers/llama.js';
import { setup } from '../helpers/setup.js';

const step = (kind: TraceStep['kind'], text: string, extra: Partial<TraceStep> = {}): TraceStep =>
  ({ kind, dialect: 'openai', thinkMs: 0, messages: [{ role: 'user', content: text }], params: { max_tokens: 4 }, ...extra });
const answer = (text: string) => ({ role: 'assistant', content: text });

const conversation = suite('replay: conversation');

conversation('a turn appends the previous answer and its new messages; side requests stay outside', () => {
  const c = new Conversation();
  const s1 = step('turn', 'q1');
  assert.equal(c.bodyFor(s1), { max_tokens: 4, messages: [{ role: 'user', content: 'q1' }], stream: true });
  c.answered(s1, answer('a1'));
  const side = step('side', 'title?');
  assert.equal(c.bodyFor(side).messages, [{ role: 'user', content: 'title?' }]);
  c.answered(side, answer('A Title'));
  const s2 = step('turn', 'q2');
  assert.equal(c.bodyFor(s2).messages, [{ role: 'user', content: 'q1' }, answer('a1'), { role: 'user', content: 'q2' }]);
});

conversation('a rewrite replaces the history; the next turn builds on the rewrite and its answer', () => {
  const c = new Conversation();
  c.answered(step('turn', 'q1'), answer('a1'));
  c.bodyFor(step('turn', 'q1'));
  const summary = step('rewrite', 'summary so far');
  assert.equal(c.bodyFor(summary).messages, [{ role: 'user', content: 'summary so far' }]);
  c.answered(summary, answer('ok'));
  assert.equal(c.bodyFor(step('turn', 'go on')).messages, [{ role: 'user', content: 'summary so far' }, answer('ok'), { role: 'user', content: 'go on' }]);
});

conversation('anthropic tool_use blocks are appended to the previous answer', () => {
  const c = new Conversation();
  const first = step('turn', 'fix it', { dialect: 'anthropic' });
  c.bodyFor(first);
  c.answered(first, { role: 'assistant', content: [{ type: 'text', text: 'Looking.' }] });
  const toolUse = { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } };
  const next = step('turn', '', { dialect: 'anthropic', assistantAppend: [toolUse], messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt' }] }] });
  const { messages } = c.bodyFor(next) as { messages: { content: unknown }[] };
  assert.equal(messages[1], { role: 'assistant', content: [{ type: 'text', text: 'Looking.' }, toolUse] });
});

conversation.run();

const sse = suite('replay: SSE reader');

sse('reads OpenAI chunks split anywhere, and the timings of the last one', () => {
  const r = new SseReader('openai');
  const stream = 'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"delta":{"content":"lo"}}]}\n\ndata: {"choices":[],"timings":{"prompt_n":7,"cache_n":3}}\n\ndata: [DONE]\n\n';
  for (let i = 0; i < stream.length; i += 5) r.push(stream.slice(i, i + 5));
  assert.is(r.text, 'Hello');
  assert.is(r.promptN, 7);
  assert.is(r.cacheN, 3);
  assert.is(r.error, null);
});

sse('reads Anthropic events: usage from message_start, text from text deltas, errors', () => {
  const r = new SseReader('anthropic');
  r.push('event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5,"cache_read_input_tokens":40}}}\n\n');
  r.push('event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\n\n');
  r.push('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n');
  assert.is(r.text, 'Hi');
  assert.is(r.promptN, 5);
  assert.is(r.cacheN, 40);
  assert.match(r.error ?? '', /overloaded_error/);
});

sse.run();

// Closed loop on the real server: each turn carries the answer the server really gave.
let server: LlamaServer | undefined;
const live = suite('replay against llama-server');
setup(live, async () => { server = await rigServer({ slots: 2, cacheRamMiB: 0 }); });
live.after(async () => { await server?.stop(); });

live('sessions run concurrently, closed-loop, in both dialects, with token counts recorded', withServerLog(() => server, async () => {
  const params = { model: 'tiny', max_tokens: 6, temperature: 0 };
  const trace: Trace = {
    header: { scenario: 'test', seed: 1, params: {}, passes: 2 },
    sessions: [
      { id: 'oai', steps: [step('turn', 'first question', { params }), step('turn', 'second question', { params })] },
      { id: 'ant', steps: [
        step('turn', 'hello agent', { dialect: 'anthropic', params: { ...params, system: 'You are terse.' } }),
        step('turn', 'and again', { dialect: 'anthropic', params: { ...params, system: 'You are terse.' } }),
      ] },
    ],
  };
  const seen: string[] = [];
  const result = await replay({ baseUrls: [server!.url], trace, onRecord: (r) => seen.push(`${r.session}/${r.pass}/${r.step}`) });
  assert.is(result.records.length, 8);
  assert.is(seen.length, 8);
  for (const r of result.records) {
    assert.is(r.status, 200, r.error);
    assert.ok(r.promptN !== null && r.cacheN !== null, `${r.session} token counts`);
    assert.ok(r.ttfbMs > 0 && r.totalMs >= r.ttfbMs);
  }
  // Send order; every second turn of a session carries its first answer.
  for (let i = 1; i < result.records.length; i++) assert.ok(result.records[i]!.startMs >= result.records[i - 1]!.startMs);
  for (const session of ['oai', 'ant']) {
    const idx = result.records.map((r, i) => [r, i] as const).filter(([r]) => r.session === session && r.pass === 0);
    const first = result.sent[idx[0]![1]]!;
    const second = result.sent[idx[1]![1]]!;
    assert.ok(first.answer.length > 0, 'the model answered');
    assert.ok(JSON.stringify(second.body.messages).includes(JSON.stringify(first.answer).slice(1, -1)), `${session}: second turn carries the first answer`);
    // The second turn extends the first one's slot content.
    const rec = result.records[idx[1]![1]]!;
    assert.ok(rec.cacheN! > 0, `${session}: second turn reused the first (${rec.cacheN})`);
  }
}));

live.run();

// Several servers: requests are spread round-robin, blind to what each has cached.
let fleet: LlamaServer[] = [];
const spread = suite('replay across servers');
setup(spread, async () => { fleet = await Promise.all([rigServer({ cacheRamMiB: 0 }), rigServer({ cacheRamMiB: 0 })]); });
spread.after(async () => { await Promise.all(fleet.map((s) => s.stop())); });

spread('requests alternate between the servers in send order', withServerLog(() => fleet[0], async () => {
  const params = { max_tokens: 2, temperature: 0 };
  const trace: Trace = {
    header: { scenario: 'test', seed: 1, params: {} },
    sessions: [{ id: 'one', steps: ['a', 'b', 'c', 'd', 'e'].map((q) => step('turn', q, { params })) }],
  };
  const before = await Promise.all(fleet.map((s) => fetch(`${s.url}/metrics`).then((r) => r.text())));
  const result = await replay({ baseUrls: fleet.map((s) => s.url), trace });
  assert.equal(result.records.map((r) => r.server), [0, 1, 0, 1, 0]);
  assert.ok(result.records.every((r) => r.status === 200));
  // Each server really answered its share: its request counter moved.
  const processed = await Promise.all(fleet.map(async (s, i) => {
    const count = (text: string) => Number(/^llamacpp:n_decode_total (\S+)/m.exec(text)?.[1] ?? 0);
    return count(await fetch(`${s.url}/metrics`).then((r) => r.text())) - count(before[i]!);
  }));
  assert.ok(processed.every((n) => n > 0), `decode calls per server: ${processed}`);
}));

spread.run();
