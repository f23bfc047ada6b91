// What the workers' normalization rules did to a request: counted per rule, and logged with a
// sample of the text before and after when the gateway runs verbose.
import type { RuleApplied } from '../../workers/normalize.js';
import type { RequestContext, RouteDeps } from './context.js';

/** Counts (and in verbose mode logs) each rule that changed the request. */
export function recordNormalization(ctx: RequestContext, deps: RouteDeps, applied: readonly RuleApplied[]): void {
  for (const { rule, bytes, before, after } of applied) {
    deps.metrics.normalizeApplied.inc({ rule });
    deps.metrics.normalizeBytes.inc({ rule }, bytes);
    if (deps.config.verbose && before !== undefined) {
      deps.log?.(`${ctx.id} normalize ${rule} ${bytes}B before=${JSON.stringify(before)} after=${JSON.stringify(after)}`);
    }
  }
}
