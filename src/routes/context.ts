// What every route handler gets: the request, the response, and the request's own state.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Config } from '../config/config.js';
import type { BodyHold } from '../body-limit.js';
import type { Metrics } from '../metrics.js';
import type { RequestTarget } from '../request-target.js';
import type { UpstreamClient } from '../proxy/upstream-client.js';
import type { RoutableUpstream } from '../router.js';

/** An upstream as routes see it. */
export interface RouteUpstream extends RoutableUpstream {
  readonly apiKey?: string | null;
  /** It picks its server by the body's `model` (llama-swap, router mode): send the resolved name, never an alias. */
  readonly routesByModel?: boolean;
}

/** What routes need of the fleet (src/fleet/fleet.ts). */
export interface FleetAccess<U extends RouteUpstream = RouteUpstream> {
  /** Ready upstreams serving `model`; throws model_not_found (404) or no_upstream (503). */
  resolveModel(model: string | null): { model: string; upstreams: U[] };
  /** A request could not reach `upstream`: drain it and re-probe. */
  reportFailure(upstream: U, error: unknown): void;
  /** OpenAI's merged model list. */
  modelList(): unknown;
}

/** One request in flight. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  id: string;
  /** The request's target, normalised and checked to be a path of this gateway (src/request-target.ts). */
  target: RequestTarget;
  /** The request's share of the buffered-body budget; released when the response closes. */
  hold?: BodyHold;
  /** When the request arrived (performance.now ms). */
  receivedMs: number;
  /** Aborted when the client goes away before its response is complete. */
  signal: AbortSignal;
  /** The model the request resolved to, for metrics; 'none' until known. */
  model: string;
}

/** Builds the headers sent upstream: the client's content headers, never its gateway token. */
export function upstreamHeaders(ctx: RequestContext, upstream: RouteUpstream, config: Config): OutgoingHttpHeaders {
  const h = ctx.req.headers;
  const headers: OutgoingHttpHeaders = { 'x-request-id': ctx.id };
  for (const name of ['content-type', 'accept', 'accept-language', 'user-agent'] as const) {
    if (h[name] !== undefined) headers[name] = h[name];
  }
  if (upstream.apiKey != null) {
    headers.authorization = `Bearer ${upstream.apiKey}`;
  } else if (config.authToken === null && config.adminToken === null) {
    // Without gateway credentials the client's own are meant for llama-server (--api-key).
    // With them they may be the gateway's token or its admin token (src/auth.ts), never sent on.
    if (h.authorization !== undefined) headers.authorization = h.authorization;
    if (h['x-api-key'] !== undefined) headers['x-api-key'] = h['x-api-key'];
  }
  return headers;
}

/** Everything routes share, injected once. */
export interface RouteDeps {
  config: Config;
  metrics: Metrics;
  client: UpstreamClient;
  fleet: FleetAccess;
  /** Where verbose lines go (stderr in the CLI). */
  log?: (line: string) => void;
}
