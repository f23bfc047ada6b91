// What each slot of each server is believed to hold, and each server's RAM prompt cache. Beliefs
// come from what the gateway sent; they are corrected from ground truth: every response's
// timings say how many prompt tokens were really reused (see recordOutcome).
import { type Chain, EMPTY_CHAIN, type PromptQuery, commonBlocks, coveredBlocks } from './chain.js';
import { type CachedPrompt, RamCache } from './ram-cache.js';

/** What one slot is believed to hold. */
export interface SlotContent {
  /** Chain of the last prompt processed there (the generated answer follows it in the KV). */
  chain: Chain;
  /** Tokens in the KV: prompt and answer, as the last response reported them. */
  tokens: number;
  /** When it was last used (clock ms). */
  lastUsedMs: number;
  /** Hash and length of the last prompt's whole canonical text, when known (chain.ts coveredBlocks). */
  endHash?: number;
  chars?: number;
}

/** How a request was expected to reuse a server's cache, and by what source. */
export interface ExpectedReuse {
  /** Blocks of the request's chain the source covers. */
  blocks: number;
  source: 'slot' | 'ram' | 'none';
  /** The RAM entry expected to be loaded, for correction. */
  ramEntry?: CachedPrompt;
}

/** What a finished request taught us. */
export interface Outcome {
  server: number;
  slot: number;
  chain: Chain;
  /** The prompt's whole hash and length, when known. */
  endHash?: number;
  chars?: number;
  /** Tokens now in the slot (prompt + generated), from timings or usage. */
  tokens: number;
  expected: ExpectedReuse;
  /** Tokens really reused (timings.cache_n); null when the response did not say. */
  reusedTokens: number | null;
  /** Tokens the expectation amounts to, at the server's tokens-per-block. */
  expectedTokens: number;
  nowMs: number;
}

/** A disagreement between belief and truth, for the corrections metric. */
export type Correction = 'overestimate' | 'underestimate' | null;

interface ServerEntry {
  slots: Map<number, SlotContent>;
  /** What a slot will hold once the request running there now ends (its prompt, being computed). */
  pending: Map<number, SlotContent>;
  ram: RamCache;
}

/** The gateway's beliefs about every server's caches. Memory is bounded by slots and RamCache. */
export class PrefixIndex {
  private readonly servers = new Map<number, ServerEntry>();

  /** Starts (or restarts, forgetting everything) tracking a server. */
  resetServer(server: number, ramCacheTokens: number): void {
    this.servers.set(server, { slots: new Map(), pending: new Map(), ram: new RamCache(ramCacheTokens) });
  }

  /** Stops tracking a server. */
  dropServer(server: number): void {
    this.servers.delete(server);
  }

  /** The slot's believed content, if any. */
  slot(server: number, slot: number): SlotContent | undefined {
    return this.servers.get(server)?.slots.get(slot);
  }

  /**
   * What the slot will hold when its running request ends: that request's prompt, recorded when
   * it was placed, so a request sharing the prefix knows it is being computed there, before any
   * timings confirm it. Undefined while nothing runs there.
   */
  pending(server: number, slot: number): SlotContent | undefined {
    return this.servers.get(server)?.pending.get(slot);
  }

  /** A request was placed on the slot: it will hold `content` (until finish says what it really holds). */
  setPending(server: number, slot: number, content: SlotContent): void {
    this.servers.get(server)?.pending.set(slot, content);
  }

  /** The slot's running request ended without a result to learn from: nothing is pending there. */
  clearPending(server: number, slot: number): void {
    this.servers.get(server)?.pending.delete(slot);
  }

  /** The server's RAM cache belief. */
  ram(server: number): RamCache | undefined {
    return this.servers.get(server)?.ram;
  }

  /**
   * Reuse a request with `chain` can expect if it lands on `slot` of `server`, following
   * llama-server's rule: the slot's own content is used when the request keeps at least half of
   * it (f_keep ≥ 0.5); otherwise the slot is saved to RAM and the best RAM entry that keeps at
   * least a quarter of itself is loaded if it matches more.
   */
  expectedReuse(server: number, slot: number, query: Chain | PromptQuery): ExpectedReuse {
    const entry = this.servers.get(server);
    if (!entry) return { blocks: 0, source: 'none' };
    const q: PromptQuery = query instanceof Float64Array ? { chain: query } : query;
    const chain = q.chain;
    // A request placed behind a running one finds the running one's prompt there.
    const content = entry.pending.get(slot) ?? entry.slots.get(slot);
    const own = content ? coveredBlocks(content, q) : 0;
    if (content && own * 2 >= content.chain.length && own > 0) return { blocks: own, source: 'slot' };
    const best = entry.ram.best(chain);
    if (best && best.blocks * 4 >= best.entry.chain.length && best.blocks > own) {
      return { blocks: best.blocks, source: 'ram', ramEntry: best.entry };
    }
    return own > 0 ? { blocks: own, source: 'slot' } : { blocks: 0, source: 'none' };
  }

  /**
   * A request is about to start on `slot`: mirrors llama-server's RAM-cache updates (idle slots
   * are saved when a task starts; the chosen slot is saved when the request keeps less than half).
   * `busy` tells which slots are processing (they are not saved). Returns the RAM entry newly
   * believed saved from the chosen slot, if any: a restore into that slot before the request
   * reaches llama-server replaces the content first, and then the belief must be taken back.
   */
  dispatch(server: number, slot: number, chain: Chain, busy: (slot: number) => boolean): CachedPrompt | null {
    const entry = this.servers.get(server);
    if (!entry) return null;
    const content = entry.slots.get(slot);
    let saved: CachedPrompt | null = null;
    if (content && commonBlocks(content.chain, chain) * 2 < content.chain.length) {
      saved = entry.ram.save({ chain: content.chain, tokens: content.tokens });
    }
    for (const [id, other] of entry.slots) {
      if (id !== slot && !busy(id)) entry.ram.save({ chain: other.chain, tokens: other.tokens });
    }
    return saved !== null && entry.ram.holds(saved) ? saved : null;
  }

  /**
   * Records a finished request: the slot now holds its prompt and answer. Compares what was
   * expected to be reused with what was, corrects the RAM belief when an entry proved absent,
   * and says whether belief and truth disagreed by more than `toleranceTokens`.
   */
  recordOutcome(outcome: Outcome, toleranceTokens: number): Correction {
    const entry = this.servers.get(outcome.server);
    if (!entry) return null;
    entry.pending.delete(outcome.slot);
    entry.slots.set(outcome.slot, {
      chain: outcome.chain, tokens: outcome.tokens, lastUsedMs: outcome.nowMs,
      ...(outcome.endHash !== undefined && outcome.chars !== undefined ? { endHash: outcome.endHash, chars: outcome.chars } : {}),
    });
    const { expected } = outcome;
    // llama-server moves a state it loads from RAM into the slot, out of RAM
    // (server_prompt_cache::load, llama.cpp de3ff815ea7d); one it did not find was not there.
    // Either way the entry is gone.
    if (expected.source === 'ram' && expected.ramEntry) entry.ram.forget(expected.ramEntry);
    if (outcome.reusedTokens === null) return null;
    const diff = outcome.reusedTokens - outcome.expectedTokens;
    if (expected.source === 'ram' && expected.ramEntry) entry.ram.recordLoad(diff >= -toleranceTokens);
    if (diff < -toleranceTokens) return 'overestimate';
    return diff > toleranceTokens ? 'underestimate' : null;
  }

  /** The slot now holds `content`: a saved cache was restored into it. */
  setSlot(server: number, slot: number, content: SlotContent): void {
    this.servers.get(server)?.slots.set(slot, content);
  }

  /** Forgets a slot's content (its request failed midway, so what it holds is unknown). */
  forgetSlot(server: number, slot: number): void {
    this.servers.get(server)?.pending.delete(slot);
    this.servers.get(server)?.slots.set(slot, { chain: EMPTY_CHAIN, tokens: 0, lastUsedMs: 0 });
  }
}
