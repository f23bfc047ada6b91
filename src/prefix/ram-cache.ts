// A model of one llama-server's host-RAM prompt cache (--cache-ram, on by default at 8 GiB).
// llama-server saves a slot's state there before a request overwrites most of it, and saves every
// idle slot when a new task starts (--cache-idle-slots, on by default); it loads the best entry
// back into the slot a request lands on when that slot's own content keeps less than half
// (tools/server/server-context.cpp get_available_slot, server-task.cpp server_prompt_cache::load;
// llama.cpp de3ff815ea7d), taking it out of RAM. We cannot see that cache, so we keep a bounded
// belief about it: a queue by tokens, oldest save out first, corrected when a response's cache_n
// says an entry was not there, and with a measured rate of how often such beliefs prove wrong.
import { type Chain, commonBlocks } from './chain.js';

/** A prompt state the server is believed to hold in RAM. */
export interface CachedPrompt {
  chain: Chain;
  tokens: number;
}

/** The best entry for a request and how many of its blocks it covers. */
export interface RamMatch {
  entry: CachedPrompt;
  blocks: number;
}

// Entries are whole KV states of a few MB to GB; a few dozen is more than any RAM budget holds,
// and it bounds the scan per request.
const MAX_ENTRIES = 64;

// Each new load outcome weighs this much against the older ones (about the last 20 count).
const OUTCOME_DECAY = 0.95;

/** The belief about one server's RAM prompt cache. */
export class RamCache {
  // Oldest save first (llama-server evicts from the front; nothing moves an entry back).
  private entries: CachedPrompt[] = [];
  private tokens = 0;
  private readonly capacityTokens: number;
  // Decayed counts of requests expected to load an entry, and of those that found it gone.
  private loads = 0;
  private misses = 0;

  constructor(capacityTokens: number) {
    this.capacityTokens = capacityTokens;
  }

  /** Tokens believed held. */
  get heldTokens(): number {
    return this.tokens;
  }

  /** Number of entries believed held. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Records that the server saved `prompt`, as llama-server does (server_prompt_cache::alloc,
   * llama.cpp de3ff815ea7d): a prompt some entry already contains is skipped, and that entry does
   * not become any younger; otherwise the entries the prompt contains are replaced by it. Returns
   * `prompt` when it was added as a new entry, null when nothing new was recorded.
   */
  save(prompt: CachedPrompt): CachedPrompt | null {
    if (this.capacityTokens <= 0 || prompt.chain.length === 0) return null;
    // llama-server skips states bigger than the whole cache.
    if (prompt.tokens > this.capacityTokens) return null;
    const n = prompt.chain.length;
    if (this.entries.some((e) => e.chain.length >= n && commonBlocks(e.chain, prompt.chain) === n)) return null;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i]!;
      if (commonBlocks(entry.chain, prompt.chain) === entry.chain.length) this.remove(i);
    }
    this.entries.push(prompt);
    this.tokens += prompt.tokens;
    while (this.tokens > this.capacityTokens || this.entries.length > MAX_ENTRIES) this.remove(0);
    return this.entries.includes(prompt) ? prompt : null;
  }

  /** The entry sharing most blocks with `chain`, if any shares one. */
  best(chain: Chain): RamMatch | null {
    let best: RamMatch | null = null;
    for (const entry of this.entries) {
      const blocks = commonBlocks(entry.chain, chain);
      if (blocks > 0 && (best === null || blocks > best.blocks)) best = { entry, blocks };
    }
    return best;
  }

  /** Whether `entry` is still believed held. */
  holds(entry: CachedPrompt): boolean {
    return this.entries.includes(entry);
  }

  /** Forgets `entry`: the server loaded it into a slot (which takes it out of RAM), or did not have it. */
  forget(entry: CachedPrompt): void {
    const i = this.entries.indexOf(entry);
    if (i !== -1) this.remove(i);
  }

  /**
   * A request was expected to load an entry; `found` says whether its cache_n showed it did.
   * The belief is a model of a cache slotkeeper cannot see (its byte accounting, llama-server's
   * own idle-slot saves), so how often it is right is measured, not assumed.
   */
  recordLoad(found: boolean): void {
    this.loads = this.loads * OUTCOME_DECAY + 1;
    this.misses = this.misses * OUTCOME_DECAY + (found ? 0 : 1);
  }

  /**
   * The chance that an entry believed held is gone when a request looks for it: the decayed miss
   * rate of recent loads, with one hit and one miss assumed before any (so 0.5 to start, and
   * never below about 1 in 22: about 20 recent loads count).
   */
  missChance(): number {
    return (this.misses + 1) / (this.loads + 2);
  }

  /** Forgets everything (the server restarted). */
  clear(): void {
    this.entries = [];
    this.tokens = 0;
  }

  private remove(i: number): void {
    const [removed] = this.entries.splice(i, 1);
    if (removed) this.tokens -= removed.tokens;
  }
}
