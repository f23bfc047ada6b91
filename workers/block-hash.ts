// Chained block hashes of a canonical prompt. One running hash walks the text; its state is
// emitted at every block boundary, so hashes[i] covers blocks 0..i and two prompts that share a
// prefix share a leading run of hashes. The scheduler compares runs, never text.
//
// The hash is cyrb53 (bryc, public domain): two 32-bit lanes mixed with Math.imul, finalized
// into an integer below 2^53 so it survives as a double. Each per-character step is a bijection
// of the 64-bit state, so two different prefixes never converge to one state by construction;
// only the 53-bit finalization can collide. It is not cryptographic: a collision costs a cache
// miss (a request routed to a slot that does not hold its prefix), never a wrong answer.

/** What {@link blockHashes} returns. */
export interface BlockHashes {
  /** One hash per FULL block; hashes[i] covers code units [0, (i + 1) * blockChars). */
  hashes: Float64Array;
  /** Hash of the whole text, partial last block included. */
  fullHash: number;
  /**
   * At each given boundary offset (a message start, ascending), the offset and the hash of the
   * text before it, as pairs: a prompt that is a whole earlier prompt plus more messages has that
   * prompt's fullHash here, so the index can tell "all of it, partial last block included".
   */
  ends: Float64Array;
}

const SEED1 = 0xdeadbeef;
const SEED2 = 0x41c6ce57;

/** Hashes `text` as UTF-16 code units, emitting the running hash after every full block. */
export function blockHashes(text: string, blockChars: number, boundaries: readonly number[] = []): BlockHashes {
  // The facade validates blockChars for the pool; this guards direct callers from an endless loop.
  if (!Number.isInteger(blockChars) || blockChars < 1) {
    throw new RangeError(`blockChars must be a positive integer, got ${blockChars}`);
  }
  const length = text.length;
  const blocks = Math.floor(length / blockChars);
  const hashes = new Float64Array(blocks);
  const ends = new Float64Array(boundaries.length * 2);
  let h1 = SEED1;
  let h2 = SEED2;
  let i = 0;
  let b = 0;
  // The inner loops are the whole cost (a 1 MB prompt is a million iterations); keep them free
  // of calls and branches so V8 keeps both lanes in registers. Boundaries split a block's loop.
  for (let block = 0; block <= blocks; block++) {
    const end = block < blocks ? i + blockChars : length;
    while (b < boundaries.length && boundaries[b]! <= end) {
      const stop = Math.max(i, boundaries[b]!);
      for (; i < stop; i++) {
        const unit = text.charCodeAt(i);
        h1 = Math.imul(h1 ^ unit, 2654435761);
        h2 = Math.imul(h2 ^ unit, 1597334677);
      }
      ends[2 * b] = boundaries[b]!;
      ends[2 * b + 1] = finish(h1, h2);
      b++;
    }
    for (; i < end; i++) {
      const unit = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ unit, 2654435761);
      h2 = Math.imul(h2 ^ unit, 1597334677);
    }
    if (block < blocks) hashes[block] = finish(h1, h2);
  }
  return { hashes, fullHash: finish(h1, h2), ends: b === boundaries.length ? ends : ends.subarray(0, 2 * b) };
}

/** Hashes a whole string to one integer below 2^53 (the same function, without blocks). */
export function hashString(text: string): number {
  let h1 = SEED1;
  let h2 = SEED2;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ unit, 2654435761);
    h2 = Math.imul(h2 ^ unit, 1597334677);
  }
  return finish(h1, h2);
}

// cyrb53's finalizer, applied to a copy of the state: the running lanes continue unchanged.
function finish(a: number, b: number): number {
  let h1 = Math.imul(a ^ (a >>> 16), 2246822507);
  h1 ^= Math.imul(b ^ (b >>> 13), 3266489909);
  let h2 = Math.imul(b ^ (b >>> 16), 2246822507);
  h2 ^= Math.imul(a ^ (a >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
