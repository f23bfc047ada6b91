// Closed-loop replay of a trace against one base URL (a llama-server, or slotkeeper in front of
// some). Sessions run concurrently; each sends its steps one after another, waiting its think
// time first, and puts the answer it actually got into its history, as a real client would.
import { isClosedIdleSocket } from '../src/proxy/closed-socket.js';
import { type RequestRecord, servedByCache } from './results.js';
import type { Dialect, Message, Trace, TraceStep } from './trace.js';

/** What the replay sent and got back, kept for the oracle (which tokenizes every prompt afterwards). */
export interface SentRequest { dialect: Dialect; body: Record<string, unknown>; answer: string }

/** Options for replay. */
export interface ReplayOptions {
  /** Where requests go: several base URLs are used round-robin, request by request, the way a
   * plain load balancer spreads them without regard for what each server has cached. */
  baseUrls: readonly string[];
  trace: Trace;
  /** Per-request limit, ms. */
  requestTimeoutMs?: number;
  /** Called after every request (progress). */
  onRecord?: (record: RequestRecord) => void;
  /** Stops the replay early (Ctrl-C). */
  signal?: AbortSignal;
  /** Awaited before each step is sent, after its think time (bench/restart.ts restarts the server there). */
  beforeStep?: (session: string, step: number) => Promise<void>;
}

/** What a replay produced: records and the bodies sent, index for index, in the order they were sent. */
export interface ReplayResult { records: RequestRecord[]; sent: SentRequest[]; wallMs: number }

/** The route each dialect is sent to. */
export const ROUTES: Record<Dialect, string> = { openai: '/v1/chat/completions', anthropic: '/v1/messages' };

/** Replays every pass of the trace; resolves when all sessions are done. */
export async function replay(options: ReplayOptions): Promise<ReplayResult> {
  const started = performance.now();
  const out: { record: RequestRecord; sent: SentRequest }[] = [];
  const passes = options.trace.header.passes ?? 1;
  if (options.baseUrls.length === 0) throw new Error('replay: no base URL');
  let sentCount = 0;
  for (let pass = 0; pass < passes; pass++) {
    await Promise.all(options.trace.sessions.map(async (session) => {
      const conversation = new Conversation();
      for (const [index, step] of session.steps.entries()) {
        if (step.thinkMs > 0) await sleep(step.thinkMs, options.signal);
        await options.beforeStep?.(session.id, index);
        options.signal?.throwIfAborted();
        const body = conversation.bodyFor(step);
        const startMs = performance.now() - started;
        const server = sentCount++ % options.baseUrls.length;
        const answer = await send(options.baseUrls[server]!, step.dialect, body, options.requestTimeoutMs ?? 600_000, options.signal);
        conversation.answered(step, answer.message);
        // A stored answer replays the first answer's timings; llama-server did no work for it.
        const cached = servedByCache(answer.cache);
        const record: RequestRecord = {
          session: session.id, step: index, pass, kind: step.kind, dialect: step.dialect, server: answer.upstream ?? server,
          startMs, ttfbMs: answer.ttfbMs, totalMs: answer.totalMs, status: answer.status,
          ...(answer.error ? { error: answer.error } : {}), ...(answer.cache !== null ? { cache: answer.cache } : {}),
          ...answer.placement,
          promptN: cached ? 0 : answer.promptN, cacheN: cached ? 0 : answer.cacheN, oracleN: null,
        };
        out.push({ record, sent: { dialect: step.dialect, body, answer: answer.text } });
        options.onRecord?.(record);
      }
    }));
  }
  out.sort((a, b) => a.record.startMs - b.record.startMs);
  return { records: out.map((o) => o.record), sent: out.map((o) => o.sent), wallMs: performance.now() - started };
}

/** One session's history, moved on by its steps (see the rules in trace.ts). */
export class Conversation {
  private history: Message[] = [];
  private lastAnswer: Message | null = null;

  /** The body to send for a step (streamed, so time to first byte can be measured, unless the step's params say `stream: false`). */
  bodyFor(step: TraceStep): Record<string, unknown> {
    let messages: Message[];
    if (step.kind === 'side') {
      messages = step.messages;
    } else if (step.kind === 'rewrite') {
      this.history = [...step.messages];
      messages = this.history;
    } else {
      if (this.lastAnswer) this.history.push(withAppended(this.lastAnswer, step));
      this.history.push(...step.messages);
      messages = this.history;
    }
    return { stream: true, ...step.params, messages: [...messages] };
  }

  /** Records the answer a step got; side requests leave the conversation as it was. */
  answered(step: TraceStep, message: Message): void {
    if (step.kind !== 'side') this.lastAnswer = message;
  }
}

/** The previous answer as it stands in the history, with the step's tool calls added to it. */
function withAppended(answer: Message, step: TraceStep): Message {
  const extra = step.assistantAppend ?? [];
  if (extra.length === 0) return answer;
  if (step.dialect === 'openai') return { ...answer, tool_calls: extra };
  const blocks = Array.isArray(answer.content) ? answer.content : [];
  return { ...answer, content: [...blocks, ...extra] };
}

interface Answer {
  status: number;
  /** The generated text. */
  text: string;
  error?: string;
  message: Message;
  ttfbMs: number;
  totalMs: number;
  promptN: number | null;
  cacheN: number | null;
  /** The server a gateway says it sent the request to (slotkeeper's x-slotkeeper-upstream). */
  upstream: number | null;
  /** The gateway's x-cache header. */
  cache: string | null;
  /** Where slotkeeper placed it (its x-slotkeeper-slot, -decision and -restored headers), when it said. */
  placement?: Pick<RequestRecord, 'slot' | 'decision' | 'restored'>;
}

/** slotkeeper's placement headers, for records that explain a token count. */
function placementOf(headers: Headers): Answer['placement'] {
  const slot = headers.get('x-slotkeeper-slot');
  const decision = headers.get('x-slotkeeper-decision');
  const restored = headers.get('x-slotkeeper-restored');
  return {
    ...(slot !== null ? { slot: Number(slot) } : {}),
    ...(decision !== null ? { decision } : {}),
    ...(restored !== null ? { restored: Number(restored) } : {}),
  };
}

/** Sends one streaming request and reads the whole stream: the answer text and the server's token counts. */
async function send(baseUrl: string, dialect: Dialect, body: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<Answer> {
  const t0 = performance.now();
  const empty = assistantMessage(dialect, '');
  let ttfbMs = 0;
  try {
    const post = () => fetch(`${baseUrl}${ROUTES[dialect]}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(dialect === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {}) },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
    });
    // An idle keep-alive socket the server closed fails before any byte (UND_ERR_SOCKET): nothing
    // was processed, so the request is sent once more on a new connection, as a client would.
    const res = await post().catch((err: unknown) => {
      if (signal?.aborted || !isClosedIdleSocket(err)) throw err;
      return post();
    });
    const header = res.headers.get('x-slotkeeper-upstream');
    const upstream = header === null ? null : Number(header);
    const cache = res.headers.get('x-cache');
    const placement = placementOf(res.headers);
    if (body.stream === false) return { ...(await whole(res, dialect, t0)), upstream, cache, placement };
    const stream = new SseReader(dialect);
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) {
      if (ttfbMs === 0) ttfbMs = performance.now() - t0;
      stream.push(decoder.decode(chunk as Uint8Array, { stream: true }));
    }
    const totalMs = performance.now() - t0;
    if (!res.ok) {
      return { status: res.status, error: stream.raw.slice(0, 300), text: '', message: empty, ttfbMs, totalMs, promptN: null, cacheN: null, upstream, cache, placement };
    }
    return {
      status: res.status, ...(stream.error ? { error: stream.error } : {}), text: stream.text,
      message: assistantMessage(dialect, stream.text), ttfbMs, totalMs, promptN: stream.promptN, cacheN: stream.cacheN, upstream, cache, placement,
    };
  } catch (err) {
    if (signal?.aborted) throw err;
    const totalMs = performance.now() - t0;
    return { status: 0, error: (err as Error).message, text: '', message: empty, ttfbMs: ttfbMs || totalMs, totalMs, promptN: null, cacheN: null, upstream: null, cache: null };
  }
}

/** A non-streamed answer: nothing arrives before it is done, so its first byte is its last. */
async function whole(res: Response, dialect: Dialect, t0: number): Promise<Omit<Answer, 'upstream' | 'cache' | 'placement'>> {
  const raw = await res.text();
  const totalMs = performance.now() - t0;
  const empty = assistantMessage(dialect, '');
  if (!res.ok) return { status: res.status, error: raw.slice(0, 300), text: '', message: empty, ttfbMs: totalMs, totalMs, promptN: null, cacheN: null };
  const json = JSON.parse(raw) as Record<string, any>;
  const text = dialect === 'openai'
    ? String(json.choices?.[0]?.message?.content ?? '')
    : (Array.isArray(json.content) ? json.content : []).filter((b: any) => b?.type === 'text').map((b: any) => String(b.text)).join('');
  const promptN = dialect === 'openai' ? json.timings?.prompt_n ?? null : json.usage?.input_tokens ?? null;
  const cacheN = dialect === 'openai' ? json.timings?.cache_n ?? null : json.usage?.cache_read_input_tokens ?? null;
  return { status: res.status, text, message: assistantMessage(dialect, text), ttfbMs: totalMs, totalMs, promptN, cacheN };
}

function assistantMessage(dialect: Dialect, text: string): Message {
  if (dialect === 'openai') return { role: 'assistant', content: text };
  return { role: 'assistant', content: text ? [{ type: 'text', text }] : [] };
}

/**
 * Reads a server-sent-event stream of either dialect: the generated text, and the prompt token
 * counts (OpenAI: `timings` on the last chunk, a llama-server extension; Anthropic: `usage` in
 * message_start, where input_tokens excludes the cached ones).
 */
export class SseReader {
  text = '';
  promptN: number | null = null;
  cacheN: number | null = null;
  error: string | null = null;
  /** The first bytes of the body, for error reports. */
  raw = '';
  private buffer = '';
  private readonly dialect: Dialect;

  constructor(dialect: Dialect) {
    this.dialect = dialect;
  }

  push(chunk: string): void {
    if (this.raw.length < 1000) this.raw += chunk.slice(0, 1000 - this.raw.length);
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]' || data === '') continue;
      try {
        this.event(JSON.parse(data));
      } catch {
        this.error = `unparsable event: ${data.slice(0, 200)}`;
      }
    }
  }

  private event(e: any): void {
    if (e.error) { this.error = JSON.stringify(e.error).slice(0, 300); return; }
    if (this.dialect === 'openai') {
      const delta = e.choices?.[0]?.delta;
      if (typeof delta?.content === 'string') this.text += delta.content;
      if (e.timings) { this.promptN = e.timings.prompt_n; this.cacheN = e.timings.cache_n; }
      return;
    }
    if (e.type === 'message_start' && e.message?.usage) {
      this.promptN = e.message.usage.input_tokens;
      this.cacheN = e.message.usage.cache_read_input_tokens ?? 0;
    } else if (e.type === 'content_block_delta' && e.delta?.type === 'text_delta') {
      this.text += e.delta.text;
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() { signal?.removeEventListener('abort', onAbort); resolve(); }
    function onAbort() { clearTimeout(timer); reject(signal!.reason); }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
