// relay.ts for a cached route: copies an upstream response into an UpstreamSink (one client, or a
// coalesced flight) instead of a ServerResponse, with the same idle timeout and backpressure.
import type { IncomingMessage } from 'node:http';
import type { TimingsTap } from '../proxy/timings.js';
import type { UpstreamSink } from './coalescer.js';

/** Options for {@link relayToSink}. */
export interface SinkRelayOptions {
  /** Longest silence from the upstream mid-body, ms; the stream is cut after. */
  idleTimeoutMs: number;
  /** Sees every chunk (reads timings). */
  tap?: TimingsTap;
  /** Headers to add to the upstream's (x-slotkeeper-upstream…), so every listener gets them. */
  extraHeaders?: Readonly<Record<string, string>>;
  /** Called once, when the first body chunk is handed to the sink. */
  onFirstByte?: () => void;
  /** The flight's signal: aborting it cuts the upstream. */
  signal: AbortSignal;
}

/** Copies status, headers and body from `upstream` into `sink`. Never rejects; `complete` as in relay.ts. */
export function relayToSink(upstream: IncomingMessage, sink: UpstreamSink, options: SinkRelayOptions): Promise<{ complete: boolean }> {
  sink.head(upstream.statusCode ?? 502, { ...upstream.headers, ...options.extraHeaders });
  return new Promise((resolve) => {
    let first = true;
    let done = false;
    const finish = (complete: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      upstream.off('data', onData);
      options.signal.removeEventListener('abort', onAbort);
      if (complete) sink.end();
      else upstream.destroy();
      resolve({ complete });
    };
    const idle = setTimeout(() => finish(false), options.idleTimeoutMs);
    const onData = (chunk: Buffer) => {
      idle.refresh();
      options.tap?.write(chunk);
      if (first) {
        first = false;
        options.onFirstByte?.();
      }
      if (!sink.write(chunk)) {
        upstream.pause();
        sink.onDrain(() => upstream.resume());
      }
    };
    const onAbort = () => finish(false);
    if (options.signal.aborted) {
      finish(false);
      return;
    }
    options.signal.addEventListener('abort', onAbort, { once: true });
    upstream.on('data', onData);
    upstream.once('end', () => finish(true));
    upstream.once('error', () => finish(false));
    upstream.once('close', () => {
      if (!upstream.complete) finish(false);
    });
  });
}
