// The normalization hook: rewrites a parsed request before it is canonicalized, hashed and
// forwarded, for clients that put volatile text where it defeats prefix caching. The first rule
// arrives with its own issue (Claude Code's billing header); until then the list is empty and
// every body passes through untouched, byte for byte.
//
// A rule that changes a body makes the worker re-serialize it, so the upstream sees exactly what
// was hashed. Rules must be deterministic: the same body always normalizes to the same body.

import type { Route } from './canonical.js';

/** One rewrite: mutates `body` in place and returns true when it changed anything. */
export type NormalizeRule = (body: Record<string, unknown>, route: Route) => boolean;

/** The rules applied to every request, in order. Empty until a rule has an issue behind it. */
export const normalizeRules: readonly NormalizeRule[] = [];

/** Applies every rule to `body` in place; true when any of them changed it. */
export function normalizeRequest(body: Record<string, unknown>, route: Route): boolean {
  let changed = false;
  for (const rule of normalizeRules) {
    // No short-circuit: every rule runs even after one has changed the body.
    if (rule(body, route)) changed = true;
  }
  return changed;
}
