// The scheduler: a pure function from a request's analysis and a snapshot of the fleet to a
// decision (which server, which slots are acceptable, what reuse to expect). No I/O, no clock:
// everything it knows arrives in its arguments, so tests drive it with tables of situations.
import type { Chain } from '../prefix/chain.js';
import type { ExpectedReuse, SlotContent } from '../prefix/prefix-index.js';
import { type CostParams, blockTokens, evictionCostMs, prefillMs, promptTokens } from './cost-model.js';
import type { Rates } from './rates.js';

/** The request, as the worker analysed it. */
export interface RequestView {
  chain: Chain;
  promptChars: number;
  maxTokens: number | null;
  /** The client's own id_slot, honoured when that slot exists. */
  clientSlot: number | null;
}

/** One slot, as the gateway sees it now. */
export interface SlotView {
  slot: number;
  /** Lease key, `${server}/${slot}`. */
  key: string;
  busy: boolean;
  /** Expected ms until the current holder and the waiters already queued for it are done. */
  waitMs: number;
  content: SlotContent | undefined;
  /** What this request would reuse here (PrefixIndex.expectedReuse). */
  reuse: ExpectedReuse;
  /** True when the content also exists elsewhere (another slot, or fully in the RAM cache). */
  copiedElsewhere: boolean;
}

/**
 * A prefix this request could have copied into a slot of the server: a saved file (of this
 * server, or of one that shares its save directory and model), or a slot's content (the same
 * kind of server) that is saved first, once its running request, if any, has computed it.
 */
export interface CopySource {
  from: { kind: 'file'; file: string } | { kind: 'slot'; server: number; slot: number };
  /** Blocks of the request's chain it covers. */
  blocks: number;
  /** Blocks of its own chain: llama-server keeps restored KV only for a request keeping half of it. */
  entryBlocks: number;
  /** Tokens it holds. */
  tokens: number;
  /** ms until it can be read: the expected end of the request computing it; 0 when it can now. */
  readyMs: number;
  /** ms to save it (a slot source not yet on disk) and restore it. */
  copyMs: number;
}

/** One ready server serving the request's model. */
export interface ServerView {
  server: number;
  slots: SlotView[];
  rates: Rates;
  /** Requests holding or waiting for this server's slots. */
  load: number;
  params: CostParams;
  /** Prefixes that can be restored into its slots; none without a disk tier. */
  copies?: readonly CopySource[];
  /**
   * Its slots still prefilling now. llama-server batches every slot's prompt tokens together, so
   * a prefill that starts beside N others gets about 1/(N+1) of the server's prompt rate.
   */
  prefilling?: number;
}

/** Cross-server balance thresholds (SGLang's cache-aware router). */
export interface BalanceParams {
  absThreshold: number;
  relThreshold: number;
}

/**
 * Why the decision was made, for the decisions metric: `copy_prefix` restores a prefix saved
 * elsewhere into the slot first; `waited_for_prefix` also waits for the request computing it.
 */
export type DecisionKind = 'prefix_hit' | 'ram_hit' | 'cold' | 'balance' | 'pinned' | 'copy_prefix' | 'waited_for_prefix';

/** One scored choice. */
export interface Choice {
  server: number;
  slot: number;
  key: string;
  reuse: ExpectedReuse;
  /** Tokens the reuse is expected to amount to. */
  reuseTokens: number;
  /** Tokens left to prefill. */
  prefillTokens: number;
  /** Expected wait for the slot to be free. */
  waitMs: number;
  /** Expected time to first token: wait + prefill. */
  ttftMs: number;
  /** Expected future prefill lost by overwriting what the slot holds. */
  evictionMs: number;
  /** ttftMs + evictionMs: lower is better. */
  score: number;
  /**
   * The prefix to copy into the slot before the request runs, when that beats what the slot
   * gives by itself; `reuse` and `reuseTokens` stay what the slot gives without it.
   */
  copy?: CopySource;
  /** Tokens the copy is expected to give. */
  copyTokens?: number;
}

/** The scheduler's answer. */
export interface Decision {
  kind: DecisionKind;
  best: Choice;
  /** Lease keys acceptable for this request, best first: the queue grants the first one free. */
  keys: string[];
  /** The choice behind each key. */
  choices: Map<string, Choice>;
}

// Alternatives whose cost without waiting is this close to the best one are as good: a request
// waiting for a busy slot takes whichever of them frees first.
const ALTERNATIVE_MARGIN_MS = 250;
const ALTERNATIVE_MARGIN_RATIO = 0.1;

/**
 * Chooses where a request goes. Among servers, the cache is followed while load is balanced and
 * the load when it is not; among slots, the lowest expected time to first token plus the value
 * destroyed by overwriting, so a short side request takes an empty or stale slot rather than a
 * long hot context. Returns null when no server has a slot.
 */
export function schedule(request: RequestView, servers: readonly ServerView[], nowMs: number, balance: BalanceParams): Decision | null {
  let candidates = servers.filter((s) => s.slots.length > 0);
  if (candidates.length === 0) return null;

  let kind: DecisionKind | null = null;
  if (request.clientSlot !== null) {
    const pinned = candidates.filter((s) => s.slots.some((v) => v.slot === request.clientSlot));
    if (pinned.length > 0) {
      kind = 'pinned';
      candidates = pinned.map((s) => ({ ...s, slots: s.slots.filter((v) => v.slot === request.clientSlot) }));
    }
  }
  if (kind === null && candidates.length > 1 && imbalanced(candidates, balance)) {
    const least = Math.min(...candidates.map((s) => s.load));
    candidates = candidates.filter((s) => s.load === least);
    kind = 'balance';
  }

  const choices: Choice[] = [];
  for (const server of candidates) {
    for (const view of server.slots) choices.push(score(request, server, view, nowMs));
  }
  choices.sort((a, b) => a.score - b.score || a.server - b.server || a.slot - b.slot);
  const best = choices[0]!;
  kind ??= best.copy ? (best.copy.readyMs > 0 ? 'waited_for_prefix' : 'copy_prefix')
    : best.reuse.source === 'slot' ? 'prefix_hit' : best.reuse.source === 'ram' ? 'ram_hit' : 'cold';

  const keys = [best.key];
  const bestWithoutWait = best.score - best.waitMs;
  const margin = Math.max(ALTERNATIVE_MARGIN_MS, bestWithoutWait * ALTERNATIVE_MARGIN_RATIO);
  if (best.waitMs > 0) {
    for (const c of choices.slice(1)) {
      if (c.score - c.waitMs <= bestWithoutWait + margin) keys.push(c.key);
    }
  }
  return { kind, best, keys, choices: new Map(choices.map((c) => [c.key, c])) };
}

function score(request: RequestView, server: ServerView, view: SlotView, nowMs: number): Choice {
  const { rates, params } = server;
  const total = promptTokens(request.promptChars, rates);
  const cap = view.reuse.source === 'ram' ? view.reuse.ramEntry?.tokens ?? Infinity : view.content?.tokens ?? 0;
  // llama-server always evaluates at least the last prompt token.
  const reuseTokens = Math.min(blockTokens(view.reuse.blocks, params, rates, cap), Math.max(0, total - 1));
  const prefillTokens = Math.max(1, total - reuseTokens);
  const ttftMs = view.waitMs + prefillMs(prefillTokens, rates) * contention(server, view.waitMs);
  // Extending what the slot holds destroys nothing. llama-server also keeps a slot when the
  // request keeps at least half of it, but then only the shared prefix survives: a request that
  // shares another conversation's system prompt destroys that conversation's own turns.
  const content = view.content;
  const keeps = view.reuse.source === 'slot' && content !== undefined && view.reuse.blocks * 2 >= content.chain.length;
  const extendsContent = keeps && view.reuse.blocks >= content.chain.length;
  const keptTokens = keeps ? blockTokens(view.reuse.blocks, params, rates, content.tokens) : 0;
  const evictionMs = extendsContent ? 0 : evictionCostMs(content, nowMs, params, rates, view.copiedElsewhere, keptTokens);
  const own: Choice = {
    server: server.server, slot: view.slot, key: view.key, reuse: view.reuse,
    reuseTokens, prefillTokens, waitMs: view.waitMs, ttftMs, evictionMs, score: ttftMs + evictionMs,
  };
  const copied = bestCopy(server, view, total, reuseTokens, nowMs);
  return copied !== null && copied.score < own.score ? { ...own, ...copied } : own;
}

/**
 * The best prefix to copy into `view`'s slot, scored like any choice: the wait is the later of
 * the slot's own and the source's (a prefix still being computed is ready when its request
 * ends), then the save and restore, then the prefill of the rest. A restore replaces everything
 * the slot holds, so its whole content counts as destroyed. Null when no source gives more.
 */
function bestCopy(server: ServerView, view: SlotView, total: number, ownTokens: number, nowMs: number): Pick<Choice, 'copy' | 'copyTokens' | 'prefillTokens' | 'ttftMs' | 'evictionMs' | 'score'> | null {
  const { rates, params } = server;
  let best: ReturnType<typeof bestCopy> = null;
  for (const source of server.copies ?? []) {
    if (source.from.kind === 'slot' && source.from.server === server.server && source.from.slot === view.slot) continue;
    // llama-server drops restored KV for a request that keeps less than half of it.
    if (source.blocks * 2 < source.entryBlocks) continue;
    // Compared in blocks: token estimates are capped at what each side holds, and two caps can
    // hide the few blocks (a conversation's own last turn) that a copy adds.
    if (source.blocks <= view.reuse.blocks) continue;
    const gained = blockTokens(source.blocks - view.reuse.blocks, params, rates);
    const copyTokens = Math.min(Math.max(ownTokens + gained, blockTokens(source.blocks, params, rates, source.tokens)), Math.max(0, total - 1));
    const prefillTokens = Math.max(1, total - copyTokens);
    const startMs = Math.max(view.waitMs, source.readyMs);
    const ttftMs = startMs + source.copyMs + prefillMs(prefillTokens, rates) * contention(server, startMs);
    const evictionMs = evictionCostMs(view.content, nowMs, params, rates, view.copiedElsewhere, 0);
    const score = ttftMs + evictionMs;
    if (best === null || score < best.score) best = { copy: source, copyTokens, prefillTokens, ttftMs, evictionMs, score };
  }
  return best;
}

/** How much slower a prefill starting after `startMs` runs for the server's other prefills (those still running then: assumed none once it waits). */
function contention(server: ServerView, startMs: number): number {
  return startMs > 0 ? 1 : 1 + (server.prefilling ?? 0);
}

/** SGLang's rule: unbalanced when the busiest exceeds the idlest by both thresholds. */
function imbalanced(servers: readonly ServerView[], balance: BalanceParams): boolean {
  const loads = servers.map((s) => s.load);
  const max = Math.max(...loads);
  const min = Math.min(...loads);
  return max - min > balance.absThreshold && max > min * balance.relThreshold;
}
