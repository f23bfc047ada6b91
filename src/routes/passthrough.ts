// Any other path (/tokenize, /props, /embeddings, /slots…) goes as it is to a server of the
// request's model. No slot is chosen: these routes either use none or pick their own.
import { Buffer } from 'node:buffer';
import { readBody } from '../body-limit.js';
import { SlotkeeperError } from '../errors.js';
import { type BodyTransform, type RelayResult, relay } from '../proxy/relay.js';
import { clientSink, type ResponseSink } from '../proxy/sink.js';
import { type RequestContext, type RouteDeps, type RouteUpstream, upstreamHeaders } from './context.js';

// The model of a passthrough body is read on the main thread; bodies this small parse in well
// under a millisecond, and larger ones (rare on these routes) go to the default model.
const MAX_INLINE_PARSE_BYTES = 64 * 1024;

/** A passthrough handler: forwards each request untouched to a ready server of its model, round-robin among them. */
export type PassthroughHandler = (ctx: RequestContext, declaredLength: number | undefined) => Promise<void>;

/** Creates the passthrough handler; each gateway has its own round-robin position. */
export function createPassthrough(deps: RouteDeps): PassthroughHandler {
  let next = 0;
  return (ctx, declaredLength) => forward(ctx, deps, declaredLength, () => next++);
}

async function forward(ctx: RequestContext, deps: RouteDeps, declaredLength: number | undefined, turn: () => number): Promise<void> {
  const { req, target } = ctx;
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const body = hasBody ? new Uint8Array(await readBody(req, { limitBytes: deps.config.limits.bodyBytes, declaredLength, hold: ctx.hold })) : undefined;
  const model = new URLSearchParams(target.search).get('model') ?? (body ? modelOf(body) : null);
  const { model: resolved, upstreams } = deps.fleet.resolveModel(model);
  ctx.model = resolved;
  const { complete } = await sendAndRelay(ctx, deps, upstreams[turn() % upstreams.length]!,
    { path: target.path + target.search, method: req.method ?? 'GET', body }, { signal: ctx.signal, sink: clientSink(ctx.res) });
  // The body was cut: so is the client's, which is the only way left to say so mid-body.
  if (!complete) ctx.res.destroy();
}

/**
 * Sends one request to `upstream` and relays its answer into `call.sink`, optionally rewritten by
 * the transform `transformFor(status)` picks; a connection failure drains the upstream. For routes
 * that use no slot.
 */
export async function sendAndRelay(
  ctx: RequestContext, deps: RouteDeps, upstream: RouteUpstream,
  request: { path: string; method: string; body?: Uint8Array },
  call: { signal: AbortSignal; sink: ResponseSink },
  transformFor?: (status: number) => BodyTransform | undefined,
): Promise<RelayResult> {
  const upstreamRes = await deps.client.send({
    base: upstream.url, path: request.path, method: request.method,
    headers: upstreamHeaders(ctx, upstream, deps.config),
    ...(request.body ? { body: [request.body] } : {}),
    signal: call.signal, headersTimeoutMs: deps.config.limits.upstreamHeadersTimeoutMs,
  }).catch((err: unknown) => {
    // Only a connection failure is the server's; a client that left (or a headers timeout) is not.
    if (err instanceof SlotkeeperError && err.code === 'upstream_unreachable') deps.fleet.reportFailure(upstream, err);
    throw err;
  });
  const transform = transformFor?.(upstreamRes.statusCode ?? 502);
  const { upstreamIdleTimeoutMs: idleTimeoutMs, clientWriteTimeoutMs } = deps.config.limits;
  return relay(upstreamRes, call.sink, { idleTimeoutMs, clientWriteTimeoutMs, signal: call.signal, transform });
}

function modelOf(body: Uint8Array): string | null {
  if (body.byteLength === 0 || body.byteLength > MAX_INLINE_PARSE_BYTES) return null;
  try {
    const parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as { model?: unknown };
    return typeof parsed?.model === 'string' ? parsed.model : null;
  } catch {
    // Not JSON: llama-server will say what is wrong with it; the model falls back as if unnamed.
    return null;
  }
}
