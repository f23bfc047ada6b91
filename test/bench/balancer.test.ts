import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Balancer, type BalancerOptions, type Routed, leastLoaded, startBalancer } from '../../bench/balancer.js';
import { rejects } from '../helpers/assert.js';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from '../helpers/fake-upstream.js';
import { exitIfStillRunningAfter } from '../helpers/watchdog.js';

// Under `npm test` every file shares this process and this timer covers the whole run.
exitIfStillRunningAfter(180_000);

/** Two fakes behind a balancer, all stopped afterwards whatever the test did. */
async function withFleet(fakes: FakeUpstreamOptions[], options: Omit<BalancerOptions, 'upstreams'>,
  fn: (balancer: Balancer, upstreams: FakeUpstream[]) => Promise<void>): Promise<void> {
  const upstreams = await Promise.all(fakes.map(startFakeUpstream));
  const balancer = await startBalancer({ ...options, upstreams: upstreams.map((u) => u.url) }).catch(async (err: unknown) => {
    await Promise.all(upstreams.map((u) => u.close()));
    throw err;
  });
  try {
    await fn(balancer, upstreams);
  } finally {
    await balancer.close();
    await Promise.all(upstreams.map((u) => u.close()));
  }
}

const chat = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ messages: [{ role: 'user', content }], stream: true, ...extra });

const post = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** The generated text of an OpenAI stream, and whether it ended with [DONE]. */
function streamed(text: string): { content: string; done: boolean; events: number } {
  const data = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice('data: '.length));
  const done = data.at(-1) === '[DONE]';
  const content = (done ? data.slice(0, -1) : data).map((d) => JSON.parse(d).choices[0].delta.content ?? '').join('');
  return { content, done, events: data.length };
}

/** Resolves when `predicate` holds for a decision reported through the returned callback. */
function waitFor(predicate: (r: Routed) => boolean): { listener: (r: Routed) => void; reached: Promise<Routed> } {
  let resolve!: (r: Routed) => void;
  const reached = new Promise<Routed>((r) => { resolve = r; });
  return { listener: (r) => { if (predicate(r)) resolve(r); }, reached };
}

const choice = suite('balancer: least-loaded choice');

choice('the server with the fewest requests in flight wins', () => {
  assert.is(leastLoaded([3, 1, 2], 0), 1);
  assert.is(leastLoaded([0, 2], 1), 0);
});

choice('among equals, the first at or after the cursor, so ties go round-robin', () => {
  assert.is(leastLoaded([1, 1, 1], 0), 0);
  assert.is(leastLoaded([1, 1, 1], 2), 2);
  assert.is(leastLoaded([2, 1, 1], 0), 1);
  assert.is(leastLoaded([1, 2, 1], 2), 2);
});

choice.run();

const proxy = suite('balancer: proxy');
const slow: FakeUpstreamOptions = { answer: 8, tokenDelayMs: 25 };

proxy('concurrent requests spread so in-flight counts never differ by more than one', async () => {
  const decisions: Routed[] = [];
  await withFleet([slow, slow], { onRoute: (r) => decisions.push(r) }, async (balancer, upstreams) => {
    const texts = await Promise.all(Array.from({ length: 7 }, (_, i) => post(`${balancer.url}/v1/chat/completions`, chat(`q${i}`)).then((r) => r.text())));
    assert.ok(texts.every((t) => streamed(t).done));
    assert.is(decisions.length, 7);
    for (const d of decisions) assert.ok(Math.max(...d.inFlight) - Math.min(...d.inFlight) <= 1, `in flight ${d.inFlight}`);
    assert.equal(upstreams.map((u) => u.requests.length).sort(), [3, 4]);
    assert.equal(balancer.inFlight(), [0, 0]);
  });
});

proxy('a server that finished gets the next request, where round-robin would not send it', async () => {
  // Server 0 answers slowly, server 1 at once: after one request each, only server 1 is free.
  const freed = waitFor((r) => r.tag === 2);
  const decisions: Routed[] = [];
  await withFleet([{ answer: 40, tokenDelayMs: 25 }, { answer: 1 }], { onRoute: (r) => decisions.push(r), onDone: freed.listener }, async (balancer) => {
    const first = post(`${balancer.url}/req/1/v1/chat/completions`, chat('long'));
    await (await post(`${balancer.url}/req/2/v1/chat/completions`, chat('short'))).text();
    await freed.reached;
    await (await post(`${balancer.url}/req/3/v1/chat/completions`, chat('next'))).text();
    await (await first).text();
    assert.equal(decisions.map((d) => [d.tag, d.server]), [[1, 0], [2, 1], [3, 1]]);
  });
});

proxy('a streamed response comes through intact and as it is generated; the tag is stripped', async () => {
  const routed: Routed[] = [];
  await withFleet([{ answer: 'one two three four five six', tokenDelayMs: 40 }], { onRoute: (r) => routed.push(r) }, async (balancer, [upstream]) => {
    const direct = streamed(await (await post(`${upstream!.url}/v1/chat/completions`, chat('hi'))).text());
    const res = await post(`${balancer.url}/req/42/v1/chat/completions`, chat('hi'));
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-type'), 'text/event-stream');
    let reads = 0;
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      reads++;
      text += decoder.decode(chunk, { stream: true });
    }
    const through = streamed(text);
    assert.is(through.content, 'one two three four five six');
    assert.equal({ ...through }, { ...direct });
    // Six tokens 40 ms apart arrive in more than one read unless something buffered them.
    assert.ok(reads > 1, `${reads} read(s)`);
    assert.is(upstream!.requests.at(-1)!.path, '/v1/chat/completions');
    assert.equal(routed.map((r) => r.tag), [42]);
  });
});

proxy('streams come through back to back from a server that closes the connection after each (llama-server does)', async () => {
  await withFleet([{ answer: 3, closeAfterStream: true }], {}, async (balancer) => {
    for (let i = 0; i < 5; i++) {
      const res = await post(`${balancer.url}/v1/chat/completions`, chat(`q${i}`));
      assert.is(res.status, 200, `request ${i}`);
      assert.ok(streamed(await res.text()).done, `request ${i}`);
    }
  });
});

proxy('an upstream error status passes through; an unreachable upstream is a 502 naming it', async () => {
  await withFleet([{ fail: 503 }], {}, async (balancer) => {
    const res = await post(`${balancer.url}/v1/chat/completions`, chat('hi'));
    assert.is(res.status, 503);
    assert.match(await res.text(), /Loading model/);
  });
  const gone = await startFakeUpstream();
  await gone.close();
  const balancer = await startBalancer({ upstreams: [gone.url] });
  try {
    const res = await post(`${balancer.url}/v1/chat/completions`, chat('hi'));
    assert.is(res.status, 502);
    assert.ok((await res.text()).includes(`balancer: ${gone.url}`));
    assert.equal(balancer.inFlight(), [0]);
  } finally {
    await balancer.close();
  }
});

proxy('close() ends streams in flight, stops listening, and leaves the upstreams running', async () => {
  const started = waitFor(() => true);
  await withFleet([{ answer: 200, tokenDelayMs: 25 }], { onRoute: started.listener }, async (balancer, [upstream]) => {
    const res = await post(`${balancer.url}/v1/chat/completions`, chat('long'));
    await started.reached;
    const reading = res.text().then(() => 'ended', (err: Error) => `failed: ${err.message}`);
    await balancer.close();
    assert.match(await reading, /failed/);
    await rejects(fetch(`${balancer.url}/health`), /fetch failed/);
    assert.is((await fetch(`${upstream!.url}/health`)).status, 200);
  });
});

proxy('startBalancer refuses an empty fleet', async () => {
  await rejects(startBalancer({ upstreams: [] }), /no upstream/);
});

proxy.run();
