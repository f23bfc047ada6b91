// Passes an upstream response on as it arrives, with backpressure both ways: when the receiver
// is congested the upstream is paused, when the signal aborts (the client, or every client of a
// coalesced flight, went away) the upstream is cut. Two clocks bound a stream, never both at
// once: the upstream's silence while the relay waits on it, and the receiver's while the relay
// waits for it to drain. A slow reader is not a dead upstream.
import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { ResponseSink } from './sink.js';
import type { TimingsTap } from './timings.js';

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
  /** Longest silence from the upstream mid-body while the relay waits on it, ms; the stream is cut after. */
  idleTimeoutMs: number;
  /** Longest wait for a congested receiver to drain (the upstream paused meanwhile), ms; the stream is cut after. */
  clientWriteTimeoutMs: number;
  /** Aborting it cuts the upstream. */
  signal: AbortSignal;
  /** Sees every chunk (reads timings). */
  tap?: TimingsTap;
  /** Called once, when the first body byte is handed to the sink. */
  onFirstByte?: () => void;
  /** Rewrites the body on its way (sees upstream bytes after the tap). */
  transform?: BodyTransform;
  /** Headers added to the upstream's (where the request ran). */
  extraHeaders?: Readonly<Record<string, string>>;
}

/** How a relay ended. */
export interface RelayResult {
  /** True when the upstream body ended normally and all of it was handed to the sink. */
  complete: boolean;
}

/** Copies status, headers and body from `upstream` into `sink`. Never rejects. */
export function relay(upstream: IncomingMessage, sink: ResponseSink, options: RelayOptions): Promise<RelayResult> {
  const { transform, signal } = options;
  const headers: Record<string, string | string[] | undefined> = { ...upstream.headers, ...options.extraHeaders };
  if (transform) {
    delete headers['content-length'];
    headers['content-type'] = transform.contentType;
  }
  sink.head(upstream.statusCode ?? 502, headers);

  return new Promise((resolve) => {
    let first = true;
    let done = false;
    const firstByte = () => {
      if (!first) return;
      first = false;
      options.onFirstByte?.();
    };
    const finish = (complete: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      clearTimeout(stuck);
      upstream.off('data', onData);
      signal.removeEventListener('abort', onAbort);
      if (complete) {
        const tail = transform?.end() ?? '';
        if (tail !== '') {
          firstByte();
          sink.write(Buffer.from(tail));
        }
        sink.end();
      } else {
        upstream.destroy();
      }
      resolve({ complete });
    };
    const onIdle = () => finish(false);
    let idle = setTimeout(onIdle, options.idleTimeoutMs);
    let stuck: ReturnType<typeof setTimeout> | undefined;
    const onDrained = () => {
      if (done) return;
      clearTimeout(stuck);
      stuck = undefined;
      idle = setTimeout(onIdle, options.idleTimeoutMs);
      upstream.resume();
    };
    const onData = (chunk: Buffer) => {
      idle.refresh();
      options.tap?.write(chunk);
      const out = transform ? transform.write(chunk) : chunk;
      if (out === null) return finish(false);
      if (out.length === 0) return;
      firstByte();
      if (!sink.write(typeof out === 'string' ? Buffer.from(out) : out)) {
        // Waiting on the receiver now: the upstream's silence is ours, not its.
        upstream.pause();
        clearTimeout(idle);
        stuck = setTimeout(() => finish(false), options.clientWriteTimeoutMs);
        sink.onDrain(onDrained);
      }
    };
    const onAbort = () => finish(false);
    if (signal.aborted) return finish(false);
    signal.addEventListener('abort', onAbort, { once: true });
    upstream.on('data', onData);
    upstream.once('end', () => finish(true));
    // 'aborted' on older runtimes, 'error' or a premature 'close' on newer ones: all mean the body is cut.
    upstream.once('error', () => finish(false));
    upstream.once('close', () => {
      if (!upstream.complete) finish(false);
    });
  });
}
