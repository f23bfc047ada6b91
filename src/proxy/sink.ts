// Where a relayed response goes: one client's ServerResponse, or a response-cache flight that
// fans it out to several. relay.ts writes to this contract only, so backpressure and the end of
// a body are handled the same way for both.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Response headers as received (node:http's shape). */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** Where an upstream response is written. */
export interface ResponseSink {
  /** Status and headers, once, before any chunk. */
  head(status: number, headers: HeaderBag): void;
  /** A body chunk. False: the receiver is congested; wait for {@link onDrain} before writing more. */
  write(chunk: Uint8Array): boolean;
  /** Calls `fn` once, when writing may go on. */
  onDrain(fn: () => void): void;
  /** The upstream body ended normally. Not calling it means the body was cut. */
  end(): void;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never relayed.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** The end-to-end headers of `headers`, plus `extra`. */
export function endToEndHeaders(headers: HeaderBag, extra: Readonly<Record<string, string>> = {}): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value as OutgoingHttpHeaders[string];
  }
  return Object.assign(out, extra);
}

/** A {@link ResponseSink} that writes to one client, and says how far it got. */
export interface ClientSink extends ResponseSink {
  /** The status line went out. */
  readonly started: boolean;
  /** The body ended. */
  readonly ended: boolean;
}

/**
 * A sink straight to `res`; `extra` headers are added to the upstream's. Headers are flushed at
 * once, so a streaming client learns the upstream accepted its request before the first token.
 */
export function clientSink(res: ServerResponse, extra: Readonly<Record<string, string>> = {}): ClientSink {
  let started = false;
  let ended = false;
  return {
    get started() {
      return started;
    },
    get ended() {
      return ended;
    },
    head(status, headers) {
      started = true;
      res.writeHead(status, endToEndHeaders(headers, extra));
      res.flushHeaders();
    },
    write: (chunk) => res.write(chunk),
    onDrain(fn) {
      res.once('drain', fn);
    },
    end() {
      ended = true;
      res.end();
    },
  };
}
