// What a request for one model does to the other models of a multi-model upstream: pure, so
// every case is tested without llama-swap. The effects (saving the evicted models' hot slots,
// forgetting slot beliefs) happen in the router, which owns both.

/** What is known just before a request for `requested` goes out. */
export interface SwapSituation {
  requested: string;
  /** Models loaded now (llama-swap's /running, router mode's /v1/models status); null: unknown. */
  loaded: readonly string[] | null;
  /**
   * How many models can be loaded at once; 0: no limit. llama-swap does not publish its groups,
   * so it counts as one swap group (1): any other running model may be swapped out.
   */
  capacity: number;
  /** When slotkeeper last sent each model a request (any clock), to guess a router's LRU victim. */
  lastUsed?: Readonly<Record<string, number>>;
}

/** What the request will do. */
export interface SwapPlan {
  /** The requested model is not loaded: it starts with empty slots (and RAM cache). */
  cold: boolean;
  /** Loaded models the request may unload: save their hot slots first. */
  evicts: string[];
}

const NOTHING: SwapPlan = { cold: false, evicts: [] };

/**
 * A request for a loaded model changes nothing. One for a model that is not loaded starts it,
 * and when the upstream is at capacity, unloads others first: with capacity 1 every other loaded
 * model (a llama-swap swap group), else the least recently used ones (llama.cpp's router unloads
 * its least recently used model), as many as must go to make room. An unknown loaded set
 * changes nothing: no belief is dropped and nothing is saved on a guess.
 */
export function planSwap(s: SwapSituation): SwapPlan {
  if (s.loaded === null || s.loaded.includes(s.requested)) return NOTHING;
  const others = s.loaded.filter((m) => m !== s.requested);
  if (s.capacity === 0 || others.length < s.capacity) return { cold: true, evicts: [] };
  const excess = others.length - s.capacity + 1;
  const lastUsed = s.lastUsed ?? {};
  const byAge = [...others].sort((a, b) => (lastUsed[a] ?? -Infinity) - (lastUsed[b] ?? -Infinity) || a.localeCompare(b));
  return { cold: true, evicts: byAge.slice(0, excess) };
}
