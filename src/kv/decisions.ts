// When the disk tier saves and when it restores: pure functions of token counts and measured
// rates, so the router's hook only carries out what these say (STYLE.md §3).

/** What the tier has measured (or assumes until it has) of one server. */
export interface TierRates {
  /** Bytes of KV per token (n_written / n_saved of the last saves). */
  bytesPerToken: number;
  /** Save bandwidth, bytes per ms. */
  saveBytesPerMs: number;
  /** Restore bandwidth, bytes per ms. */
  restoreBytesPerMs: number;
  /** Fixed cost of one save or restore call (HTTP, file open, task queue), ms. */
  actionOverheadMs: number;
}

/** ms to save `tokens` tokens. */
export function saveMs(tokens: number, rates: TierRates): number {
  return rates.actionOverheadMs + (tokens * rates.bytesPerToken) / rates.saveBytesPerMs;
}

/** ms to restore a file of `bytes` bytes. */
export function restoreMs(bytes: number, rates: TierRates): number {
  return rates.actionOverheadMs + bytes / rates.restoreBytesPerMs;
}

/**
 * Tokens of a slot's content that a request destroys. A request that keeps every block of the
 * content extends it and destroys nothing; one that shares only a prefix (a system prompt common
 * to many conversations) keeps that prefix and destroys the rest, even when llama-server reuses
 * the slot as it is (f_keep >= 0.5): it truncates the slot to the common prefix before prefilling.
 */
export function lostTokens(content: { tokens: number; blocks: number }, sharedBlocks: number, tokensPerBlock: number): number {
  if (content.tokens <= 0 || sharedBlocks >= content.blocks) return 0;
  return Math.max(0, content.tokens - Math.max(0, sharedBlocks) * tokensPerBlock);
}

/** A slot's content is about to be overwritten, in whole or in part: is it worth saving first? */
export interface SaveQuestion {
  /** Tokens the slot holds. */
  tokens: number;
  /**
   * Tokens of it the overwriting request keeps in the slot (a shared prefix); a later restore
   * brings back only the rest. Default 0: the whole content is lost.
   */
  keptTokens?: number;
  /** ms since it was last used. */
  idleMs: number;
  /** Its chance of reuse halves every this many idle ms (defaults.reuseHalfLifeMs). */
  reuseHalfLifeMs: number;
  /** The server's prefill rate, tokens per ms. */
  promptTokensPerMs: number;
  /** A saved entry already holds all of it. */
  alreadySaved: boolean;
  /** Contents shorter than this are never saved (config kv.minSaveTokens). */
  minTokens: number;
  rates: TierRates;
}

/** The answer, with its arithmetic for logs and tests. */
export interface SaveAnswer {
  save: boolean;
  reason: 'saved_already' | 'too_short' | 'nothing_lost' | 'not_worth_it' | 'worth_it';
  /** Expected prefill a later restore saves, net of that restore, times the chance it comes. */
  valueMs: number;
  costMs: number;
}

/**
 * Save when the expected value (prefill time a restore would save × the chance of reuse)
 * beats the save's cost, which the overwriting request pays in waiting. What the request keeps
 * (a shared prefix) stays available without a restore, so only the lost tokens count as value,
 * while the restore still reads the whole file.
 */
export function decideSave(q: SaveQuestion): SaveAnswer {
  const costMs = saveMs(q.tokens, q.rates);
  const chance = Math.pow(0.5, Math.max(0, q.idleMs) / q.reuseHalfLifeMs);
  const lost = Math.max(0, q.tokens - Math.max(0, q.keptTokens ?? 0));
  const net = lost / q.promptTokensPerMs - restoreMs(q.tokens * q.rates.bytesPerToken, q.rates);
  const valueMs = Math.max(0, net) * chance;
  if (q.alreadySaved) return { save: false, reason: 'saved_already', valueMs, costMs };
  if (q.tokens < q.minTokens) return { save: false, reason: 'too_short', valueMs, costMs };
  if (lost === 0) return { save: false, reason: 'nothing_lost', valueMs, costMs };
  return valueMs > costMs ? { save: true, reason: 'worth_it', valueMs, costMs } : { save: false, reason: 'not_worth_it', valueMs, costMs };
}

/** A saved entry matches the request: restore it into the chosen slot first? */
export interface RestoreQuestion {
  /** The request's prompt tokens (estimated). */
  promptTokens: number;
  /**
   * Tokens the chosen slot (or RAM cache) is expected to give without a restore. When the slot
   * holds another conversation that shares only a prefix with this one (a common system prompt),
   * that is just the prefix: llama-server reuses such a slot as it is (f_keep >= 0.5) instead of
   * loading this conversation's longer state, so a saved entry of this conversation is the way back.
   */
  currentReuseTokens: number;
  /**
   * The chance that `currentReuseTokens` are not there after all: 0 for a slot's own content
   * (every response checks that belief), the measured miss rate of RAM-cache beliefs when the
   * reuse is expected from llama-server's RAM cache, which slotkeeper cannot see. Default 0.
   */
  currentMissChance?: number;
  /**
   * Blocks of the request's chain the slot (or RAM cache) gives, and tokens per block: with them
   * the gain is counted in blocks, the entry's over the slot's. Token estimates from blocks are
   * capped at what each holds, so two caps can hide a gain of a few blocks (a conversation's own
   * last turn, against another conversation sharing its long system prompt).
   */
  currentReuseBlocks?: number;
  tokensPerBlock?: number;
  /** Tokens in the entry. */
  entryTokens: number;
  /** Blocks in the entry's chain, and how many of them the request shares. */
  entryBlocks: number;
  matchedBlocks: number;
  /** Tokens the shared blocks stand for (never more than entryTokens). */
  matchedTokens: number;
  /** Size of the file. */
  bytes: number;
  promptTokensPerMs: number;
  rates: TierRates;
}

/** The answer, with its arithmetic. */
export interface RestoreAnswer {
  restore: boolean;
  reason: 'no_gain' | 'kept_too_little' | 'slower' | 'faster';
  /** Expected restore time. */
  restoreMs: number;
  /** Prefill time the restore avoids. */
  savedMs: number;
}

/**
 * Restore when restore cost (bytes ÷ measured bandwidth) plus the remaining prefill beats
 * recomputing from what the slot already gives. llama-server keeps a slot's content for a
 * request only when the request keeps at least half of it (f_keep ≥ 0.5, server-context.cpp
 * get_available_slot, llama.cpp de3ff815ea7d); below that the restored KV would be dropped.
 * A restored file is certain where a RAM-cache belief is a guess: the gain counts what the guess
 * is expected to give, so a cheap restore insures a long prompt against the guess being wrong.
 */
export function decideRestore(q: RestoreQuestion): RestoreAnswer {
  const ms = restoreMs(q.bytes, q.rates);
  // llama-server evaluates at least the last prompt token, so reuse is capped below the prompt.
  const cap = Math.max(0, q.promptTokens - 1);
  const present = 1 - Math.min(1, Math.max(0, q.currentMissChance ?? 0));
  const current = Math.min(q.currentReuseTokens, cap) * present;
  const byTokens = Math.min(q.matchedTokens, cap) - current;
  const byBlocks = q.currentReuseBlocks !== undefined && q.tokensPerBlock !== undefined
    ? Math.min(cap, (q.matchedBlocks - q.currentReuseBlocks * present) * q.tokensPerBlock) : -Infinity;
  const gainTokens = Math.max(byTokens, byBlocks);
  const savedMs = Math.max(0, gainTokens) / q.promptTokensPerMs;
  if (gainTokens <= 0) return { restore: false, reason: 'no_gain', restoreMs: ms, savedMs };
  if (q.matchedBlocks * 2 < q.entryBlocks) return { restore: false, reason: 'kept_too_little', restoreMs: ms, savedMs };
  return ms < savedMs ? { restore: true, reason: 'faster', restoreMs: ms, savedMs } : { restore: false, reason: 'slower', restoreMs: ms, savedMs };
}

/** Whether a response's cache_n shows a restore was used: at least half the tokens it was expected to give. */
export function restoreVerified(expectedTokens: number, cacheN: number): boolean {
  return cacheN * 2 >= expectedTokens;
}
