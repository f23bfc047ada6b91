// Captures a response as it streams past (status, headers, chunks, within a byte bound) and says
// at the end whether it is complete enough to store: a 200 JSON body that ended, or an SSE
// stream whose last event is its dialect's terminal one.
import { Buffer } from 'node:buffer';
import type { HeaderBag } from '../proxy/sink.js';
import type { StoredResponse } from './entry-file.js';

/** Headers a stored response keeps; the rest belong to the connection or the moment. */
const KEPT_HEADERS = ['content-type', 'content-encoding', 'content-language'] as const;

// The terminal event is the stream's last; this much of its end is enough to find it.
const TAIL_BYTES = 1024;


/** Why a recorded response is not stored. */
export type IncompleteReason = 'status' | 'content-type' | 'oversize' | 'unterminated' | 'cut';

/** What a hit saves, as far as the original answer said. */
export interface Savings {
  /** Prompt tokens of the request (llama-server's `cache_n + prompt_n`, or `usage`). */
  promptTokens: number | null;
  /** Prefill time the upstream spent (`timings.prompt_ms`). */
  prefillSeconds: number | null;
}

/** A recorder's verdict once the response ended or was cut. */
export type Recording =
  | { complete: true; response: StoredResponse; savings: Savings }
  | { complete: false; reason: IncompleteReason };

/** Records one response; also the replay buffer for late joiners of a coalesced flight. */
export class ResponseRecorder {
  private readonly dialect: 'openai' | 'anthropic';
  private readonly maxBytes: number;
  private status = 0;
  private headers: Record<string, string> = {};
  private readonly buffered: Buffer[] = [];
  private bytes = 0;
  private overflow = false;
  private state: 'open' | 'ended' | 'cut' = 'open';

  constructor(options: { dialect: 'openai' | 'anthropic'; maxEntryBytes: number }) {
    this.dialect = options.dialect;
    this.maxBytes = options.maxEntryBytes;
  }

  /** Status and headers, before any chunk. */
  head(status: number, headers: HeaderBag): void {
    this.status = status;
    for (const name of KEPT_HEADERS) {
      const value = headers[name];
      if (value !== undefined) this.headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
  }

  /** One body chunk, as received. */
  write(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (this.overflow) return;
    if (this.bytes > this.maxBytes) {
      // Past the bound nothing is kept: the answer will be passed on, not stored nor replayed.
      this.overflow = true;
      this.buffered.length = 0;
      return;
    }
    this.buffered.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }

  /** The body ended normally (a complete HTTP message). */
  end(): void {
    if (this.state === 'open') this.state = 'ended';
  }

  /** The body was cut short. */
  cut(): void {
    if (this.state === 'open') this.state = 'cut';
  }

  /** True once more than the bound went by: no past chunks to replay. */
  get oversize(): boolean {
    return this.overflow;
  }

  /** Chunks so far (empty once oversize), for replay to a late joiner. */
  get chunks(): readonly Buffer[] {
    return this.buffered;
  }

  /** Status received, 0 before {@link head}. */
  get statusCode(): number {
    return this.status;
  }

  /** The verdict; call after {@link end} or {@link cut}. */
  result(): Recording {
    if (this.state !== 'ended') return { complete: false, reason: 'cut' };
    if (this.status !== 200) return { complete: false, reason: 'status' };
    if (this.overflow) return { complete: false, reason: 'oversize' };
    const type = this.headers['content-type'] ?? '';
    const body = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bytes);
    let sse: boolean;
    if (type.includes('text/event-stream')) sse = true;
    else if (type.includes('application/json')) sse = false;
    else return { complete: false, reason: 'content-type' };
    if (sse && !endsWithTerminal(body, this.dialect)) return { complete: false, reason: 'unterminated' };
    return {
      complete: true,
      response: { status: 200, headers: { ...this.headers }, body },
      savings: sse ? sseSavings(body) : jsonSavings(body),
    };
  }
}

/** True when the stream's last event is OpenAI's `data: [DONE]` or Anthropic's `message_stop`. */
export function endsWithTerminal(body: Buffer, dialect: 'openai' | 'anthropic'): boolean {
  const tail = body.subarray(Math.max(0, body.length - TAIL_BYTES)).toString('utf8');
  const events = tail.split(/\r?\n\r?\n/).map((e) => e.trim()).filter((e) => e !== '');
  const last = events.at(-1);
  if (last === undefined) return false;
  const lines = last.split(/\r?\n/).map((l) => l.trim());
  return dialect === 'openai'
    ? lines.includes('data: [DONE]') || lines.includes('data:[DONE]')
    : lines.includes('event: message_stop') || lines.includes('event:message_stop');
}

function jsonSavings(body: Buffer): Savings {
  try {
    return savingsOf(JSON.parse(body.toString('utf8')));
  } catch {
    return { promptTokens: null, prefillSeconds: null };
  }
}

// Timings ride on the last chunk (OpenAI dialect); Anthropic's usage comes in message_start and
// message_delta. The latest event that says something wins, field by field.
function sseSavings(body: Buffer): Savings {
  const out: Savings = { promptTokens: null, prefillSeconds: null };
  for (const line of body.toString('utf8').split('\n')) {
    if (!line.startsWith('data:') || !(line.includes('"timings"') || line.includes('"usage"'))) continue;
    try {
      const found = savingsOf(JSON.parse(line.slice(5)));
      out.promptTokens = found.promptTokens ?? out.promptTokens;
      out.prefillSeconds = found.prefillSeconds ?? out.prefillSeconds;
    } catch {
      // A data line that is not JSON carries nothing to count.
    }
  }
  return out;
}

function savingsOf(event: unknown): Savings {
  const e = record(event);
  const timings = record(e?.timings);
  const usage = record(e?.usage) ?? record(record(e?.message)?.usage);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
  const promptN = num(timings?.prompt_n);
  const cacheN = num(timings?.cache_n);
  const promptMs = num(timings?.prompt_ms);
  let promptTokens = promptN === null ? null : promptN + (cacheN ?? 0);
  if (promptTokens === null && usage !== undefined) {
    const openai = num(usage.prompt_tokens);
    const anthropic = num(usage.input_tokens);
    promptTokens = openai ?? (anthropic === null ? null : anthropic + (num(usage.cache_read_input_tokens) ?? 0));
  }
  return { promptTokens, prefillSeconds: promptMs === null ? null : promptMs / 1000 };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
