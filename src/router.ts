// Carries out the scheduler's decisions: builds the snapshot the pure policy reads (slots, leases,
// beliefs, rates), takes a lease on the chosen slot, and learns from each finished request. All
// state it touches between the snapshot and the lease request is read and acted on in one tick.
import { resolve } from 'node:path';
import type { Config } from './config/config.js';
import { lostTokens } from './kv/decisions.js';
import type { HotSlot, KvTier, Restored } from './kv/kv-tier.js';
import { defaults } from './defaults.js';
import { SlotkeeperError } from './errors.js';
import type { Metrics } from './metrics.js';
import { type Chain, commonBlocks, coveredBlocks } from './prefix/chain.js';
import { PrefixIndex } from './prefix/prefix-index.js';
import type { CachedPrompt } from './prefix/ram-cache.js';
import type { Timings } from './proxy/timings.js';
import { type CostParams, prefillMs, promptTokens, serviceMs } from './scheduler/cost-model.js';
import { type Choice, type CopySource, type DecisionKind, type ServerView, type SlotView, schedule } from './scheduler/policy.js';
import { Interference } from './scheduler/interference.js';
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
  /**
   * The model file and context its slot files depend on (src/fleet/upstream.ts); servers with the
   * same one and the same save directory can restore each other's slots. Absent or null: none.
   */
  readonly modelIdentity?: string | null;
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
  /** The key's lease now if it is free, else null (for short work beside requests: a prefix save). */
  tryAcquire(key: string): { readonly key: string; release(): void } | null;
  isBusy(key: string): boolean;
  waitingFor(key: string): number;
}

/** The request, as the worker analysed it. */
export interface RoutedRequest {
  chain: Chain;
  promptChars: number;
  maxTokens: number | null;
  clientSlot: number | null;
  /** The model it resolved to: saved slots are filed by model. Absent: no prefix copies. */
  model?: string;
  /** Hash of the whole canonical prompt, and the hashes at its message starts (chain.ts PromptQuery). */
  fullHash?: number;
  ends?: Float64Array;
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
  /** The planned copy's wait for a prefix being computed in another slot: true once a file holds it. */
  prefixReady?: Promise<boolean>;
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

/** Requests waiting for a slot's prefix: its running request's release saves it first. */
interface PrefixWant {
  promise: Promise<boolean>;
  resolve(saved: boolean): void;
}
const scopeOf = (u: { readonly id: number; readonly slotScope?: number }) => u.slotScope ?? u.id;

/** The lease key of an upstream's slot (in its model's scope), for work that leases slots beside the router (idle saves). */
export const slotLeaseKey = (upstream: { readonly id: number; readonly slotScope?: number }, slot: number): string => key(scopeOf(upstream), slot);

/** The gateway's routing state: beliefs, rates, and the expected end of every lease. */
export class Router {
  readonly index = new PrefixIndex();
  readonly rates = new RateTable();
  readonly interference = new Interference();
  /** Who else was prefilling when each placement's request started, for {@link Interference}. */
  private readonly crowds = new WeakMap<Placement, { own: number; neighbours: number }>();
  private readonly generations = new Map<number, number>();
  private readonly expectedEnd = new Map<string, number>();
  /** When each running request's prefill is expected to start (after a planned copy) and end, by lease key. */
  private readonly prefillWindow = new Map<string, { start: number; end: number }>();
  /** What place() believed llama-server would save to RAM from the chosen slot, by placement. */
  private readonly savedToRam = new WeakMap<Placement, CachedPrompt>();
  /** Placements whose finish learned what their slot holds (so its content may be saved for others). */
  private readonly learned = new WeakSet<Placement>();
  /** By lease key: requests that planned to copy the prefix the slot's running request computes. */
  private readonly wanted = new Map<string, PrefixWant>();
  /** The latest object of each slot scope, to save a source slot of another server. */
  private readonly byScope = new Map<number, RoutableUpstream>();
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
    const views = upstreams.map((u) => this.view(u, request, upstreams));
    const decision = schedule(request, views, now(), {
      absThreshold: this.deps.config.scheduler.balanceAbsThreshold,
      relThreshold: this.deps.config.scheduler.balanceRelThreshold,
    });
    if (decision === null) throw new SlotkeeperError('no_upstream', 'slotkeeper: no server of this model has a slot');
    // Registered in the tick of the decision, so a request only ever waits for one placed before
    // it: waits follow placement order and cannot form a cycle.
    const prefixReady = this.wantPrefix(decision.best.copy);
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
      const view = this.view(upstream, request, upstreams);
      const now = schedule(request, [{ ...view, slots: view.slots.filter((s) => s.slot === slot).map((s) => ({ ...s, busy: false, waitMs: 0 })) }], startedMs, { absThreshold: Infinity, relThreshold: Infinity });
      if (now) choice = now.best;
    }
    const kind = lease.key === decision.best.key ? decision.kind : 'cold';
    metrics.schedulerDecisions.inc({ kind });
    metrics.queueWait.observe((startedMs - asked) / 1000);
    const crowd = { own: this.prefillingOn(server, slot), neighbours: this.neighbourPrefills(upstream) };
    const savedToRam = this.index.dispatch(server, slot, request.chain, (s) => leases.isBusy(key(server, s)) && s !== slot);
    const rates = this.rates.get(server);
    const copyMs = choice.copy ? Math.max(0, choice.copy.readyMs - (startedMs - asked)) + choice.copy.copyMs : 0;
    this.expectedEnd.set(lease.key, startedMs + copyMs + serviceMs(choice.prefillTokens, request.maxTokens, rates));
    this.prefillWindow.set(lease.key, { start: startedMs + copyMs, end: startedMs + copyMs + prefillMs(choice.prefillTokens, rates) });
    // What the slot will hold, for requests placed while this one computes it.
    this.index.setPending(server, slot, { chain: request.chain, tokens: promptTokens(request.promptChars, rates), lastUsedMs: startedMs, ...promptEnd(request) });
    let released = false;
    const placement: Placement<U> = {
      upstream, slot, kind, choice, waitedMs: startedMs - asked, startedMs,
      ...(prefixReady !== null ? { prefixReady } : {}),
      release: () => {
        if (released) return;
        released = true;
        this.expectedEnd.delete(lease.key);
        this.prefillWindow.delete(lease.key);
        this.index.clearPending(server, slot);
        const want = this.wanted.get(lease.key);
        if (want === undefined) {
          lease.release();
          return;
        }
        // Requests wait to copy this slot's prefix: save it while the lease keeps others out.
        this.wanted.delete(lease.key);
        const content = this.learned.has(placement) ? this.index.slot(server, slot) : undefined;
        const model = request.model;
        const save = content === undefined || model === undefined || this.deps.kv === undefined
          ? Promise.resolve(false)
          : this.deps.kv.snapshot(upstream, slot, model, content).catch(() => false);
        void save.then((saved) => {
          lease.release();
          want.resolve(saved);
        });
      },
    };
    if (savedToRam !== null) this.savedToRam.set(placement, savedToRam);
    this.crowds.set(placement, crowd);
    return placement;
  }

  /** Slots of `scope` still prefilling now, but `except`. */
  private prefillingOn(scope: number, except = -1): number {
    const t = this.deps.now();
    let n = 0;
    for (const [k, w] of this.prefillWindow) {
      if (w.start <= t && w.end > t && k.startsWith(`${scope}/`) && k !== key(scope, except)) n += 1;
    }
    return n;
  }

  /** Prefills running now on other servers of `u`'s host (same URL host name). */
  private neighbourPrefills(u: RoutableUpstream): number {
    const host = hostOf(u.url);
    let n = 0;
    for (const [scope, o] of this.byScope) {
      if (scope !== scopeOf(u) && hostOf(o.url) === host) n += this.prefillingOn(scope);
    }
    return n;
  }

  /** For a copy from a busy slot: a promise its running request's release settles; null otherwise. */
  private wantPrefix(copy: CopySource | undefined): Promise<boolean> | null {
    if (copy === undefined || copy.from.kind !== 'slot' || copy.readyMs === 0) return null;
    const k = key(copy.from.server, copy.from.slot);
    if (!this.deps.leases.isBusy(k)) return null;
    let want = this.wanted.get(k);
    if (want === undefined) {
      let resolveWant!: (saved: boolean) => void;
      const promise = new Promise<boolean>((r) => { resolveWant = r; });
      want = { promise, resolve: resolveWant };
      this.wanted.set(k, want);
    }
    return want.promise;
  }

  /**
   * Makes the planned copy's source available as a saved file: waits (bounded by the queue
   * timeout and the signal) for the request computing it, or saves an idle source slot now
   * under its lease. A source taken by another request meanwhile is not waited for: a later
   * request could be waiting for this one. True when a file holds it.
   */
  private async copySource(placement: Placement, request: RoutedRequest, signal?: AbortSignal): Promise<boolean> {
    const copy = placement.choice.copy;
    const { kv, leases, config } = this.deps;
    if (copy === undefined || kv === undefined || request.model === undefined) return false;
    if (copy.from.kind === 'file') return true;
    if (placement.prefixReady !== undefined) return untilSettled(placement.prefixReady, config.limits.queueTimeoutMs, signal);
    const source = this.byScope.get(copy.from.server);
    const content = this.index.slot(copy.from.server, copy.from.slot);
    const lease = leases.tryAcquire(key(copy.from.server, copy.from.slot));
    if (lease === null) return false;
    try {
      if (source === undefined || content === undefined) return false;
      return await kv.snapshot(source, copy.from.slot, request.model, content, signal);
    } finally {
      lease.release();
    }
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
    const { upstream, slot } = placement;
    const copying = placement.choice.copy !== undefined;
    // A copy restores over everything the slot holds.
    let replacing = false;
    if (copying) {
      const started = this.deps.now();
      const ready = await this.copySource(placement, request, signal);
      signal?.throwIfAborted();
      this.deps.metrics.kv.copySeconds.observe((this.deps.now() - started) / 1000);
      // Without it the slot gives what it gives by itself: plan the rest from that.
      if (!ready) placement.choice = withoutCopy(placement.choice);
      replacing = ready;
    }
    const choice = placement.choice;
    const rates = this.rates.get(scopeOf(upstream));
    const content = this.index.slot(scopeOf(upstream), slot);
    const tokensPerBlock = this.deps.config.scheduler.blockChars * rates.tokensPerChar;
    const shared = content === undefined ? 0 : commonBlocks(content.chain, request.chain);
    // llama-server keeps a slot's content when the request keeps at least half of it, but only
    // the shared prefix survives: a request that shares a system prompt with the slot's
    // conversation and goes on differently destroys the rest, so that rest is worth saving too.
    const keeps = !replacing && choice.reuse.source === 'slot' && content !== undefined && shared * 2 >= content.chain.length;
    const lost = content === undefined ? 0 : lostTokens({ tokens: content.tokens, blocks: content.chain.length }, keeps ? shared : 0, tokensPerBlock);
    const restored = await kv.beforeRun({
      upstream, slot, model, content, idleMs: content ? this.deps.now() - content.lastUsedMs : 0,
      overwrites: lost > 0, keptTokens: content === undefined ? 0 : content.tokens - lost,
      chain: request.chain, promptTokens: promptTokens(request.promptChars, rates), currentReuseTokens: choice.reuseTokens, currentReuseBlocks: choice.reuse.blocks,
      currentMissChance: choice.reuse.source === 'ram' ? (this.index.ram(scopeOf(upstream))?.missChance() ?? 1) : 0,
      tokensPerBlock, promptTokensPerMs: rates.promptTokensPerMs, peers: this.peers(upstream), signal,
      ...(request.ends ? { ends: request.ends } : {}),
    });
    if (copying) this.deps.metrics.kv.copies.inc({ source: choice.copy?.from.kind ?? 'file', result: restored === null ? 'failed' : 'ok' });
    if (restored === null) return;
    // llama-server saves a slot it is about to replace when the request starts, but the restore
    // replaced it first: what place() believed went to the RAM cache never did.
    const ramBelief = this.savedToRam.get(placement);
    if (ramBelief !== undefined) this.index.ram(scopeOf(upstream))?.forget(ramBelief);
    this.index.setSlot(scopeOf(upstream), slot, { chain: restored.chain, tokens: restored.tokens, lastUsedMs: this.deps.now() });
    placement.restored = restored;
    const own = withoutCopy(choice);
    placement.choice = {
      ...own, reuse: { blocks: restored.blocks, source: 'slot' }, reuseTokens: restored.expectedTokens,
      prefillTokens: Math.max(1, own.prefillTokens + own.reuseTokens - restored.expectedTokens),
    };
  }

  /** Upstreams whose saved slots `u` can restore: the same model file, context and save directory. */
  private peers(u: RoutableUpstream): RoutableUpstream[] {
    const dir = this.saveDir(u);
    if (dir === null || !u.modelIdentity) return [];
    return [...this.byScope.values()].filter((o) => o !== u && scopeOf(o) !== scopeOf(u) && o.modelIdentity === u.modelIdentity && this.saveDir(o) === dir);
  }

  /** Where its slot files are: what the disk tier knows (told, or found on this host), else the config. */
  private saveDir(u: RoutableUpstream): string | null {
    const known = this.deps.kv?.saveDirOf(u) ?? null;
    if (known !== null) return known;
    const dir = this.deps.config.upstreams[u.id]?.slotSaveDir;
    return dir ? resolve(dir) : null;
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
      this.learned.add(placement);
      if (placement.restored) this.deps.kv?.verify(placement.restored, t.cacheN);
      const rates = this.rates.get(scope);
      const tolerance = Math.max(2 * this.deps.config.scheduler.blockChars * rates.tokensPerChar, 0.1 * choice.reuseTokens);
      const correction = this.index.recordOutcome({
        server: scope, slot, chain: request.chain, ...promptEnd(request), tokens: t.cacheN + t.promptN + t.predictedN,
        expected: choice.reuse, expectedTokens: choice.reuseTokens, reusedTokens: t.cacheN, nowMs: now(),
      }, tolerance);
      if (correction) metrics.indexCorrections.inc({ kind: correction });
      const crowd = this.crowds.get(placement);
      if (crowd !== undefined && t.promptN >= 256 && t.promptMs > 0) this.interference.record(scope, { rate: t.promptN / t.promptMs, ...crowd });
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
    this.byScope.set(scope, u);
    if (this.generations.get(scope) === u.generation) return;
    this.generations.set(scope, u.generation);
    this.index.resetServer(scope, u.ramCacheTokens);
  }

  private view(u: RoutableUpstream, request: RoutedRequest, fleet: readonly RoutableUpstream[]): ServerView {
    const { leases } = this.deps;
    const chain = request.chain;
    const scope = scopeOf(u);
    const rates = this.rates.get(scope);
    const params: CostParams = { blockChars: this.deps.config.scheduler.blockChars, reuseHalfLifeMs: defaults.reuseHalfLifeMs, ramCacheTokens: u.ramCacheTokens };
    let load = 0;
    const prefilling = this.prefillingOn(scope) + this.interference.factor(scope) * this.neighbourPrefills(u);
    const slots: SlotView[] = u.slotIds.map((slot) => {
      const k = key(scope, slot);
      const busy = leases.isBusy(k);
      const waiting = leases.waitingFor(k);
      load += (busy ? 1 : 0) + waiting;
      const waitMs = busy ? this.remainingMs(scope, slot) + waiting * rates.serviceMs : 0;
      // A busy slot is had once its request ends, holding that request's prompt.
      const content = this.index.pending(scope, slot) ?? this.index.slot(scope, slot);
      return { slot, key: k, busy, waitMs, content, reuse: this.index.expectedReuse(scope, slot, request), copiedElsewhere: false };
    });
    // A context that is also in the RAM cache or in another slot loses nothing when overwritten.
    const ram = this.index.ram(scope);
    for (const s of slots) {
      const c = s.content;
      if (!c || c.chain.length === 0) continue;
      s.copiedElsewhere = (ram?.best(c.chain)?.blocks ?? 0) >= c.chain.length
        || slots.some((o) => o !== s && o.content !== undefined && commonBlocks(o.content.chain, c.chain) >= c.chain.length);
    }
    return { server: scope, slots, rates, load, params, prefilling, copies: this.copies(u, request, fleet) };
  }

  /**
   * ms until a busy slot's request ends. A lease granted to a placement that has not resumed yet
   * has no expected end; a holder past its estimate is still running. Either way it is busy for
   * about a service time, not 0, or a concurrent request would tie it with an idle slot.
   */
  private remainingMs(scope: number, slot: number): number {
    const end = this.expectedEnd.get(key(scope, slot));
    const t = this.deps.now();
    return end === undefined || end <= t ? this.rates.get(scope).serviceMs : end - t;
  }

  /**
   * Prefixes the request could have copied into `u`'s slots: saved files of `u` and of its
   * peers, and what the slots of `u` and of its peers among the candidates hold or are computing
   * (those only where they give more than every file).
   */
  private copies(u: RoutableUpstream, request: RoutedRequest, fleet: readonly RoutableUpstream[]): CopySource[] {
    const { kv, leases } = this.deps;
    const model = request.model;
    if (kv === undefined || model === undefined || request.clientSlot !== null || !kv.copyable(u, model)) return [];
    const peers = this.peers(u);
    const out: CopySource[] = kv.fileSources(u, model, request, peers).map((f) => ({
      from: { kind: 'file', file: f.file }, blocks: f.blocks, entryBlocks: f.entryBlocks, tokens: f.tokens, readyMs: 0, copyMs: f.restoreMs,
    }));
    const fileBlocks = out.reduce((m, c) => Math.max(m, c.blocks), 0);
    for (const p of [u, ...peers.filter((o) => fleet.includes(o))]) {
      if (p !== u && !kv.copyable(p, model)) continue;
      const scope = scopeOf(p);
      for (const slot of p.slotIds) {
        const busy = leases.isBusy(key(scope, slot));
        const content = (busy ? this.index.pending(scope, slot) : undefined) ?? this.index.slot(scope, slot);
        if (content === undefined || content.chain.length === 0) continue;
        const blocks = coveredBlocks(content, request);
        if (blocks <= fileBlocks) continue;
        out.push({
          from: { kind: 'slot', server: scope, slot }, blocks, entryBlocks: content.chain.length, tokens: content.tokens,
          readyMs: busy ? this.remainingMs(scope, slot) : 0, copyMs: kv.copyMs(p, content.tokens, p === u ? peers : this.peers(p)),
        });
      }
    }
    return out;
  }
}

/** A request's whole-prompt hash and length, as slot contents keep them. */
function promptEnd(request: RoutedRequest): { endHash?: number; chars?: number } {
  return request.fullHash === undefined ? {} : { endHash: request.fullHash, chars: request.promptChars };
}

const hosts = new Map<string, string>();
function hostOf(url: string): string {
  let host = hosts.get(url);
  if (host === undefined) {
    try {
      host = new URL(url).hostname;
    } catch {
      host = url;
    }
    if (hosts.size > 1024) hosts.clear();
    hosts.set(url, host);
  }
  return host;
}

/** The choice as the slot gives it by itself, with the copy's prefill given back. */
function withoutCopy(choice: Choice): Choice {
  if (choice.copy === undefined) return choice;
  const { copy: _copy, copyTokens: _tokens, ...own } = choice;
  const prefillTokens = Math.max(1, choice.prefillTokens + (choice.copyTokens ?? 0) - choice.reuseTokens);
  return { ...own, prefillTokens };
}

/** Settles to `promise`'s value, or false after `ms` or when `signal` aborts (then it rejects with the reason). */
function untilSettled(promise: Promise<boolean>, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => resolve(false)), ms);
    const onAbort = () => finish(() => reject(signal!.reason));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then((v) => finish(() => resolve(v)), () => finish(() => resolve(false)));
  });
}
