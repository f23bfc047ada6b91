// The overhead bench's HTTP client: node:http with one keep-alive agent, the same for the direct
// path and the path through slotkeeper, so the difference between the two is the gateway. (fetch
// would add undici's own overhead to both.) It runs in a worker thread (client-worker.ts) so its
// work never shows up in the gateway's event loop.
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'node:http';
import { type Body, type BodySpec, buildBody } from './bodies.js';

/** Every job POSTs chat completions to this path of its base `url`. */
const CHAT_PATH = '/v1/chat/completions';

/** One job for the client; `url` is a base URL, times are in ms. */
export type ClientJob =
  /** `count` requests one after the other. */
  | { kind: 'latency'; url: string; body: BodySpec; count: number }
  /** Closed loop: `concurrency` requests always in flight for `durationMs`. */
  | { kind: 'throughput'; url: string; body: BodySpec; concurrency: number; durationMs: number }
  /**
   * Opens `count` streams one after the other (the next once the last has its first byte),
   * reports 'open' once all have, cuts them `holdMs` later;
   * gives up (cuts them all, no 'open') if they are not all open within `openTimeoutMs`.
   */
  | { kind: 'streams'; url: string; body: BodySpec; count: number; holdMs: number; openTimeoutMs: number }
  /** One request, for its status and the start of its body. */
  | { kind: 'probe'; url: string; body: BodySpec };

/** What a job measured. */
export interface ClientResult {
  /** Whole-request latencies (first byte sent to last byte received) of the successful requests, ms. */
  latencies: number[];
  /** Time to the response headers, ms. */
  ttfb: number[];
  completed: number;
  errors: number;
  /** The first failure seen, to say why. */
  firstError?: string;
  elapsedMs: number;
  /** streams: response bytes received. */
  bytes?: number;
  /** streams: ms until every stream had its first byte. */
  openMs?: number;
  /** Requests sent again because the server had closed their kept-alive socket. */
  retries: number;
  /** probe: the status and the first bytes of the body. */
  status?: number;
  text?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
let sequence = 0;
let retries = 0;

interface Outcome {
  ok: boolean;
  status: number;
  ttfbMs: number;
  totalMs: number;
  text: string;
  error?: string;
  /** The request failed on a kept-alive socket before any answer: the server had closed it. */
  staleSocket?: boolean;
}

/**
 * Sends one request and reads its whole answer; a stream must end with `data: [DONE]`.
 * llama-server (cpp-httplib, b1-de3ff81) closes the connection after a streamed answer without
 * saying `Connection: close`, so the next request on that pooled socket fails at once. As Node's
 * docs advise for reused sockets, that request is sent again on a fresh one, timed from the
 * retry, and counted in `retries`.
 */
async function send(url: string, body: Body, stream: boolean, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<Outcome> {
  const parts = body.parts(sequence++);
  const first = await attempt(url, parts, stream, onBytes, signal);
  if (!first.staleSocket) return first;
  retries += 1;
  return attempt(url, parts, stream, onBytes, signal);
}

function attempt(url: string, parts: Buffer[], stream: boolean, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    let ttfbMs = 0;
    let status = 0;
    let settled = false;
    const done = (outcome: Omit<Outcome, 'ttfbMs' | 'totalMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, ttfbMs, totalMs: performance.now() - started });
    };
    const req = request(`${url}${CHAT_PATH}`, {
      method: 'POST', agent, signal,
      headers: { 'content-type': 'application/json', 'content-length': parts.reduce((n, part) => n + part.length, 0) },
    }, (res) => {
      ttfbMs = performance.now() - started;
      status = res.statusCode ?? 0;
      // Keep only the start (for errors) and the end (for [DONE]) of the body: no per-chunk work.
      let head = '';
      let last = '';
      res.on('data', (chunk: Buffer) => {
        if (head.length < 300) head += chunk.toString('latin1', 0, 300);
        last = chunk.length >= 32 ? chunk.toString('latin1', chunk.length - 32) : last + chunk.toString('latin1');
        onBytes?.(chunk.length);
      });
      res.on('end', () => {
        const ok = status >= 200 && status < 300 && (!stream || last.includes('data: [DONE]'));
        done({ ok, status, text: head, error: ok ? undefined : `status ${status}: ${head.slice(0, 200)}` });
      });
      res.on('error', (err) => done({ ok: false, status, text: head, error: err.message }));
      res.on('close', () => done({ ok: false, status, text: head, error: 'connection closed mid-response' }));
    });
    req.on('error', (err) => done({ ok: false, status, text: '', error: err.message, staleSocket: req.reusedSocket && status === 0 && !signal?.aborted }));
    for (const part of parts) req.write(part);
    req.end();
  });
}

/** Runs one job to the end. `onEvent` hears 'open' from a streams job. */
export async function runJob(job: ClientJob, onEvent: (event: string) => void = () => {}): Promise<ClientResult> {
  const body = buildBody(job.body);
  const result: ClientResult = { latencies: [], ttfb: [], completed: 0, errors: 0, elapsedMs: 0, retries: 0 };
  const retriesBefore = retries;
  const record = (outcome: Outcome) => {
    if (outcome.ok) {
      result.completed += 1;
      result.latencies.push(outcome.totalMs);
      result.ttfb.push(outcome.ttfbMs);
    } else {
      result.errors += 1;
      result.firstError ??= outcome.error;
    }
  };
  const started = performance.now();
  switch (job.kind) {
    case 'probe': {
      const outcome = await send(job.url, body, job.body.stream);
      record(outcome);
      Object.assign(result, { status: outcome.status, text: outcome.text });
      break;
    }
    case 'latency':
      for (let i = 0; i < job.count; i++) record(await send(job.url, body, job.body.stream));
      break;
    case 'throughput': {
      const until = started + job.durationMs;
      const loop = async () => {
        while (performance.now() < until) record(await send(job.url, body, job.body.stream));
      };
      await Promise.all(Array.from({ length: job.concurrency }, loop));
      break;
    }
    case 'streams': {
      const abort = new AbortController();
      setMaxListeners(job.count + 1, abort.signal);
      let bytes = 0;
      let opened = false;
      let cut = false;
      let openTimer: NodeJS.Timeout | undefined = setTimeout(() => abort.abort(), job.openTimeoutMs);
      let holdTimer: NodeJS.Timeout | undefined;
      // One at a time: each stream is sent once the previous one has its first byte (or failed),
      // as streams arrive in life, rather than 200 in the same instant.
      const streams: Promise<Outcome>[] = [];
      let firstBytes = 0;
      for (let i = 0; i < job.count && !abort.signal.aborted; i++) {
        let markOpen!: () => void;
        const firstByte = new Promise<void>((resolve) => (markOpen = resolve));
        let seen = false;
        const outcome = send(job.url, body, true, (n) => {
          bytes += n;
          if (seen) return;
          seen = true;
          firstBytes += 1;
          markOpen();
        }, abort.signal);
        streams.push(outcome);
        await Promise.race([firstByte, outcome]);
      }
      if (firstBytes === job.count) {
        opened = true;
        clearTimeout(openTimer);
        openTimer = undefined;
        result.openMs = performance.now() - started;
        onEvent('open');
        holdTimer = setTimeout(() => { cut = true; abort.abort(); }, job.holdMs);
      } else {
        abort.abort();
      }
      const outcomes = await Promise.all(streams);
      clearTimeout(openTimer);
      clearTimeout(holdTimer);
      // A stream that was still open when it was cut is what we wanted; one that ended or failed before is not.
      for (const outcome of outcomes) {
        if (cut && !outcome.ok && outcome.status === 200) result.completed += 1;
        else record({ ...outcome, ok: false, error: outcome.error ?? 'stream ended before the hold was over' });
      }
      result.bytes = bytes;
      if (!opened) result.firstError ??= `only ${firstBytes} of ${job.count} streams opened within ${job.openTimeoutMs} ms`;
      break;
    }
  }
  result.elapsedMs = performance.now() - started;
  result.retries = retries - retriesBefore;
  return result;
}
