// Reads llama-server's `timings` from a response as it streams past, without holding the
// response back: the index and the metrics learn from it what was really reused.
import { StringDecoder } from 'node:string_decoder';

/** llama-server's per-request stats (server_slot_stats::to_json, llama.cpp de3ff815ea7d). */
export interface Timings {
  /** Prompt tokens reused from the slot's cache. */
  cacheN: number;
  /** Prompt tokens evaluated. */
  promptN: number;
  promptMs: number;
  predictedN: number;
  predictedMs: number;
}

// A JSON body longer than this is passed on without being read for timings; answers are
// rarely more than a few hundred KB.
const MAX_JSON_BYTES = 8 * 1024 * 1024;
// An SSE line longer than this (no newline yet) is not one we need.
const MAX_LINE_CHARS = 1024 * 1024;

/** Watches a response body go by and picks out its timings. */
export interface TimingsTap {
  write(chunk: Buffer): void;
  /** Timings once the body ended; null when the response carried none. */
  end(): Timings | null;
}

/** A tap for `text/event-stream` (timings ride on the last data event) or for a JSON body. */
export function timingsTap(contentType: string | undefined): TimingsTap {
  return contentType?.includes('text/event-stream') ? sseTap() : jsonTap();
}

function sseTap(): TimingsTap {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let found: Timings | null = null;
  const line = (text: string) => {
    // Only the event that carries timings is parsed; every other chunk costs one indexOf.
    if (!text.startsWith('data:') || !text.includes('"timings"')) return;
    found = fromJson(text.slice(5)) ?? found;
  };
  return {
    write(chunk) {
      const text = carry + decoder.write(chunk);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        line(text.slice(start, nl).trimEnd());
        start = nl + 1;
      }
      carry = text.length - start > MAX_LINE_CHARS ? '' : text.slice(start);
    },
    end() {
      line((carry + decoder.end()).trimEnd());
      return found;
    },
  };
}

function jsonTap(): TimingsTap {
  const chunks: Buffer[] = [];
  let bytes = 0;
  return {
    write(chunk) {
      bytes += chunk.length;
      if (bytes <= MAX_JSON_BYTES) chunks.push(chunk);
    },
    end() {
      if (bytes > MAX_JSON_BYTES) return null;
      return fromJson(Buffer.concat(chunks).toString('utf8'));
    },
  };
}

function fromJson(text: string): Timings | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (an upstream error page, a truncated stream): no timings to learn from.
    return null;
  }
  return timingsOf(parsed);
}

/** The `timings` of an already parsed llama-server answer or chunk; null when it has none. */
export function timingsOf(parsed: unknown): Timings | null {
  const t = (parsed as { timings?: Record<string, unknown> } | null)?.timings;
  if (!t || typeof t !== 'object') return null;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  if (typeof t.prompt_n !== 'number' || typeof t.cache_n !== 'number') return null;
  return { cacheN: num(t.cache_n), promptN: num(t.prompt_n), promptMs: num(t.prompt_ms), predictedN: num(t.predicted_n), predictedMs: num(t.predicted_ms) };
}
