// Carries out the scheduler's decisions: builds the snapshot the pure policy reads (slots, leases,
// beliefs, rates), takes a lease on the chosen slot, and learns from each finished request. All
// state it touches between the snapshot and the lease request is read and acted on in one tick.
import type { Config } from './config/config.js';
import { lostTokens } from './kv/decisions.js';
import type { HotSlot, KvTier, Restored } from './kv/kv-tier.js';
import { defaults } from './defaults.js';
import { SlotkeeperError } from './errors.js';
import type { Metrics } from './metrics.js';
import { type Chain, commonBlocks } from './prefix/chain.js';
import { PrefixIndex } from './prefix/prefix-index.js';
import type { CachedPrompt } from './prefix/ram-cache.js';
import type { Timings } from './proxy/timings.js';
import { type CostParams, promptTokens, serviceMs } from './scheduler/cost-model.js';
import { type Choice, type DecisionKind, type ServerView, type SlotView, schedule } from './scheduler/policy.js';
import { RateTable } from './scheduler/rates.js';

/** What the router needs to know of an upstream (src/fleet/upstream.ts provides it). */
export interface RoutableUpstream {
  readonly id: number;
  readonly url: string;
  readonly slotIds: readonly number[];
  readonly generation: number;
  readonly ramCacheTokens: number;
  /**
   * Where the router files this upstream's slots (beliefs, leases, rates); absent: `id`. Each
   * model of a llama-swap or router-mode upstream has its own (src/fleet/model-view.ts).
   */
  readonly slotScope?: number;
}

/** An upstream and the models it serves, as hot-slot saves need it. */
export type ServingUpstream = RoutableUpstream & { readonly models: readonly string[] };

/** What a request for a model does on a multi-model upstream (src/fleet/fleet.ts answers). */
export interface SwapOutcome {
  /** The model is not loaded: its server starts with empty slots and RAM cache. */
  cold: boolean;
  /** Loaded models the request may unload; their hot slots are saved first. */
  evicted: readonly ServingUpstream[];
}

/** Asked just before a request goes out, so saves happen before a swap. */
export interface SwapCheck {
  beforeRun(upstream: RoutableUpstream, model: string, signal?: AbortSignal): Promise<SwapOutcome>;
}

/** What the router needs of the lease queue (src/leases/lease-queue.ts). */
export interface Leases {
  acquire(options: { keys: readonly string[]; cost?: number; signal?: AbortSignal }): Promise<{ readonly key: string; release(): void }>;
  isBusy(key: string): boolean;
  waitingFor(key: string): number;
}

/** The request, as the worker analysed it. */
export interface RoutedRequest {
  chain: Chain;
  promptChars: number;
  maxTokens: number | null;
  clientSlot: number | null;
}

/** Where a request runs; hand it back to {@link Router.finish} exactly once. */
export interface Placement<U extends RoutableUpstream = RoutableUpstream> {
  upstream: U;
  slot: number;
  kind: DecisionKind;
  choice: Choice;
  /** ms spent waiting for the lease. */
  waitedMs: number;
  startedMs: number;
  /** A saved cache restored into the slot by {@link Router.prepare}, verified by finish. */
  restored?: Restored;
  release(): void;
}

/** What a finished request reported. */
export interface Finish {
  /** The response ended normally with a 2xx status. */
  complete: boolean;
  timings: Timings | null;
}

/** Dependencies, injected. */
export interface RouterDeps {
  config: Config;
  leases: Leases;
  metrics: Metrics;
  now: () => number;
  /** The disk tier; absent: slots are never saved or restored. */
  kv?: KvTier;
  /** Model swaps on llama-swap and router-mode upstreams; absent: none are expected. */
  swaps?: SwapCheck;
}

const key = (server: number, slot: number) => `${server}/${slot}`;
const scopeOf = (u: { readonly id: number; readonly slotScope?: number }) => u.slotScope ?? u.id;

/** The lease key of an upstream's slot (in its model's scope), for work that leases slots beside the router (idle saves). */
export const slotLeaseKey = (upstream: { readonly id: number; readonly slotScope?: number }, slot: number): string => key(scopeOf(upstream), slot);

/** The gateway's routing state: beliefs, rates, and the expected end of every lease. */
export class Router {
  readonly index = new PrefixIndex();
  readonly rates = new RateTable();
  private readonly generations = new Map<number, number>();
  private readonly expectedEnd = new Map<string, number>();
  /** What place() believed llama-server would save to RAM from the chosen slot, by placement. */
  private readonly savedToRam = new WeakMap<Placement, CachedPrompt>();
  private readonly deps: RouterDeps;

  constructor(deps: RouterDeps) {
    this.deps = deps;
  }

  /**
   * Chooses a slot among `upstreams` (ready servers of the request's model) and waits for its
   * lease. Rejects with the lease queue's errors (queue_full, queue_timeout) or the signal's reason.
   */
  async place<U extends RoutableUpstream>(request: RoutedRequest, upstreams: readonly U[], signal?: AbortSignal): Promise<Placement<U>> {
    const { now, leases, metrics } = this.deps;
    for (const u of upstreams) this.track(u);
    const views = upstreams.map((u) => this.view(u, request.chain));
    const decision = schedule(request, views, now(), {
      absThreshold: this.deps.config.scheduler.balanceAbsThreshold,
      relThreshold: this.deps.config.scheduler.balanceRelThreshold,
    });
    if (decision === null) throw new SlotkeeperError('no_upstream', 'slotkeeper: no server of this model has a slot');
    const asked = now();
    const lease = await leases.acquire({ keys: decision.keys, cost: decision.best.ttftMs - decision.best.waitMs, signal });
    const startedMs = now();
    const [serverText, slotText] = lease.key.split('/');
    const server = Number(serverText);
    const slot = Number(slotText);
    const upstream = upstreams.find((u) => scopeOf(u) === server)!;
    // After a wait the slot may hold something else now: score it again as it is at this moment.
    let choice = decision.choices.get(lease.key)!;
    if (startedMs > asked) {
      const view = this.view(upstream, request.chain);
      const now = schedule(request, [{ ...view, slots: view.slots.filter((s) => s.slot === slot).map((s) => ({ ...s, busy: false, waitMs: 0 })) }], startedMs, { absThreshold: Infinity, relThreshold: Infinity });
      if (now) choice = now.best;
    }
    const kind = lease.key === decision.best.key ? decision.kind : 'cold';
    metrics.schedulerDecisions.inc({ kind });
    metrics.queueWait.observe((startedMs - asked) / 1000);
    const savedToRam = this.index.dispatch(server, slot, request.chain, (s) => leases.isBusy(key(server, s)) && s !== slot);
    const rates = this.rates.get(server);
    this.expectedEnd.set(lease.key, startedMs + serviceMs(choice.prefillTokens, request.maxTokens, rates));
    let released = false;
    const placement: Placement<U> = {
      upstream, slot, kind, choice, waitedMs: startedMs - asked, startedMs,
      release: () => {
        if (released) return;
        released = true;
        this.expectedEnd.delete(lease.key);
        lease.release();
      },
    };
    if (savedToRam !== null) this.savedToRam.set(placement, savedToRam);
    return placement;
  }

  /**
   * The disk tier's turn, between the lease and the upstream request: saves what the request is
   * about to overwrite when it is worth keeping, and restores a saved prefix into the slot when
   * that beats recomputing it. Never throws for the tier's sake.
   */
  async prepare(placement: Placement, request: RoutedRequest, model: string, signal?: AbortSignal): Promise<void> {
    if (this.deps.swaps) await this.beforeSwap(placement, request, model, signal);
    const kv = this.deps.kv;
    if (kv === undefined) return;
    const { upstream, slot, choice } = placement;
    const rates = this.rates.get(scopeOf(upstream));
    const content = this.index.slot(scopeOf(upstream), slot);
    const tokensPerBlock = this.deps.config.scheduler.blockChars * rates.tokensPerChar;
    const shared = content === undefined ? 0 : commonBlocks(content.chain, request.chain);
    // llama-server keeps a slot's content when the request keeps at least half of it, but only
    // the shared prefix survives: a request that shares a system prompt with the slot's
    // conversation and goes on differently destroys the rest, so that rest is worth saving too.
    const keeps = choice.reuse.source === 'slot' && content !== undefined && shared * 2 >= content.chain.length;
    const lost = content === undefined ? 0 : lostTokens({ tokens: content.tokens, blocks: content.chain.length }, keeps ? shared : 0, tokensPerBlock);
    const restored = await kv.beforeRun({
      upstream, slot, model, content, idleMs: content ? this.deps.now() - content.lastUsedMs : 0,
      overwrites: lost > 0, keptTokens: content === undefined ? 0 : content.tokens - lost,
      chain: request.chain, promptTokens: promptTokens(request.promptChars, rates), currentReuseTokens: choice.reuseTokens,
      currentMissChance: choice.reuse.source === 'ram' ? (this.index.ram(scopeOf(upstream))?.missChance() ?? 1) : 0,
      tokensPerBlock, promptTokensPerMs: rates.promptTokensPerMs, signal,
    });
    if (restored === null) return;
    // llama-server saves a slot it is about to replace when the request starts, but the restore
    // replaced it first: what place() believed went to the RAM cache never did.
    const ramBelief = this.savedToRam.get(placement);
    if (ramBelief !== undefined) this.index.ram(scopeOf(upstream))?.forget(ramBelief);
    this.index.setSlot(scopeOf(upstream), slot, { chain: restored.chain, tokens: restored.tokens, lastUsedMs: this.deps.now() });
    placement.restored = restored;
    placement.choice = {
      ...choice, reuse: { blocks: restored.blocks, source: 'slot' }, reuseTokens: restored.expectedTokens,
      prefillTokens: Math.max(1, choice.prefillTokens + choice.reuseTokens - restored.expectedTokens),
    };
  }

  /**
   * On a multi-model upstream, a request for a model that is not loaded swaps it in: the hot
   * slots of the models it may unload go to disk first (restored on demand when they come back),
   * and what was believed of their slots, and of the cold model's, is dropped: their servers
   * start empty. The placement then expects no reuse, so a saved entry can be restored.
   */
  private async beforeSwap(placement: Placement, request: RoutedRequest, model: string, signal?: AbortSignal): Promise<void> {
    const swap = await this.deps.swaps!.beforeRun(placement.upstream, model, signal);
    if (swap.evicted.length > 0) {
      await this.deps.kv?.saveHot(this.hotSlots(swap.evicted));
      for (const u of swap.evicted) this.index.resetServer(scopeOf(u), u.ramCacheTokens);
    }
    if (!swap.cold) return;
    const { upstream, choice } = placement;
    this.index.resetServer(scopeOf(upstream), upstream.ramCacheTokens);
    const prefillTokens = promptTokens(request.promptChars, this.rates.get(scopeOf(upstream)));
    placement.choice = { ...choice, reuse: { blocks: 0, source: 'none' }, reuseTokens: 0, prefillTokens };
  }

  /** Idle slots holding something, for the disk tier to save on shutdown. */
  hotSlots(upstreams: readonly ServingUpstream[]): HotSlot[] {
    const out: HotSlot[] = [];
    for (const u of upstreams) {
      const model = u.models[0];
      const scope = scopeOf(u);
      if (model === undefined || this.generations.get(scope) !== u.generation) continue;
      for (const slot of u.slotIds) {
        const content = this.index.slot(scope, slot);
        if (content === undefined || content.tokens === 0 || this.deps.leases.isBusy(key(scope, slot))) continue;
        out.push({ upstream: u, slot, model, content, idleMs: this.deps.now() - content.lastUsedMs, promptTokensPerMs: this.rates.get(scope).promptTokensPerMs });
      }
    }
    return out;
  }

  /** Learns from a finished request and releases its lease. */
  finish(placement: Placement, request: RoutedRequest, result: Finish): void {
    const { now, metrics } = this.deps;
    try {
      const { upstream, slot, choice } = placement;
      const scope = scopeOf(upstream);
      const t = result.timings;
      if (!result.complete || t === null) {
        // Cut short or unreported: what the slot holds now is unknown, so believe nothing.
        if (!result.complete) this.index.forgetSlot(scope, slot);
        return;
      }
      if (placement.restored) this.deps.kv?.verify(placement.restored, t.cacheN);
      const rates = this.rates.get(scope);
      const tolerance = Math.max(2 * this.deps.config.scheduler.blockChars * rates.tokensPerChar, 0.1 * choice.reuseTokens);
      const correction = this.index.recordOutcome({
        server: scope, slot, chain: request.chain, tokens: t.cacheN + t.promptN + t.predictedN,
        expected: choice.reuse, expectedTokens: choice.reuseTokens, reusedTokens: t.cacheN, nowMs: now(),
      }, tolerance);
      if (correction) metrics.indexCorrections.inc({ kind: correction });
      this.rates.record(scope, {
        promptN: t.promptN, promptMs: t.promptMs, cacheN: t.cacheN, predictedN: t.predictedN, predictedMs: t.predictedMs,
        promptChars: request.promptChars, serviceMs: now() - placement.startedMs,
      });
      metrics.promptTokens.inc({ kind: 'evaluated' }, t.promptN);
      metrics.promptTokens.inc({ kind: 'reused' }, t.cacheN);
      // At the server's measured rate, not this request's: a prefill of a few tokens is mostly
      // fixed overhead and would inflate the per-token cost of the tokens it skipped.
      metrics.prefillSecondsSaved.inc(t.cacheN / this.rates.get(scope).promptTokensPerMs / 1000);
    } finally {
      placement.release();
    }
  }

  /** Forgets a server's slot contents when it was seen to (re)start. */
  private track(u: RoutableUpstream): void {
    const scope = scopeOf(u);
    if (this.generations.get(scope) === u.generation) return;
    this.generations.set(scope, u.generation);
    this.index.resetServer(scope, u.ramCacheTokens);
  }

  private view(u: RoutableUpstream, chain: Chain): ServerView {
    const { leases, now } = this.deps;
    const scope = scopeOf(u);
    const rates = this.rates.get(scope);
    const params: CostParams = { blockChars: this.deps.config.scheduler.blockChars, reuseHalfLifeMs: defaults.reuseHalfLifeMs, ramCacheTokens: u.ramCacheTokens };
    const t = now();
    let load = 0;
    const slots: SlotView[] = u.slotIds.map((slot) => {
      const k = key(scope, slot);
      const busy = leases.isBusy(k);
      const waiting = leases.waitingFor(k);
      load += (busy ? 1 : 0) + waiting;
      // A lease granted to a placement that has not resumed yet has no expected end; a holder
      // past its estimate is still running. Either way it is busy for about a service time, not 0,
      // or a concurrent request would tie it with an idle slot and queue behind it.
      const end = this.expectedEnd.get(k);
      const remaining = end === undefined || end <= t ? rates.serviceMs : end - t;
      const waitMs = busy ? remaining + waiting * rates.serviceMs : 0;
      const content = this.index.slot(scope, slot);
      return { slot, key: k, busy, waitMs, content, reuse: this.index.expectedReuse(scope, slot, chain), copiedElsewhere: false };
    });
    // A context that is also in the RAM cache or in another slot loses nothing when overwritten.
    const ram = this.index.ram(scope);
    for (const s of slots) {
      const c = s.content;
      if (!c || c.chain.length === 0) continue;
      s.copiedElsewhere = (ram?.best(c.chain)?.blocks ?? 0) >= c.chain.length
        || slots.some((o) => o !== s && o.content !== undefined && commonBlocks(o.content.chain, c.chain) >= c.chain.length);
    }
    return { server: scope, slots, rates, load, params };
  }
}
