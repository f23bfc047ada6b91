// POST /v1/chat/completions, /v1/completions and (translated to chat) /v1/messages: analyse the
// body in a worker, answer from the response cache if it can, else choose a slot, hold its lease,
// forward with `id_slot` set, relay the answer as it streams (translated back for Anthropic
// clients, and to every identical request in flight), learn from timings.
import { Buffer } from 'node:buffer';
import { readBody } from '../body-limit.js';
import { AnthropicStream, anthropicError, anthropicMessage } from '../dialects/openai-to-anthropic.js';
import { SlotkeeperError, errorFromWorker } from '../errors.js';
import { bufferedJson } from '../proxy/buffered-json.js';
import { type BodyTransform, relay } from '../proxy/relay.js';
import type { ResponseSink } from '../proxy/sink.js';
import { type Timings, type TimingsTap, timingsOf, timingsTap } from '../proxy/timings.js';
import type { ResponseCache } from '../response-cache/layer.js';
import type { Placement, RoutedRequest, Router } from '../router.js';
import type { WorkerPool } from '../worker-pool.js';
import type { AnalyzeSuccess } from '../../workers/analyze.js';
import { cacheRequest } from './cache-request.js';
import { namingModel } from './naming-model.js';
import { type RequestContext, type RouteDeps, type RouteUpstream, upstreamHeaders } from './context.js';
import { recordNormalization } from './normalization.js';

/** What the completions routes need beyond the shared deps. */
export interface CompletionsDeps extends RouteDeps {
  pool: WorkerPool;
  router: Router;
  cache: ResponseCache;
}

/** One upstream call of a request: the flight's signal (which outlives any one client) and where the answer goes. */
interface Call {
  signal: AbortSignal;
  sink: ResponseSink;
}

/** The route a request came to; `messages` is forwarded to llama-server's chat route. */
export type CompletionsRoute = 'chat' | 'completions' | 'messages';

const PATHS: Record<CompletionsRoute, string> = { chat: '/v1/chat/completions', completions: '/v1/completions', messages: '/v1/chat/completions' };
const CLIENT_PATHS: Record<CompletionsRoute, string> = { chat: '/v1/chat/completions', completions: '/v1/completions', messages: '/v1/messages' };
const LABELS = { chat: 'chat_completions', completions: 'completions', messages: 'messages' } as const;

/** Handles one completions request end to end. */
export async function handleCompletions(route: CompletionsRoute, ctx: RequestContext, deps: CompletionsDeps, declaredLength: number | undefined): Promise<void> {
  const { config, metrics } = deps;
  const body = await readBody(ctx.req, { limitBytes: config.limits.bodyBytes, declaredLength, hold: ctx.hold });
  const analysisStarted = performance.now();
  const analysis = await deps.pool.analyze(body, {
    route, blockChars: config.scheduler.blockChars, samples: config.verbose, cacheKeys: deps.cache.active, signal: ctx.signal,
  });
  metrics.workerTask.observe((performance.now() - analysisStarted) / 1000);
  if (!analysis.ok) throw errorFromWorker(analysis);
  recordNormalization(ctx, deps, analysis.normalized);

  const resolved = deps.fleet.resolveModel(analysis.model);
  ctx.model = resolved.model;
  const request: RoutedRequest = {
    chain: analysis.hashes, promptChars: analysis.promptChars, maxTokens: analysis.maxTokens, clientSlot: analysis.clientSlot, model: resolved.model,
    fullHash: analysis.fullHash, ends: analysis.ends,
  };
  const dialect = route === 'messages' ? 'anthropic' : 'openai';
  await deps.cache.handle(ctx, cacheRequest(ctx, config, CLIENT_PATHS[route], dialect, resolved.model, analysis),
    (signal, sink) => run(route, ctx, deps, analysis, request, resolved.upstreams, { signal, sink }));
}

// One upstream call: place, prepare, forward. A server that cannot be reached is drained and the
// request tried once more elsewhere; that error comes from the send, before the relay writes any
// head (the relay never rejects), so nothing has reached a client yet.
async function run(route: CompletionsRoute, ctx: RequestContext, deps: CompletionsDeps, analysis: AnalyzeSuccess,
  request: RoutedRequest, candidates: RouteUpstream[], call: Call): Promise<void> {
  let upstreams = candidates;
  for (let attempt = 0; ; attempt++) {
    const placement = await deps.router.place(request, upstreams, call.signal);
    try {
      await deps.router.prepare(placement, request, ctx.model, call.signal);
      await forward(route, ctx, deps, analysis, request, placement, call);
      return;
    } catch (err) {
      placement.release();
      const unreachable = err instanceof SlotkeeperError && err.code === 'upstream_unreachable';
      if (unreachable) deps.fleet.reportFailure(placement.upstream, err);
      const others = upstreams.filter((u) => u.id !== placement.upstream.id);
      if (!unreachable || attempt > 0 || others.length === 0) throw err;
      deps.metrics.failovers.inc();
      upstreams = others;
    }
  }
}

async function forward(route: CompletionsRoute, ctx: RequestContext, deps: CompletionsDeps, analysis: AnalyzeSuccess,
  request: RoutedRequest, placement: Placement<RouteUpstream>, call: Call): Promise<void> {
  const { config, metrics } = deps;
  const { bytes, insertAt, emptyObject } = placement.upstream.routesByModel === true && analysis.model !== ctx.model
    ? namingModel(analysis.forward, ctx.model)
    : { bytes: new Uint8Array(analysis.forward), insertAt: analysis.insertAt, emptyObject: analysis.emptyObject };
  const fields = `"id_slot":${placement.slot},"cache_prompt":${analysis.cachePrompt}${emptyObject ? '' : ','}`;
  const upstreamRes = await deps.client.send({
    base: placement.upstream.url, path: PATHS[route], method: 'POST',
    headers: upstreamHeaders(ctx, placement.upstream, config),
    body: [bytes.subarray(0, insertAt), Buffer.from(fields), bytes.subarray(insertAt)],
    signal: call.signal, headersTimeoutMs: config.limits.upstreamHeadersTimeoutMs,
  });
  const ok = upstreamRes.statusCode !== undefined && upstreamRes.statusCode < 300;
  const contentType = upstreamRes.headers['content-type'];
  const { tap, transform } = route === 'messages'
    ? toAnthropic(upstreamRes.statusCode ?? 502, ok, contentType, config.limits.translatedResponseBytes)
    : { tap: ok ? timingsTap(contentType) : undefined, transform: undefined };
  const result = await relay(upstreamRes, call.sink, {
    idleTimeoutMs: config.limits.upstreamIdleTimeoutMs, clientWriteTimeoutMs: config.limits.clientWriteTimeoutMs, signal: call.signal, tap, transform,
    // Where the request ran, for clients and benchmarks that want to attribute latency.
    extraHeaders: {
      'x-slotkeeper-upstream': String(placement.upstream.id),
      'x-slotkeeper-slot': String(placement.slot),
      'x-slotkeeper-decision': placement.kind,
      ...(placement.restored ? { 'x-slotkeeper-restored': String(placement.restored.tokens) } : {}),
    },
    onFirstByte: () => metrics.timeToFirstByte.observe({ route: LABELS[route] }, (performance.now() - ctx.receivedMs) / 1000),
  });
  // An upstream error (4xx/5xx) ran no prompt, so the slot keeps what it had.
  if (!ok && result.complete) {
    placement.release();
    return;
  }
  deps.router.finish(placement, request, { complete: result.complete, timings: tap?.end() ?? null });
}

/**
 * Translates llama-server's chat answer (a stream, a JSON body or an error) for an Anthropic
 * client, and reads its timings from what the translation already parsed: each chunk once.
 */
function toAnthropic(status: number, ok: boolean, contentType: string | undefined, limitBytes: number): { tap?: TimingsTap; transform: BodyTransform } {
  if (!ok) return { transform: bufferedJson(limitBytes, (body) => anthropicError(status, body)) };
  if (contentType?.includes('text/event-stream')) {
    const stream = new AnthropicStream();
    return {
      tap: { write() {}, end: () => stream.timings },
      transform: { contentType: 'text/event-stream', write: (chunk) => stream.write(chunk), end: () => stream.end() },
    };
  }
  let timings: Timings | null = null;
  return {
    tap: { write() {}, end: () => timings },
    transform: bufferedJson(limitBytes, (body) => {
      timings = timingsOf(body);
      return anthropicMessage(typeof body === 'object' && body !== null ? body as Record<string, unknown> : {});
    }),
  };
}
