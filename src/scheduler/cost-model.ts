// The cost model: expected time to first token of a choice, and the value of what a slot holds.
// Pure functions of numbers; the policy (policy.ts) compares choices with them.
import type { SlotContent } from '../prefix/prefix-index.js';
import type { Rates } from './rates.js';

/** Tuning of the cost model; every field has a default in src/defaults.ts. */
export interface CostParams {
  /** Characters per hashed block (the worker's blockChars). */
  blockChars: number;
  /** A slot's content loses half its chance of being reused again every this many ms idle. */
  reuseHalfLifeMs: number;
  /** Tokens the server's RAM prompt cache holds (0: none). */
  ramCacheTokens: number;
}

/** Tokens of a prompt of `chars` canonical characters at the server's measured ratio. */
export function promptTokens(chars: number, rates: Rates): number {
  return chars * rates.tokensPerChar;
}

/** Tokens that `blocks` matched blocks stand for, never more than the slot holds. */
export function blockTokens(blocks: number, params: CostParams, rates: Rates, cap = Infinity): number {
  return Math.min(blocks * params.blockChars * rates.tokensPerChar, cap);
}

/** ms to prefill `tokens` at the server's measured prompt rate. */
export function prefillMs(tokens: number, rates: Rates): number {
  return Math.max(0, tokens) / rates.promptTokensPerMs;
}

/** ms a request is expected to hold its slot: prefill, then its answer. */
export function serviceMs(unmatchedTokens: number, maxTokens: number | null, rates: Rates): number {
  // Without max_tokens, assume an answer of a typical chat length; the EWMA of real service
  // times (rates.serviceMs) corrects waiting estimates over time.
  const answer = maxTokens ?? 256;
  return prefillMs(unmatchedTokens, rates) + answer / rates.genTokensPerMs;
}

/**
 * What overwriting `content` (all of it but `keptTokens`) costs in expected future prefill, ms: the prefill it would save the
 * next request that reuses it, times the chance that one comes (halving every reuseHalfLifeMs
 * idle), times the chance the content does not survive elsewhere. When the server has a RAM
 * prompt cache, llama-server saves the overwritten slot there, so it survives unless the cache
 * is small next to it (a heuristic: the share of the cache it would take).
 */
export function evictionCostMs(content: SlotContent | undefined, nowMs: number, params: CostParams, rates: Rates, copiedElsewhere: boolean, keptTokens = 0): number {
  if (!content || content.tokens === 0 || copiedElsewhere) return 0;
  // A request that keeps a prefix of the content (a system prompt two conversations share)
  // destroys only the rest; that prefix stays in the slot for the next request that shares it.
  const destroyed = Math.max(0, content.tokens - keptTokens);
  if (destroyed === 0) return 0;
  const idle = Math.max(0, nowMs - content.lastUsedMs);
  const reuse = Math.pow(0.5, idle / params.reuseHalfLifeMs);
  const ram = params.ramCacheTokens;
  const lost = ram > 0 ? Math.min(1, content.tokens / ram) : 1;
  return prefillMs(destroyed, rates) * reuse * lost;
}
