// The fleet: every configured upstream, probed on a timer, and the questions the gateway asks
// of it (which ready servers serve this model, which models are there, what a request for a
// model will swap out). Decisions live in upstream.ts (state), models.ts (resolution) and
// swap-plan.ts (swaps); this file owns the timers, the probes in flight and the listeners.
import { clearTimeout, setTimeout } from 'node:timers';
import type { Config } from '../config/config.js';
import { SlotkeeperError } from '../errors.js';
import type { RoutableUpstream, SwapCheck, SwapOutcome } from '../router.js';
import { isMultiModel } from './model-routes.js';
import { ModelView } from './model-view.js';
import { type ModelList, listModels, resolveModel } from './models.js';
import { probe, readLoaded } from './probe.js';
import { planSwap } from './swap-plan.js';
import { Upstream, type UpstreamChange } from './upstream.js';

/** What requests are routed to: a llama-server, or one model of a llama-swap or router-mode upstream. */
export type Routable = Upstream | ModelView;

const NO_SWAP: SwapOutcome = { cold: false, evicted: [] };

/**
 * How soon a draining upstream is probed again, ms (or at the normal interval if that is
 * sooner): soon enough that a server that merely hiccuped is back within a second, and that
 * a dead one reaches `down` (three failed probes) about a second after its first failure.
 */
export const drainingReprobeMs = 500;

/** What the fleet needs from outside; tests pass their own. */
export interface FleetDeps {
  fetch?: typeof fetch;
  /** Clock for `Upstream.lastSeenAt`, ms. */
  now?: () => number;
  /** Runs `fn` after `ms` without keeping the process alive; returns a function that cancels it. */
  setTimer?: (fn: () => void, ms: number) => () => void;
  /** One line per upstream state or generation change. */
  log?: (line: string) => void;
}

/** Called after an upstream's state or generation changed. */
export type FleetListener = (upstream: Upstream, change: UpstreamChange) => void;

interface Probing {
  controller: AbortController;
  done: Promise<void>;
}

/** The upstreams of one gateway and their health. */
export class Fleet implements SwapCheck {
  /** One per config.upstreams entry, in config order (`upstream.id` is the index). */
  readonly upstreams: readonly Upstream[];
  readonly #config: Config;
  readonly #fetch: typeof fetch | undefined;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => () => void;
  readonly #log: (line: string) => void;
  readonly #listeners = new Set<FleetListener>();
  readonly #timers = new Map<Upstream, () => void>();
  readonly #probing = new Map<Upstream, Probing>();
  // One view per (multi-model upstream, model), made on first use; scopes follow the config indices.
  readonly #views = new Map<Upstream, Map<string, ModelView>>();
  #nextScope: number;
  // When each model of a multi-model upstream was last sent a request, to guess LRU unloads.
  readonly #lastUsed = new Map<Upstream, Record<string, number>>();
  #started = false;
  #closed = false;

  constructor(config: Config, deps: FleetDeps = {}) {
    this.#config = config;
    this.upstreams = config.upstreams.map((u, i) => new Upstream(i, u));
    this.#fetch = deps.fetch;
    this.#now = deps.now ?? Date.now;
    this.#setTimer = deps.setTimer ?? unrefTimer;
    this.#log = deps.log ?? (() => {});
    this.#nextScope = this.upstreams.length;
  }

  /**
   * Probes every upstream once and resolves when all have answered or failed (never rejects
   * for an upstream's sake); from then on each is probed every fleet.probeIntervalMs, and a
   * draining one after {@link drainingReprobeMs}.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('Fleet.start() was already called');
    this.#started = true;
    await Promise.all(this.upstreams.map((u) => this.#probe(u)));
  }

  /** Stops the timers, aborts probes in flight, and resolves once they have settled. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    const probing = [...this.#probing.values()];
    for (const p of probing) p.controller.abort();
    await Promise.all(probing.map((p) => p.done));
  }

  /**
   * The canonical model id for a request's `model` and the ready upstreams serving it (see
   * models.ts for the rules). Throws SlotkeeperError 'model_not_found' (404) or 'no_upstream' (503).
   */
  resolveModel(requested: string | null): { model: string; upstreams: Routable[] } {
    const resolution = resolveModel(requested, this.upstreams, this.#config);
    if (!resolution.ok) throw new SlotkeeperError(resolution.code, resolution.message);
    const model = resolution.model;
    return { model, upstreams: resolution.upstreams.map((u) => isMultiModel(u.kind) ? this.#view(u, model) : u) };
  }

  /**
   * Ready llama-servers, and a view of each model a ready multi-model upstream has loaded (as
   * last seen), for shutdown saves: asking a model that is not loaded to save would load it.
   */
  routables(): Routable[] {
    const out: Routable[] = [];
    for (const u of this.upstreams) {
      if (u.state !== 'ready') continue;
      if (!isMultiModel(u.kind)) out.push(u);
      else for (const model of u.loaded ?? []) if (u.models.includes(model)) out.push(this.#view(u, model));
    }
    return out;
  }

  /**
   * Just before a request for `model` goes to `target`: on a multi-model upstream, reads what is
   * loaded there now and says whether the model is cold and which loaded models the request may
   * unload (swap-plan.ts). Plain llama-servers, and upstreams that cannot say, swap nothing.
   */
  async beforeRun(target: RoutableUpstream, model: string, signal?: AbortSignal): Promise<SwapOutcome> {
    const upstream = this.upstreams[target.id];
    if (upstream === undefined || !isMultiModel(upstream.kind)) return NO_SWAP;
    const loaded = await readLoaded({
      url: upstream.url, apiKey: upstream.apiKey, kind: upstream.kind, timeoutMs: this.#config.fleet.probeTimeoutMs,
      ...(signal ? { signal } : {}), ...(this.#fetch ? { fetch: this.#fetch } : {}),
    });
    if (loaded !== null) upstream.noteLoaded(loaded);
    const lastUsed = this.#lastUsed.get(upstream) ?? {};
    this.#lastUsed.set(upstream, lastUsed);
    const plan = planSwap({ requested: model, loaded, capacity: upstream.capacity, lastUsed });
    lastUsed[model] = this.#now();
    if (plan.cold || plan.evicts.length > 0) {
      this.#log(`fleet: upstream ${upstream.id}: model ${model} ${plan.cold ? 'is not loaded' : 'is loaded'}${plan.evicts.length > 0 ? `; the request may unload ${plan.evicts.join(', ')}` : ''}`);
    }
    return { cold: plan.cold, evicted: plan.evicts.filter((m) => upstream.models.includes(m)).map((m) => this.#view(upstream, m)) };
  }

  /**
   * The request path could not connect to `upstream` or lost the connection: it stops taking
   * requests (draining) and is probed again soon.
   */
  reportFailure(target: Routable, error: unknown): void {
    const upstream = target instanceof ModelView ? target.upstream : target;
    if (this.upstreams[upstream.id] !== upstream) throw new TypeError('Fleet.reportFailure: not an upstream of this fleet');
    this.#emit(upstream, upstream.requestFailed(describe(error)));
    // A probe in flight schedules the next one when it ends, by the state it leaves.
    if (!this.#probing.has(upstream)) this.#schedule(upstream);
  }

  /** OpenAI's model list, merged over ready upstreams, plus the config's aliases. */
  modelList(): ModelList {
    return listModels(this.upstreams, this.#config.aliases);
  }

  /** Subscribes to state and generation changes; returns a function that unsubscribes. */
  onChange(listener: FleetListener): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  #view(upstream: Upstream, model: string): ModelView {
    let views = this.#views.get(upstream);
    if (views === undefined) this.#views.set(upstream, views = new Map());
    let view = views.get(model);
    if (view === undefined) views.set(model, view = new ModelView(upstream, model, this.#nextScope++));
    return view;
  }

  #probe(upstream: Upstream): Promise<void> {
    const running = this.#probing.get(upstream);
    if (running !== undefined) return running.done;
    if (this.#closed) return Promise.resolve();
    this.#cancelTimer(upstream);
    const { ticket, change } = upstream.beginProbe();
    this.#emit(upstream, change);
    const controller = new AbortController();
    const done = probe({
      url: upstream.url,
      apiKey: upstream.apiKey,
      timeoutMs: this.#config.fleet.probeTimeoutMs,
      readSlots: upstream.wantsSlotList,
      kind: upstream.kind,
      discoverModel: (model) => upstream.wantsModelSlots(model),
      signal: controller.signal,
      ...(this.#fetch === undefined ? {} : { fetch: this.#fetch }),
    }).then((result) => {
      this.#probing.delete(upstream);
      if (this.#closed) return;
      this.#emit(upstream, result.ok ? upstream.probeSucceeded(ticket, result, this.#now()) : upstream.probeFailed(result));
      this.#schedule(upstream);
    });
    this.#probing.set(upstream, { controller, done });
    return done;
  }

  #schedule(upstream: Upstream): void {
    if (!this.#started || this.#closed) return;
    this.#cancelTimer(upstream);
    const interval = this.#config.fleet.probeIntervalMs;
    const delay = upstream.state === 'draining' ? Math.min(drainingReprobeMs, interval) : interval;
    this.#timers.set(upstream, this.#setTimer(() => {
      this.#timers.delete(upstream);
      void this.#probe(upstream);
    }, delay));
  }

  #cancelTimer(upstream: Upstream): void {
    this.#timers.get(upstream)?.();
    this.#timers.delete(upstream);
  }

  #emit(upstream: Upstream, change: UpstreamChange | null): void {
    if (change === null) return;
    this.#log(describeChange(upstream, change));
    for (const listener of this.#listeners) {
      try {
        listener(upstream, change);
      } catch (err) {
        // One broken listener must not stop the others or the probe loop.
        this.#log(`fleet: an onChange listener threw: ${describe(err)}`);
      }
    }
  }
}

function unrefTimer(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeChange(u: Upstream, change: UpstreamChange): string {
  const head = `fleet: upstream ${u.id} (${u.url}) ${change.previousState} -> ${u.state}, generation ${u.generation}`;
  if (u.state === 'ready') {
    const ctx = u.nCtx === null ? 'n_ctx unknown' : `n_ctx ${u.nCtx}`;
    return `${head}: ${u.slotIds.length} slot(s), ${ctx}${u.sleeping ? ', sleeping' : ''}, models ${u.models.join(', ')}`;
  }
  return u.lastError === null ? head : `${head}: ${u.lastError}`;
}
