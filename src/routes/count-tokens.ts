// POST /v1/messages/count_tokens: the Anthropic body, normalized the way /v1/messages would be,
// goes to llama-server's own count_tokens (it tokenizes the chat prompt; no slot is used), so
// the count is of the prompt the model will really see. The count is deterministic, so the
// response cache may answer it (under its own path: never a /v1/messages answer).
import { readBody } from '../body-limit.js';
import { anthropicError } from '../dialects/openai-to-anthropic.js';
import { errorFromWorker } from '../errors.js';
import { bufferedJson } from '../proxy/buffered-json.js';
import type { ResponseCache } from '../response-cache/layer.js';
import type { WorkerPool } from '../worker-pool.js';
import { cacheRequest } from './cache-request.js';
import type { RequestContext, RouteDeps } from './context.js';
import { namingModel } from './naming-model.js';
import { recordNormalization } from './normalization.js';
import { sendAndRelay } from './passthrough.js';

/** What the count_tokens route needs beyond the shared deps. */
export interface CountTokensDeps extends RouteDeps {
  pool: WorkerPool;
  cache: ResponseCache;
}

const PATH = '/v1/messages/count_tokens';

/** Creates the handler; each gateway spreads these requests round-robin over a model's servers. */
export function createCountTokens(deps: CountTokensDeps): (ctx: RequestContext, declaredLength: number | undefined) => Promise<void> {
  let next = 0;
  return async (ctx, declaredLength) => {
    const { config } = deps;
    const body = await readBody(ctx.req, { limitBytes: config.limits.bodyBytes, declaredLength, hold: ctx.hold });
    const analysis = await deps.pool.analyze(body, {
      route: 'count_tokens', blockChars: config.scheduler.blockChars, samples: config.verbose, cacheKeys: deps.cache.active, signal: ctx.signal,
    });
    if (!analysis.ok) throw errorFromWorker(analysis);
    recordNormalization(ctx, deps, analysis.normalized);
    const { model, upstreams } = deps.fleet.resolveModel(analysis.model);
    ctx.model = model;
    const upstream = upstreams[next++ % upstreams.length]!;
    await deps.cache.handle(ctx, cacheRequest(ctx, config, PATH, 'anthropic', model, analysis), async (signal, sink) => {
      // llama-server's answer is already Anthropic's ({"input_tokens": n}); only errors need translating.
      const body = upstream.routesByModel === true && analysis.model !== model ? namingModel(analysis.forward, model).bytes : new Uint8Array(analysis.forward);
      await sendAndRelay(ctx, deps, upstream, { path: PATH, method: 'POST', body }, { signal, sink },
        (status) => (status < 300 ? undefined : bufferedJson(config.limits.translatedResponseBytes, (parsed) => anthropicError(status, parsed))));
    });
  };
}
