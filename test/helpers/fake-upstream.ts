// A fake llama-server for unit tests and the overhead bench: llama-server's HTTP surface with its
// exact response shapes (taken from a live llama-server b1-de3ff81, the rig's build, and from
// tools/server/ in its source), no model behind it. It answers as fast as Node can, so a bench
// that puts the gateway in front of it measures the gateway, not the fake.
//
// The slot cache is a simulation in characters, not tokens: each slot remembers the canonical
// text of its last prompt (JSON of `messages` for chat, `prompt` for completions) and a request
// reports `cache_n` = common-prefix chars ÷ 4 and `prompt_n` = the rest ÷ 4, at least 1 (llama-server
// always evaluates the last prompt token). Unlike llama-server, the fake never queues: any number
// of requests may share a slot at once, so a bench can hold hundreds of streams open.
import { Buffer } from 'node:buffer';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How a request fails: drop the connection before answering, drop it halfway through the answer, or answer this HTTP status with a llama-server error body. */
/** How a request fails: the socket closed at once or mid-stream, an HTTP status, or `hang` (never answered). */
export type FakeFailure = 'close' | 'close-mid-stream' | 'hang' | number;

/** How the fake behaves; every field is optional. */
export interface FakeUpstreamOptions {
  /** The answer: a text (one token per word) or a number of tokens (`tok tok tok…`). Default: a short sentence. */
  answer?: string | number;
  /** Delay between two generated tokens, ms; 0 (default) sends them all at once. */
  tokenDelayMs?: number;
  /** Slots (`total_slots`), default 1. */
  slots?: number;
  /** Context per slot (`n_ctx`), default 4096. */
  nCtx?: number;
  /** Model ids listed by /v1/models; the first is the server's own (`model_path`). Default `['fake-model.gguf']`. */
  models?: string[];
  /** Keep every request in `requests` (default true); a long bench turns this off so 1 MB bodies are not kept. */
  record?: boolean;
  /** Require this key (llama-server's --api-key) as `Authorization: Bearer` or `x-api-key`, except on /health. */
  apiKey?: string;
  /**
   * Make requests fail. A value applies to every POST to a completion route; a function is asked
   * for every request (any route) and answers `undefined` to let it through.
   */
  fail?: FakeFailure | ((request: RecordedRequest) => FakeFailure | undefined);
  /**
   * Close the connection after every streamed answer, as llama-server b1-de3ff81 (cpp-httplib)
   * does while announcing keep-alive. It sends its FIN about 1 ms after the last chunk, so a client
   * (or a proxy) that reuses the socket at once has its next request reset. The fake plays the
   * worst case of that race: the next request on the socket, whenever it comes, is reset. Off by
   * default; turn it on to test that a client copes.
   */
  closeAfterStream?: boolean;
}

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined for a request without one or with invalid JSON. */
  body: unknown;
  /** The `id_slot` the client asked for, if any. */
  idSlot: number | undefined;
  /** The slot that served a completion (set once one is chosen). */
  slot?: number;
  /** The simulated `cache_n` / `prompt_n` of a completion (set once a slot is chosen). */
  cacheN?: number;
  promptN?: number;
  /** A hung request (`fail: 'hang'`) whose client went away. */
  abandoned?: boolean;
}

/** A running fake llama-server. */
export interface FakeUpstream {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, oldest first (empty when `record` is false). */
  readonly requests: RecordedRequest[];
  /** Stops generating, drops every connection and stops listening. */
  close(): Promise<void>;
}

interface Slot {
  id: number;
  text: string;
  /** Requests generating on this slot right now. */
  active: number;
  lastUsed: number;
  idTask: number;
  nPromptTokens: number;
  nCache: number;
}

type Dialect = 'chat' | 'text';

const CHARS_PER_TOKEN = 4;
const BUILD_INFO = 'b1-de3ff81';
const DEFAULT_ANSWER = 'Hello from the fake upstream.';
const JSON_TYPE = 'application/json; charset=utf-8';
// llama-server picks the idle slot whose prompt shares the largest fraction of the new one, when
// that fraction passes --slot-prompt-similarity (0.1 by default); otherwise the least recently used.
const SLOT_PROMPT_SIMILARITY = 0.1;
// llama-server's format_error_response: HTTP status → error type.
const errorTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  500: 'server_error',
  501: 'not_supported_error',
  503: 'unavailable_error',
};
const errorMessages: Record<number, string> = {
  401: 'Invalid API Key',
  404: 'File Not Found',
  503: 'Loading model',
};

/** Starts a fake llama-server on 127.0.0.1 (a free port) and resolves once it listens. */
export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const tokenDelayMs = options.tokenDelayMs ?? 0;
  const nCtx = options.nCtx ?? 4096;
  const models = options.models ?? ['fake-model.gguf'];
  const ownModel = models[0];
  if (ownModel === undefined) throw new Error('models must name at least one model');
  const record = options.record ?? true;
  // Tokens are JSON-escaped once, so a chunk is built by concatenation, not by JSON.stringify.
  const words = tokenize(options.answer ?? DEFAULT_ANSWER);
  const tokens = words.map((token) => JSON.stringify(token));
  const slots: Slot[] = Array.from({ length: options.slots ?? 1 }, (_, id) => (
    { id, text: '', active: 0, lastUsed: 0, idTask: -1, nPromptTokens: 0, nCache: 0 }));
  const requests: RecordedRequest[] = [];
  const generations = new Set<() => void>();
  /** Sockets that carried a stream with closeAfterStream: the next request on one is reset. */
  const doomed = new WeakSet<Socket>();
  let tasks = 0;
  let ids = 0;

  const props = JSON.stringify({
    default_generation_settings: { params: { n_predict: -1, temperature: 0.8, stream: false }, n_ctx: nCtx },
    total_slots: slots.length,
    model_alias: ownModel,
    model_path: ownModel,
    modalities: { vision: false, video: false, audio: false },
    endpoint_slots: true,
    endpoint_props: false,
    endpoint_metrics: false,
    build_info: BUILD_INFO,
    is_sleeping: false,
  });
  const created = Math.floor(Date.now() / 1000);
  // llama-server answers /v1/models with both Ollama's `models` and OpenAI's `data`.
  const modelList = JSON.stringify({
    models: models.map((id) => ({
      name: id, model: id, modified_at: '', size: '', digest: '', type: 'model', description: '',
      tags: [''], capabilities: ['completion'], parameters: '',
      details: { parent_model: '', format: 'gguf', family: '', families: [''], parameter_size: '', quantization_level: '' },
    })),
    object: 'list',
    data: models.map((id) => ({
      id, aliases: [id], tags: [], object: 'model', created, owned_by: 'llamacpp',
      meta: { vocab_type: 1, n_vocab: 32000, n_ctx: nCtx, n_ctx_train: nCtx, n_embd: 64, n_params: 0, size: 0, ftype: 'F16' },
    })),
  });

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Only a bug in the fake gets here; make it loud in the test that hit it.
      process.stderr.write(`fake upstream: ${err instanceof Error ? err.stack : String(err)}\n`);
      res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (doomed.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    res.setHeader('server', 'llama.cpp');
    const method = req.method ?? 'GET';
    const path = pathOf(req.url);
    const text = method === 'POST' ? await readText(req) : '';
    let body: unknown;
    let invalidJson: string | undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch (err) {
        invalidJson = (err as Error).message;
      }
    }
    const idSlot = isObject(body) && typeof body.id_slot === 'number' && body.id_slot >= 0 ? body.id_slot : undefined;
    const request: RecordedRequest = { method, path, headers: req.headers, body, idSlot };
    if (record) requests.push(request);

    const completion = method === 'POST' && (path === '/v1/chat/completions' || path === '/chat/completions'
      || path === '/v1/completions' || path === '/completions');
    const failure = typeof options.fail === 'function' ? options.fail(request) : completion ? options.fail : undefined;
    if (failure === 'close') {
      req.socket.destroy();
      return;
    }
    // No status, no headers, until the client gives up (a server stuck before its answer).
    if (failure === 'hang') {
      req.socket.once('close', () => { request.abandoned = true; });
      return;
    }
    if (typeof failure === 'number') return sendError(res, failure);

    if (options.apiKey !== undefined && path !== '/health' && path !== '/v1/health' && keyOf(req) !== options.apiKey) {
      return sendError(res, 401);
    }
    if (method === 'GET') {
      switch (path) {
        case '/health': case '/v1/health': return sendText(res, 200, '{"status":"ok"}');
        case '/props': return sendText(res, 200, props);
        case '/slots': return sendText(res, 200, JSON.stringify(slots.map(slotJson)));
        case '/models': case '/v1/models': return sendText(res, 200, modelList);
      }
    }
    if (!completion) return sendError(res, 404);
    if (invalidJson !== undefined) return sendError(res, 500, `[json.exception.parse_error.101] ${invalidJson}`);
    if (!isObject(body)) return sendError(res, 400, 'request body must be a JSON object');
    const dialect: Dialect = path.endsWith('chat/completions') ? 'chat' : 'text';
    const prompt = dialect === 'chat' ? body.messages : body.prompt;
    if (dialect === 'chat' ? !Array.isArray(prompt) : prompt === undefined) {
      return sendError(res, 400, dialect === 'chat' ? "'messages' is required" : '"prompt" must be provided');
    }
    generate(res, request, body, dialect, typeof prompt === 'string' ? prompt : JSON.stringify(prompt), failure);
  }

  function generate(res: ServerResponse, request: RecordedRequest, body: Record<string, unknown>, dialect: Dialect,
    text: string, failure: FakeFailure | undefined): void {
    const startedAt = performance.now();
    const slot = chooseSlot(text, request.idSlot);
    const total = Math.max(1, Math.ceil(text.length / CHARS_PER_TOKEN));
    const cacheN = Math.min(Math.floor(commonPrefixLength(slot.text, text) / CHARS_PER_TOKEN), total - 1);
    const promptN = total - cacheN;
    Object.assign(slot, { text, lastUsed: ++tasks, idTask: tasks, nPromptTokens: total, nCache: cacheN });
    slot.active += 1;
    request.slot = slot.id;
    request.cacheN = cacheN;
    request.promptN = promptN;

    const limit = maxTokens(body);
    const answer = limit !== undefined && limit < tokens.length ? tokens.slice(0, limit) : tokens;
    const content = () => JSON.stringify(words.slice(0, answer.length).join(''));
    const finishReason = answer.length < tokens.length ? 'length' : 'stop';
    const stream = body.stream === true;
    const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
    const model = typeof body.model === 'string' && models.length > 1 && models.includes(body.model) ? body.model : ownModel;
    const id = `chatcmpl-fake${(++ids).toString(36).padStart(8, '0')}`;
    const now = Math.floor(Date.now() / 1000);
    // Every object ends with these fields, in llama-server's order.
    const tail = dialect === 'chat'
      ? `"created":${now},"id":"${id}","model":${JSON.stringify(model)},"system_fingerprint":"${BUILD_INFO}","object":"chat.completion.chunk"`
      : `"created":${now},"model":${JSON.stringify(model)},"system_fingerprint":"${BUILD_INFO}","object":"text_completion"`;
    const dropAt = failure === 'close-mid-stream' ? Math.floor(answer.length / 2) : -1;
    let sent = 0;
    let firstTokenAt = startedAt;
    let timer: NodeJS.Timeout | undefined;

    const stop = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (generations.delete(stop)) slot.active -= 1;
    };
    generations.add(stop);
    // The response's 'close' also comes when the client goes away mid-answer (the request's comes
    // as soon as its body is read, so it says nothing about the client).
    res.once('close', stop);

    const usage = () => `{"completion_tokens":${answer.length},"prompt_tokens":${total},"total_tokens":${total + answer.length},"prompt_tokens_details":{"cached_tokens":${cacheN}}}`;
    const timings = () => {
      const promptMs = Math.max(firstTokenAt - startedAt, 0.001);
      const predictedMs = Math.max(performance.now() - firstTokenAt, 0.001);
      return `{"cache_n":${cacheN},"prompt_n":${promptN},"prompt_ms":${promptMs},"prompt_per_token_ms":${promptMs / promptN},"prompt_per_second":${(1000 * promptN) / promptMs},`
        + `"predicted_n":${answer.length},"predicted_ms":${predictedMs},"predicted_per_token_ms":${predictedMs / Math.max(answer.length, 1)},"predicted_per_second":${(1000 * answer.length) / predictedMs}}`;
    };
    const chunk = (token: string) => dialect === 'chat'
      ? `data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":${token}}}],${tail}}\n\n`
      : `data: {"choices":[{"text":${token},"index":0,"logprobs":null,"finish_reason":null}],${tail},"id":"${id}"}\n\n`;
    const finalChunks = () => {
      if (dialect === 'text') {
        return `data: {"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"${finishReason}"}],${tail},"usage":${usage()},"id":"${id}","timings":${timings()}}\n\n`;
      }
      const finish = `data: {"choices":[{"finish_reason":"${finishReason}","index":0,"delta":{}}],${tail}`;
      // With include_usage, OpenAI's spec puts usage on an extra chunk with empty choices; llama-server moves timings there too.
      return includeUsage
        ? `${finish}}\n\ndata: {"choices":[],${tail},"usage":${usage()},"timings":${timings()}}\n\n`
        : `${finish},"timings":${timings()}}\n\n`;
    };
    const whole = () => {
      return dialect === 'chat'
        ? `{"choices":[{"finish_reason":"${finishReason}","index":0,"message":{"role":"assistant","content":${content()}}}],"created":${now},"model":${JSON.stringify(model)},"system_fingerprint":"${BUILD_INFO}","object":"chat.completion","usage":${usage()},"id":"${id}","timings":${timings()}}`
        : `{"choices":[{"text":${content()},"index":0,"logprobs":null,"finish_reason":"${finishReason}"}],${tail},"usage":${usage()},"id":"${id}","timings":${timings()}}`;
    };

    if (!stream) {
      const finish = () => {
        stop();
        if (dropAt >= 0) {
          // Headers and half the body, then nothing: the body is cut short of its content-length.
          const body = whole();
          res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body) });
          res.write(body.slice(0, body.length >> 1), () => res.destroy());
          return;
        }
        sendText(res, 200, whole());
      };
      if (tokenDelayMs > 0 && answer.length > 0) timer = setTimeout(finish, tokenDelayMs * answer.length);
      else finish();
      return;
    }

    const endStream = (text: string) => {
      if (options.closeAfterStream && res.socket) doomed.add(res.socket);
      res.end(text);
    };
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-accel-buffering': 'no' });
    // The first chat chunk carries the role only; completions start with the first token.
    const head = dialect === 'chat'
      ? `data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],${tail}}\n\n`
      : '';
    firstTokenAt = performance.now();
    if (tokenDelayMs === 0) {
      // As fast as it gets: the whole stream in one write. Same bytes, fewer chunk boundaries.
      let all = head;
      for (const token of dropAt >= 0 ? answer.slice(0, dropAt) : answer) all += chunk(token);
      if (dropAt >= 0) {
        stop();
        res.write(all, () => res.destroy());
        return;
      }
      stop();
      endStream(`${all}${finalChunks()}data: [DONE]\n\n`);
      return;
    }
    if (head !== '') res.write(head);
    const step = () => {
      timer = undefined;
      if (sent === dropAt) {
        stop();
        res.destroy();
      } else if (sent < answer.length) {
        res.write(chunk(answer[sent++]!));
        timer = setTimeout(step, tokenDelayMs);
      } else {
        stop();
        endStream(`${finalChunks()}data: [DONE]\n\n`);
      }
    };
    timer = setTimeout(step, tokenDelayMs);
  }

  function chooseSlot(text: string, idSlot: number | undefined): Slot {
    // llama-server wraps an out-of-range id_slot around (server_context::get_slot_by_id).
    if (idSlot !== undefined) return slots[idSlot % slots.length]!;
    const idle = slots.filter((slot) => slot.active === 0);
    const candidates = idle.length > 0 ? idle : slots;
    let best: Slot | undefined;
    let bestSimilarity = SLOT_PROMPT_SIMILARITY;
    for (const slot of candidates) {
      if (slot.text === '') continue;
      const similarity = commonPrefixLength(slot.text, text) / text.length;
      if (similarity > bestSimilarity) [best, bestSimilarity] = [slot, similarity];
    }
    return best ?? candidates.reduce((lru, slot) => (slot.lastUsed < lru.lastUsed ? slot : lru));
  }

  function slotJson(slot: Slot) {
    return {
      id: slot.id, n_ctx: nCtx, speculative: false, is_processing: slot.active > 0, id_task: slot.idTask,
      n_prompt_tokens: slot.nPromptTokens, n_prompt_tokens_processed: slot.nPromptTokens - slot.nCache,
      n_prompt_tokens_cache: slot.nCache,
      next_token: [{ has_next_token: slot.active > 0, has_new_line: false, n_remain: -1, n_decoded: 0 }],
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const stop of [...generations]) stop();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Length of the common prefix of two strings. Char by char at first (most prompts that differ do
 * so early), then 4 KB blocks compared natively, then char by char inside the differing block.
 */
export function commonPrefixLength(a: string, b: string): number {
  const end = Math.min(a.length, b.length);
  const BLOCK = 4096;
  let i = 0;
  while (i < end && i < 256 && a.charCodeAt(i) === b.charCodeAt(i)) i += 1;
  if (i < 256) return i;
  while (i + BLOCK <= end && a.slice(i, i + BLOCK) === b.slice(i, i + BLOCK)) i += BLOCK;
  while (i < end && a.charCodeAt(i) === b.charCodeAt(i)) i += 1;
  return i;
}

function tokenize(answer: string | number): string[] {
  if (typeof answer === 'number') return Array.from({ length: answer }, (_, i) => (i === 0 ? 'tok' : ' tok'));
  return answer.match(/\s*\S+/g) ?? [];
}

// llama-server reads n_predict, or OpenAI's max_tokens / max_completion_tokens; -1 is unlimited.
function maxTokens(body: Record<string, unknown>): number | undefined {
  const value = body.max_completion_tokens ?? body.max_tokens ?? body.n_predict;
  return typeof value === 'number' && value >= 0 ? value : undefined;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message?: string): void {
  const body = { error: { code: status, message: message ?? errorMessages[status] ?? `fake upstream: injected ${status}`, type: errorTypes[status] ?? 'server_error' } };
  sendText(res, status, JSON.stringify(body));
}

function keyOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? req.headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value?.startsWith('Bearer ') ? value.slice('Bearer '.length) : value;
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
