// The response cache's view of an analysed request: its path, dialect, model and the key
// material the worker computed (none when the cache is off everywhere).
import type { Config } from '../config/config.js';
import type { CacheRequest } from '../response-cache/layer.js';
import type { AnalyzeSuccess } from '../../workers/analyze.js';
import type { RequestContext } from './context.js';

/** Builds the layer's request for a body the worker analysed. */
export function cacheRequest(ctx: RequestContext, config: Config, path: string, dialect: 'openai' | 'anthropic', model: string, analysis: AnalyzeSuccess): CacheRequest {
  const keys = analysis.cacheKeys;
  return {
    route: path, dialect, model,
    rawBody: keys?.raw ?? null, normalizedBody: keys?.normalized ?? null, suffixBody: keys?.suffix ?? null,
    // Unknown is treated as sampling: never serve a stored answer on a guess.
    sampling: keys?.sampling ?? true,
    // Without a gateway token the client's own credentials go upstream (context.ts), and the
    // upstream's verdict on them must not be skipped by a stored or shared answer.
    upstreamChecksCredentials: config.authToken === null,
    headers: ctx.req.headers,
  };
}
