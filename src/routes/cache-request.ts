// The response cache's view of an analysed request: its path, dialect, model and the key
// material the worker computed (none when the cache is off everywhere).
import type { CacheRequest } from '../response-cache/layer.js';
import type { AnalyzeSuccess } from '../../workers/analyze.js';
import type { RequestContext } from './context.js';

/** Builds the layer's request for a body the worker analysed. */
export function cacheRequest(ctx: RequestContext, path: string, dialect: 'openai' | 'anthropic', model: string, analysis: AnalyzeSuccess): CacheRequest {
  const keys = analysis.cacheKeys;
  return {
    route: path, dialect, model,
    rawBody: keys?.raw ?? null, normalizedBody: keys?.normalized ?? null, suffixBody: keys?.suffix ?? null,
    // Unknown is treated as sampling: never serve a stored answer on a guess.
    sampling: keys?.sampling ?? true,
    headers: ctx.req.headers,
  };
}
