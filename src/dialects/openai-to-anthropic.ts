// OpenAI chat completion answers -> Anthropic Messages answers, the way llama-server's own
// /v1/messages builds them (tools/server/server-task.cpp: to_json_anthropic,
// to_json_anthropic_stream and the partial result's to_json_anthropic, llama.cpp de3ff815ea7d),
// so a client sees the same content blocks, stop reason and token counts whether it talks to
// llama-server or to slotkeeper. The chat request carries `timings_per_token` (prompt counts for
// message_start) and `verbose` with `response_fields: ["stopping_word"]` (the stop sequence);
// workers/analyze.ts adds them.
import { StringDecoder } from 'node:string_decoder';
import { anthropicErrorType } from '../errors.js';
import { type Timings, timingsOf } from '../proxy/timings.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** finish_reason → stop_reason, as llama-server maps its stop type (word and EOS both end the turn). */
function stopReason(finish: unknown): string {
  if (finish === 'tool_calls') return 'tool_use';
  if (finish === 'stop') return 'end_turn';
  return 'max_tokens';
}

function stopSequence(chunk: Json): string | null {
  const verbose = chunk.__verbose;
  return isObject(verbose) && typeof verbose.stopping_word === 'string' && verbose.stopping_word !== '' ? verbose.stopping_word : null;
}

/** Anthropic usage from llama-server's counts: cached tokens are reported apart from the evaluated ones. */
function usageOf(prompt: number, cached: number, output: number): Json {
  return { cache_read_input_tokens: cached, input_tokens: prompt - cached, output_tokens: output };
}

/** Translates a non-streamed chat completion into an Anthropic message. */
export function anthropicMessage(chat: Json): Json {
  const choice = Array.isArray(chat.choices) && isObject(chat.choices[0]) ? chat.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const content: Json[] = [];
  if (typeof message.reasoning_content === 'string' && message.reasoning_content !== '') {
    content.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  }
  if (typeof message.content === 'string' && message.content !== '') content.push({ type: 'text', text: message.content });
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isObject(call)) continue;
      const fn = isObject(call.function) ? call.function : {};
      content.push({ type: 'tool_use', id: call.id ?? '', name: fn.name ?? '', input: parseInput(fn.arguments) });
    }
  }
  const usage = isObject(chat.usage) ? chat.usage : {};
  const details = isObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  return {
    id: chat.id,
    type: 'message',
    role: 'assistant',
    content,
    model: chat.model,
    stop_reason: stopReason(choice.finish_reason),
    stop_sequence: stopSequence(chat),
    usage: usageOf(num(usage.prompt_tokens), num(details.cached_tokens), num(usage.completion_tokens)),
  };
}

function parseInput(args: unknown): unknown {
  if (typeof args !== 'string') return {};
  try {
    return JSON.parse(args);
  } catch {
    // llama-server does the same with arguments that are not JSON.
    return {};
  }
}

/** One server-sent event, as Anthropic frames them. */
function event(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** An upstream error object (OpenAI or llama-server shape) as Anthropic's error body. */
export function anthropicError(status: number, upstream: unknown): Json {
  const inner = isObject(upstream) && isObject(upstream.error) ? upstream.error : isObject(upstream) ? upstream : {};
  const message = typeof inner.message === 'string' ? inner.message : `upstream answered ${status}`;
  return { type: 'error', error: { type: anthropicErrorType(status), message } };
}

// An SSE line longer than this without a newline is not one llama-server sends; it is dropped
// rather than buffered without bound.
const MAX_LINE_CHARS = 16 * 1024 * 1024;

interface Block {
  index: number;
  kind: 'thinking' | 'text' | 'tool_use';
}

/**
 * Translates llama-server's chat completion stream (OpenAI chunks) into Anthropic's event
 * stream as bytes arrive. Feed it every upstream chunk; each call returns the text to send now.
 */
export class AnthropicStream {
  private readonly decoder = new StringDecoder('utf8');
  private carry = '';
  /** Events held until message_start can be sent with the prompt's token counts. */
  private held: string[] | null = null;
  private started = false;
  private finished = false;
  private readonly blocks: Block[] = [];
  private thinking: Block | null = null;
  private text: Block | null = null;
  private readonly tools = new Map<number, Block>();
  private id: unknown = '';
  private model: unknown = '';
  private finish: unknown = null;
  private stopWord: string | null = null;
  private outputTokens = 0;
  /** The prompt's token counts, from the latest timings (or usage) seen. */
  private counts: { prompt: number; cached: number } | null = null;
  /** Translated events waiting to be emitted, built by open() and delta(). */
  private pending = '';
  private lastTimings: Timings | null = null;

  /** llama-server's timings from the latest chunk that carried them (the last one: the whole request). */
  get timings(): Timings | null {
    return this.lastTimings;
  }

  /** Feeds upstream bytes; returns Anthropic SSE text (possibly empty). */
  write(chunk: Buffer): string {
    const text = this.carry + this.decoder.write(chunk);
    let out = '';
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      out += this.line(text.slice(start, nl).replace(/\r$/, ''));
      start = nl + 1;
    }
    this.carry = text.length - start > MAX_LINE_CHARS ? '' : text.slice(start);
    return out;
  }

  /** The upstream body ended; returns what is left to send. */
  end(): string {
    let out = this.line((this.carry + this.decoder.end()).replace(/\r$/, ''));
    this.carry = '';
    if (!this.finished) {
      // Without `data: [DONE]` the answer may be cut short; message_stop would claim it whole.
      this.finished = true;
      // Held events have no message_start to belong to; the error event says what happened.
      this.held = null;
      out += event('error', { type: 'error', error: { type: 'api_error', message: 'slotkeeper: the upstream stream ended before its last event' } });
    }
    return out;
  }

  private line(line: string): string {
    if (this.finished) return '';
    // llama-server keeps a quiet stream alive with comment lines (`:`); Anthropic's keep-alive is a ping event.
    if (line.startsWith(':')) return this.emit(event('ping', { type: 'ping' }));
    if (!line.startsWith('data:')) return '';
    const payload = line.slice(5).trim();
    if (payload === '[DONE]') return this.close();
    let chunk: unknown;
    try {
      chunk = JSON.parse(payload);
    } catch {
      return '';
    }
    if (!isObject(chunk)) return '';
    if (isObject(chunk.error)) {
      this.finished = true;
      this.held = null;
      return event('error', anthropicError(500, chunk));
    }
    return this.chunk(chunk);
  }

  private chunk(chunk: Json): string {
    let out = '';
    if (chunk.id !== undefined) this.id = chunk.id;
    if (chunk.model !== undefined) this.model = chunk.model;
    const timings = isObject(chunk.timings) ? chunk.timings : null;
    if (timings !== null) {
      this.lastTimings = timingsOf(chunk) ?? this.lastTimings;
      this.outputTokens = num(timings.predicted_n);
      this.counts = { prompt: num(timings.prompt_n) + num(timings.cache_n), cached: num(timings.cache_n) };
    }
    const word = stopSequence(chunk);
    if (word !== null) this.stopWord = word;
    if (isObject(chunk.usage)) {
      const details = isObject(chunk.usage.prompt_tokens_details) ? chunk.usage.prompt_tokens_details : {};
      this.counts = { prompt: num(chunk.usage.prompt_tokens), cached: num(details.cached_tokens) };
      this.outputTokens = num(chunk.usage.completion_tokens);
    }
    const choice = Array.isArray(chunk.choices) && isObject(chunk.choices[0]) ? chunk.choices[0] : null;
    if (choice !== null) {
      const delta = isObject(choice.delta) ? choice.delta : {};
      // The first chunk of a chat stream is the assistant's role; message_start waits for the
      // timings that come with the same token's last chunk (cache_n, prompt_n).
      if (!this.started && this.held === null && delta.role === 'assistant') this.held = [];
      out += this.deltas(delta);
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) this.finish = choice.finish_reason;
    }
    if (this.held !== null && !this.started && this.counts !== null) out += this.start(this.counts.prompt, this.counts.cached);
    return out;
  }

  private start(prompt: number, cached: number): string {
    this.started = true;
    const head = event('message_start', {
      type: 'message_start',
      message: {
        id: this.id, type: 'message', role: 'assistant', content: [], model: this.model,
        stop_reason: null, stop_sequence: null, usage: usageOf(prompt, cached, 0),
      },
    });
    const held = this.held?.join('') ?? '';
    this.held = null;
    return head + held;
  }

  /** Sends now, or holds while message_start waits for its counts. */
  private emit(text: string): string {
    if (this.held !== null) {
      this.held.push(text);
      return '';
    }
    return text;
  }

  private open(kind: Block['kind'], contentBlock: Json): Block {
    const block: Block = { index: this.blocks.length, kind };
    this.blocks.push(block);
    this.pending += event('content_block_start', { type: 'content_block_start', index: block.index, content_block: contentBlock });
    return block;
  }

  private delta(block: Block, delta: Json): void {
    this.pending += event('content_block_delta', { type: 'content_block_delta', index: block.index, delta });
  }

  private deltas(delta: Json): string {
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') {
      this.thinking ??= this.open('thinking', { type: 'thinking', thinking: '' });
      this.delta(this.thinking, { type: 'thinking_delta', thinking: delta.reasoning_content });
    }
    if (typeof delta.content === 'string' && delta.content !== '') {
      this.text ??= this.open('text', { type: 'text', text: '' });
      this.delta(this.text, { type: 'text_delta', text: delta.content });
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        if (!isObject(call)) continue;
        const fn = isObject(call.function) ? call.function : {};
        const at = num(call.index);
        let block = this.tools.get(at);
        if (block === undefined) {
          block = this.open('tool_use', { type: 'tool_use', id: call.id ?? '', name: fn.name ?? '', input: {} });
          this.tools.set(at, block);
        }
        if (typeof fn.arguments === 'string' && fn.arguments !== '') {
          this.delta(block, { type: 'input_json_delta', partial_json: fn.arguments });
        }
      }
    }
    const text = this.pending;
    this.pending = '';
    return text === '' ? '' : this.emit(text);
  }

  /** Closes every block, then message_delta and message_stop, once. */
  private close(): string {
    if (this.finished) return '';
    this.finished = true;
    let out = '';
    if (!this.started) {
      // No token was generated (max_tokens 0), or no chunk carried timings before the end: the
      // final chunk's counts stand in.
      const counts = this.counts ?? { prompt: 0, cached: 0 };
      out += this.start(counts.prompt, counts.cached);
    }
    for (const block of this.blocks) {
      // Anthropic's clients expect a signature before a thinking block closes; local models have none.
      if (block.kind === 'thinking') out += event('content_block_delta', { type: 'content_block_delta', index: block.index, delta: { type: 'signature_delta', signature: '' } });
      out += event('content_block_stop', { type: 'content_block_stop', index: block.index });
    }
    out += event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason(this.finish), stop_sequence: this.stopWord },
      usage: { output_tokens: this.outputTokens },
    });
    out += event('message_stop', { type: 'message_stop' });
    return out;
  }
}
