// /v1/messages and count_tokens against a scripted upstream that answers like llama-server: what
// slotkeeper forwards (a pinned chat completion of the normalized request), and what an
// Anthropic client gets back through the official SDK, a streamed tool call included.
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults, type PartialConfig } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { setup } from '../helpers/setup.js';
import { TOOL_STREAM } from '../helpers/chat-stream.js';

interface Seen { path: string; body: Record<string, any> }

/** A llama-server stand-in: enough of /health, /props and /v1/models for the fleet, and scripted answers. */
async function scripted(answer: (seen: Seen, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const json = (body: unknown, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/health') return json({ status: 'ok' });
      if (path === '/props') return json({ total_slots: 2, default_generation_settings: { n_ctx: 4096 } });
      if (path === '/slots') return json([{ id: 0, n_ctx: 4096 }, { id: 1, n_ctx: 4096 }]);
      if (path === '/v1/models') return json({ object: 'list', data: [{ id: 'm', owned_by: 'llamacpp' }] });
      const entry = { path, body: chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {} };
      seen.push(entry);
      answer(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const CHAT = {
  id: 'chatcmpl-7', object: 'chat.completion', model: 'm',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Done.' } }],
  usage: { prompt_tokens: 30, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 20 } },
  timings: { cache_n: 20, prompt_n: 10, predicted_n: 2 }, __verbose: { stopping_word: '' },
};

function answer(seen: Seen, res: ServerResponse): void {
  if (seen.path === '/v1/messages/count_tokens') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ input_tokens: 42 }));
  } else if (seen.body.max_tokens === 999) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 400, message: 'too many', type: 'invalid_request_error' } }));
  } else if (seen.body.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(TOOL_STREAM);
  } else {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(CHAT));
  }
}

const HEADER = 'x-anthropic-billing-header: cc_version=2.1.63.a43; cc_entrypoint=cli; cch=e2224;';
const request = { model: 'm', max_tokens: 64, system: [{ type: 'text' as const, text: HEADER }, { type: 'text' as const, text: 'You are an agent.' }], messages: [{ role: 'user' as const, content: 'read a.txt' }] };

const messages = suite('routes/messages: translated, pinned, normalized');
let upstream: Awaited<ReturnType<typeof scripted>>;
let gateway: Gateway;
let client: Anthropic;
const logs: string[] = [];

async function gatewayWith(config: PartialConfig): Promise<Gateway> {
  return startGateway(withDefaults({ port: 0, upstreams: [{ url: upstream.url, ramCacheTokens: 0 }], ...config }), {
    defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 }, log: (line) => logs.push(line),
  });
}

setup(messages, async () => {
  upstream = await scripted(answer);
  gateway = await gatewayWith({ verbose: true });
  client = new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
});
messages.after(async () => {
  await gateway?.close();
  await upstream?.close();
});

messages('forwards a pinned chat completion of the normalized request', async () => {
  await client.messages.create(request);
  const sent = upstream.seen.at(-1)!;
  assert.is(sent.path, '/v1/chat/completions');
  assert.ok(Number.isInteger(sent.body.id_slot), JSON.stringify(sent.body));
  assert.is(sent.body.cache_prompt, true);
  assert.equal(sent.body.messages, [
    { role: 'system', content: 'x-anthropic-billing-header: cc_version=0; cc_entrypoint=0; cch=0;You are an agent.' },
    { role: 'user', content: 'read a.txt' },
  ]);
  assert.is(sent.body.timings_per_token, true);
  assert.equal(sent.body.response_fields, ['stopping_word']);
  assert.ok(logs.some((line) => line.includes('normalize claude-code-billing-header') && line.includes('cc_version=2.1.63.a43')), logs.join('\n'));
});

messages('a non-streamed answer comes back as an Anthropic message with the cache split in usage', async () => {
  const message = await client.messages.create(request);
  assert.equal(message.content, [{ type: 'text', text: 'Done.' }]);
  assert.is(message.stop_reason, 'end_turn');
  assert.is(message.usage.input_tokens, 10);
  assert.is(message.usage.cache_read_input_tokens, 20);
  assert.is(message.usage.output_tokens, 2);
});

messages('the SDK\'s stream helper receives a streamed tool call whole', async () => {
  const stream = client.messages.stream({ ...request, tools: [{ name: 'read_file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }] });
  const seen: string[] = [];
  stream.on('streamEvent', (event) => {
    seen.push(event.type);
  });
  const message = await stream.finalMessage();
  // The SDK adds `citations: null` to the text blocks it accumulates; the rest is what the gateway sent.
  const blocks = message.content.map((block) => {
    const { citations: _added, ...rest } = block as unknown as Record<string, unknown>;
    return rest;
  });
  assert.equal(blocks, [
    { type: 'thinking', thinking: 'Let me look é.', signature: '' },
    { type: 'text', text: 'Reading.' },
    { type: 'tool_use', id: 'call_9', name: 'read_file', input: { path: 'a.txt' } },
  ]);
  assert.is(message.stop_reason, 'tool_use');
  assert.equal(message.usage.output_tokens, 9);
  assert.is(seen[0], 'message_start');
  assert.is(seen.at(-1), 'message_stop');
  assert.is(upstream.seen.at(-1)!.body.stream, true);
});

messages('the router learns llama-server\'s timings from the translated answer, streamed or not', async () => {
  const reused = async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return Number(/slotkeeper_prompt_tokens_total\{kind="reused"\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  const before = await reused();
  await client.messages.create(request);
  assert.is(await reused(), before + CHAT.timings.cache_n);
  await client.messages.stream(request).finalMessage();
  // The scripted stream's last timings say cache_n 5.
  assert.is(await reused(), before + CHAT.timings.cache_n + 5);
});

messages('an upstream refusal reaches the SDK with its status, in Anthropic\'s error shape', async () => {
  try {
    await client.messages.create({ ...request, max_tokens: 999 });
    assert.unreachable('the upstream answered 400');
  } catch (err) {
    assert.instance(err, Anthropic.BadRequestError);
    assert.equal((err as InstanceType<typeof Anthropic.BadRequestError>).error, { type: 'error', error: { type: 'invalid_request_error', message: 'too many' } });
  }
});

messages('count_tokens forwards the normalized Anthropic body to llama-server\'s count_tokens', async () => {
  const count = await client.messages.countTokens(request);
  assert.is(count.input_tokens, 42);
  const sent = upstream.seen.at(-1)!;
  assert.is(sent.path, '/v1/messages/count_tokens');
  assert.is(sent.body.system[0].text, 'x-anthropic-billing-header: cc_version=0; cc_entrypoint=0; cch=0;');
  assert.is(sent.body.id_slot, undefined);
});

messages('gateway errors on these routes are in Anthropic\'s shape', async () => {
  const res = await fetch(`${gateway.url}/v1/messages`, { method: 'GET' });
  assert.is(res.status, 405);
  assert.equal(((await res.json()) as { type: string }).type, 'error');
  const unknown = await fetch(`${gateway.url}/v1/messages/count_tokens`, { method: 'POST', body: '{"model":"other","messages":[]}', headers: { 'content-type': 'application/json' } });
  // One model in the fleet: an unknown name goes to it, so this reaches the upstream.
  assert.is(unknown.status, 200);
});

messages('anthropic: passthrough forwards /v1/messages untouched', async () => {
  const passthrough = await gatewayWith({ anthropic: 'passthrough' });
  try {
    const body = JSON.stringify(request);
    await fetch(`${passthrough.url}/v1/messages`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const sent = upstream.seen.at(-1)!;
    assert.is(sent.path, '/v1/messages');
    assert.equal(sent.body, request);
  } finally {
    await passthrough.close();
  }
});

messages.run();
