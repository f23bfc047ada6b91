// The "least-loaded" baseline: what a plain load balancer (nginx least_conn, HAProxy leastconn)
// gives in front of several llama-servers. Each request goes to the server with the fewest
// requests in flight, ties in turn, with no regard for what any server has cached; the body
// streams through both ways.
import { Buffer } from 'node:buffer';
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

/**
 * A path prefix `/req/<n>` tags a request with the caller's number for it; the balancer strips it
 * and reports the number with its choice. The bench's replay knows a request only by which of its
 * base URLs it used, so it is given one base URL per request.
 */
const TAG = /^\/req\/(\d+)(?=\/|$)/;

/** One routing decision. */
export interface Routed {
  /** The request's tag (`/req/<n>/…`), or null when it had none. */
  tag: number | null;
  /** Index of the chosen upstream. */
  server: number;
  /** Requests in flight on each upstream, this one included. */
  inFlight: readonly number[];
}

/** Options for {@link startBalancer}. */
export interface BalancerOptions {
  /** Base URLs of the servers, e.g. `http://127.0.0.1:8080`. */
  upstreams: readonly string[];
  /** Told about every routing decision, synchronously, before the request is forwarded. */
  onRoute?: (routed: Routed) => void;
  /** Told when a request's response has ended or its client went away, after its count was released. */
  onDone?: (routed: Routed) => void;
}

/** A running balancer. */
export interface Balancer {
  /** Its base URL on 127.0.0.1. */
  readonly url: string;
  /** Requests in flight on each upstream now (a copy). */
  inFlight(): number[];
  /** Stops listening and drops every connection, in flight or idle; the upstreams are untouched. */
  close(): Promise<void>;
}

/** Picks the upstream with the fewest requests in flight; among equals, the first at or after `from`. */
export function leastLoaded(inFlight: readonly number[], from: number): number {
  let best = -1;
  for (let k = 0; k < inFlight.length; k++) {
    const i = (from + k) % inFlight.length;
    if (best === -1 || inFlight[i]! < inFlight[best]!) best = i;
  }
  return best;
}

/** Starts a least-loaded proxy on 127.0.0.1 (a free port) and resolves once it listens. */
export async function startBalancer(options: BalancerOptions): Promise<Balancer> {
  const upstreams = options.upstreams.map((u) => new URL(u));
  if (upstreams.length === 0) throw new Error('balancer: no upstream');
  const inFlight = upstreams.map(() => 0);
  // Ties go round-robin, so an idle fleet is filled evenly rather than from server 0.
  let next = 0;

  const server = createServer((req, res) => {
    const match = TAG.exec(req.url ?? '/');
    const tag = match ? Number(match[1]) : null;
    const path = match ? (req.url ?? '/').slice(match[0].length) || '/' : req.url ?? '/';
    const chosen = leastLoaded(inFlight, next);
    next = (chosen + 1) % upstreams.length;
    inFlight[chosen]!++;
    options.onRoute?.({ tag, server: chosen, inFlight: [...inFlight] });
    // 'close' comes once per response, whether it finished or the client went away.
    res.once('close', () => {
      inFlight[chosen]!--;
      options.onDone?.({ tag, server: chosen, inFlight: [...inFlight] });
    });

    const target = upstreams[chosen]!;
    const upstreamReq = request({
      host: target.hostname, port: target.port, path, method: req.method,
      // A fresh connection per request, as nginx proxies by default. Pooling would also hit a
      // llama-server quirk: cpp-httplib answers a stream with `Keep-Alive: timeout=5` yet closes
      // the connection when the stream ends, so a request sent on it at once is reset.
      headers: forwardable(req.headers), agent: false,
    });
    upstreamReq.once('response', (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, forwardable(upstreamRes.headers));
      // A stream's headers reach the client at once, as they would from the server itself.
      res.flushHeaders();
      // pipeline pauses the upstream while the client is slow and destroys both ends on failure.
      pipeline(upstreamRes, res, () => {});
    });
    upstreamReq.once('error', (err) => {
      if (res.headersSent) { res.destroy(err); return; }
      const body = JSON.stringify({ error: { code: 502, type: 'server_error', message: `balancer: ${target.origin}: ${err.message}` } });
      res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    // A client that goes away cancels its upstream request, so the server stops generating.
    res.once('close', () => { if (!res.writableFinished) upstreamReq.destroy(); });
    pipeline(req, upstreamReq, (err) => { if (err) upstreamReq.destroy(err); });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    inFlight: () => [...inFlight],
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}
