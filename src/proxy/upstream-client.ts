// HTTP calls to upstreams: one keep-alive agent per upstream, request bodies written as parts
// (so `"id_slot":N` goes in without copying the body), and every failure turned into a coded
// error that says it was seen by slotkeeper.
import { Agent, type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SlotkeeperError } from '../errors.js';

/** One request to an upstream. */
export interface UpstreamCall {
  /** The upstream's base URL. */
  base: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  method: string;
  headers: OutgoingHttpHeaders;
  /** Body parts, written in order; their lengths make the content-length. */
  body?: readonly Uint8Array[];
  /** Aborts the call (the client went away). */
  signal: AbortSignal;
  /** Longest wait for response headers, ms; llama-server sends them after prefill. */
  headersTimeoutMs: number;
}

/**
 * `base` + `path` as one URL, refusing any path that would leave the upstream. `new URL(path,
 * base)` reads a path starting with `//` as another host (issue #16: passthrough reached any host
 * with the upstream's apiKey attached); this is asserted here so no caller can bring that back.
 */
export function upstreamUrl(base: string, path: string): URL {
  const origin = new URL(base).origin;
  const url = path.startsWith('/') && !path.startsWith('//') ? new URL(base.replace(/\/+$/, '') + path) : null;
  if (url === null || url.origin !== origin) {
    throw new SlotkeeperError('internal_error', `slotkeeper: refused to send a request for ${JSON.stringify(path.slice(0, 100))} to other than ${origin}`);
  }
  return url;
}

/** A pooled connection was closed under a request; worth one retry on a fresh connection. */
class StaleConnection extends Error {
  readonly error: SlotkeeperError;

  constructor(error: SlotkeeperError) {
    super(error.message);
    this.error = error;
  }
}

/** Keep-alive connection pools, one per upstream URL. */
export class UpstreamClient {
  private readonly agents = new Map<string, Agent>();

  /**
   * Sends `call` and resolves with the response once its headers arrived. A pooled connection
   * that turns out to be closed is retried once on a fresh one: llama-server (de3ff815ea7d) says
   * `Keep-Alive` on a streamed answer but closes the connection when the stream ends, so the next
   * request sent on it the same moment is reset before the server ever sees it.
   */
  async send(call: UpstreamCall): Promise<IncomingMessage> {
    try {
      return await this.attempt(call);
    } catch (err) {
      if (!(err instanceof StaleConnection)) throw err;
      return this.attempt(call, true).catch((retryErr: unknown) => {
        throw retryErr instanceof StaleConnection ? retryErr.error : retryErr;
      });
    }
  }

  private attempt(call: UpstreamCall, fresh = false): Promise<IncomingMessage> {
    const url = upstreamUrl(call.base, call.path);
    const https = url.protocol === 'https:';
    // agent false: a new connection of its own, so the retry cannot meet another stale one.
    const agent = fresh ? false : this.agentFor(call.base, https);
    const headers: OutgoingHttpHeaders = { ...call.headers };
    if (call.body) headers['content-length'] = call.body.reduce((n, part) => n + part.byteLength, 0);
    return new Promise((resolve, reject) => {
      if (call.signal.aborted) {
        reject(call.signal.reason);
        return;
      }
      const send = https ? httpsRequest : httpRequest;
      const req = send(url, { method: call.method, headers, agent });
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        call.signal.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => {
        settle(() => reject(call.signal.reason));
        req.destroy();
      };
      const timer = setTimeout(() => {
        settle(() => reject(new SlotkeeperError('upstream_timeout', `slotkeeper: ${call.base} sent no response headers within ${call.headersTimeoutMs} ms`)));
        req.destroy();
      }, call.headersTimeoutMs);
      call.signal.addEventListener('abort', onAbort, { once: true });
      req.on('response', (res) => settle(() => {
        // The caller now owns the response; a later abort must still end it.
        call.signal.addEventListener('abort', () => res.destroy(), { once: true });
        resolve(res);
      }));
      req.on('error', (err: NodeJS.ErrnoException) => settle(() => {
        const error = new SlotkeeperError('upstream_unreachable', `slotkeeper: could not reach ${call.base}: ${err.code ?? err.message}`, { cause: err });
        // reusedSocket is Node's; a runtime without it (undefined) is treated as possibly reused.
        const stale = req.reusedSocket !== false && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        reject(stale ? new StaleConnection(error) : error);
      }));
      for (const part of call.body ?? []) req.write(part);
      req.end();
    });
  }

  /** Closes every pooled connection. */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agentFor(base: string, https: boolean): Agent {
    let agent = this.agents.get(base);
    if (!agent) {
      agent = https ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
      this.agents.set(base, agent);
    }
    return agent;
  }
}
