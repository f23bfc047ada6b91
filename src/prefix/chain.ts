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
