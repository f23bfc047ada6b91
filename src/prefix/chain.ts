// Chained block hashes: hashes[i] covers blocks 0..i of a canonical prompt (workers/block-hash.ts),
// so two prompts share a prefix of k blocks exactly when their first k hashes are equal, and a
// mismatch at block i implies a mismatch at every later block.

/** A prompt's chain of block hashes. */
export type Chain = Float64Array;

/**
 * Number of leading blocks `a` and `b` share. Because the hashes are chained, equality is
 * monotone (true up to some index, false after), so a binary search finds the boundary in
 * O(log n) instead of a scan; a hash collision can only make it overestimate, which the ground
 * truth (timings.cache_n) then corrects.
 */
export function commonBlocks(a: Chain, b: Chain): number {
  let lo = 0;
  let hi = Math.min(a.length, b.length);
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (a[mid - 1] === b[mid - 1]) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A chain holding no blocks. */
export const EMPTY_CHAIN: Chain = new Float64Array(0);

/** What the index knows of a prompt it matches against: its chain, and its whole hash and length when known. */
export interface PromptKey {
  chain: Chain;
  /** Hash of the whole canonical prompt, partial last block included. */
  endHash?: number;
  /** Its length in canonical characters. */
  chars?: number;
}

/** A request's prompt as matching needs it: its chain, and the hashes at its message starts. */
export interface PromptQuery {
  chain: Chain;
  /** (offset, hash of the prompt before it) pairs at each message start, ascending (workers/block-hash.ts). */
  ends?: Float64Array;
}

/**
 * Blocks of `content` that `query` covers; one more than content's full blocks when the query's
 * prompt contains the whole of content's prompt, partial last block included (content ends
 * where one of the query's messages starts). Full blocks alone cannot tell a conversation's
 * next turn from another conversation sharing all but its last few dozen characters; then the
 * extra block says "all of it", and what it stands for is capped at content's tokens.
 */
export function coveredBlocks(content: PromptKey, query: PromptQuery): number {
  const blocks = commonBlocks(content.chain, query.chain);
  const { endHash, chars } = content;
  if (blocks < content.chain.length || endHash === undefined || chars === undefined || query.ends === undefined) return blocks;
  return hashAt(query.ends, chars) === endHash ? blocks + 1 : blocks;
}

/** The hash at `offset` in (offset, hash) pairs sorted by offset; undefined when none is there. */
function hashAt(ends: Float64Array, offset: number): number | undefined {
  let lo = 0;
  let hi = ends.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = ends[2 * mid]!;
    if (at === offset) return ends[2 * mid + 1];
    if (at < offset) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
