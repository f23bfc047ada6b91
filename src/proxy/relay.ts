// Passes an upstream response on to the client as it arrives, with backpressure both ways: when
// the client is slow the upstream is paused, when the client goes away the upstream is cut.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TimingsTap } from './timings.js';

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never relayed.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** Rewrites a body as it passes (dialect translation); the relay keeps its backpressure. */
export interface BodyTransform {
  /** Content type of what the transform emits; the upstream's length and type are dropped. */
  contentType: string;
  /** Takes an upstream chunk; returns what to send now, or null to cut the response. */
  write(chunk: Buffer): string | null;
  /** The upstream body ended; returns the rest to send. */
  end(): string;
}

/** Options for {@link relay}. */
export interface RelayOptions {
  /** Longest silence from the upstream mid-body, ms; the stream is cut after. */
  idleTimeoutMs: number;
  /** Sees every chunk (reads timings). */
  tap?: TimingsTap;
  /** Called once, when the first body byte is written to the client. */
  onFirstByte?: () => void;
  /** Rewrites the body on its way (sees upstream bytes after the tap). */
  transform?: BodyTransform;
}

/** How a relay ended. */
export interface RelayResult {
  /** True when the upstream body ended normally and the client got all of it. */
  complete: boolean;
}

/** Copies status, headers and body from `upstream` to `res`. Never rejects. */
export function relay(upstream: IncomingMessage, res: ServerResponse, options: RelayOptions): Promise<RelayResult> {
  const { transform } = options;
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (transform && (name === 'content-length' || name === 'content-type')) continue;
    res.setHeader(name, value);
  }
  if (transform) res.setHeader('content-type', transform.contentType);
  res.writeHead(upstream.statusCode ?? 502);
  // Flush headers now: for a stream the client learns at once that the upstream accepted it.
  res.flushHeaders();

  return new Promise((resolve) => {
    let first = true;
    let done = false;
    const finish = (complete: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      upstream.off('data', onData);
      res.off('close', onClientClose);
      if (complete) {
        const tail = transform?.end() ?? '';
        if (tail !== '' && first) options.onFirstByte?.();
        res.end(tail);
        resolve({ complete: !res.destroyed });
      } else {
        upstream.destroy();
        res.destroy();
        resolve({ complete: false });
      }
    };
    const idle = setTimeout(() => finish(false), options.idleTimeoutMs);
    const onData = (chunk: Buffer) => {
      idle.refresh();
      options.tap?.write(chunk);
      const out = transform ? transform.write(chunk) : chunk;
      if (out === null) return finish(false);
      if (out.length === 0) return;
      if (first) {
        first = false;
        options.onFirstByte?.();
      }
      if (!res.write(out)) {
        upstream.pause();
        res.once('drain', () => upstream.resume());
      }
    };
    const onClientClose = () => finish(false);
    upstream.on('data', onData);
    upstream.once('end', () => finish(true));
    // 'aborted' on older runtimes, 'error' or a premature 'close' on newer ones: all mean the body is cut.
    upstream.once('error', () => finish(false));
    upstream.once('close', () => {
      if (!upstream.complete) finish(false);
    });
    res.once('close', onClientClose);
  });
}
