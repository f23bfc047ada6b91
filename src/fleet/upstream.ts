// One upstream llama-server (or llama-swap) as a state machine. Transitions are synchronous
// methods fed with what a probe or a request saw; they decide, the fleet carries out (timers,
// HTTP) and tells listeners. Nothing here awaits, so no decision rests on a state read before
// an await.
//
//   unknown ─probe starts─▶ probing ─good probe─▶ ready
//   probing, ready ─failed probe─▶ draining;  ready ─request failure─▶ draining
//   draining ─failuresUntilDown-th failed probe in a row─▶ down
//   draining, down ─good probe─▶ ready
import type { UpstreamConfig } from '../config/config.js';
import { defaults } from '../defaults.js';
import type { UpstreamKind } from '../kv/slot-actions.js';
import type { ServedModel } from './models.js';
import { type ModelFacts, type ProbeFailure, type ProbeSuccess, range } from './probe.js';

/**
 * unknown: never probed. probing: first probe in flight. ready: takes requests. draining: a
 * probe or a request failed since the last good probe; no new requests, re-probed soon. down:
 * {@link failuresUntilDown} probes failed in a row; re-probed at the normal interval.
 */
export type UpstreamState = 'unknown' | 'probing' | 'ready' | 'draining' | 'down';

/**
 * Failed probes in a row that take an upstream down. With the fleet re-probing a draining
 * upstream after 500 ms, a dead server is down about a second after its first failure, while
 * a single lost probe (a busy event loop, a dropped packet) only drains it briefly.
 */
export const failuresUntilDown = 3;

/** What a transition changed, for listeners; transitions return null when nothing did. */
export interface UpstreamChange {
  previousState: UpstreamState;
  previousGeneration: number;
}

/** llama-swap and other servers without /props or /slots: one slot unless the config says more. */
const undiscoveredSlots = 1;

/** llama.cpp's router keeps at most this many models loaded unless its /props says (--models-max). */
const routerDefaultCapacity = 4;

/** One upstream. Read its fields; only the fleet calls the transitions. */
export class Upstream {
  /** Index in config.upstreams. */
  readonly id: number;
  readonly url: string;
  readonly ramCacheTokens: number;
  readonly apiKey: string | null;
  /** config.upstreams[id].slots, which overrides discovery; null when not set. */
  readonly slotsOverride: number | null;
  /** How it serves models: one (llama-server) or several, each with its own slots. */
  readonly kind: UpstreamKind;

  #state: UpstreamState = 'unknown';
  #modelInfo: readonly ServedModel[] = [];
  #models: readonly string[] = [];
  #slotIds: readonly number[] = [];
  #nCtx: number | null = null;
  #modelPath: string | null = null;
  #sleeping = false;
  #generation = 0;
  #lastError: string | null = null;
  #consecutiveFailures = 0;
  #lastSeenAt: number | null = null;
  // Bumped by every failure: a probe that started before one cannot vouch for the server.
  #failureEpoch = 0;
  // A failure that hints at a restart (could not connect, model loading) was seen since the
  // last good probe: the next good probe cannot rule out that the KV cache was lost.
  #mayHaveRestarted = false;
  // Multi-model kinds: what each model's own server said of its slots, the models loaded when
  // last asked, and how many can be loaded at once.
  #modelFacts = new Map<string, ModelFacts>();
  #loaded: readonly string[] | null = null;
  #capacity: number;

  constructor(id: number, config: UpstreamConfig) {
    this.id = id;
    this.url = config.url;
    this.ramCacheTokens = config.ramCacheTokens ?? defaults.ramCacheTokens;
    this.apiKey = config.apiKey ?? null;
    this.slotsOverride = config.slots ?? null;
    this.kind = config.kind ?? 'llama-server';
    this.#capacity = this.kind === 'router' ? routerDefaultCapacity : 1;
  }

  /** Where it is in its lifecycle; only `ready` upstreams get requests. */
  get state(): UpstreamState { return this.#state; }
  /** Model ids from /v1/models when last seen ready. */
  get models(): readonly string[] { return this.#models; }
  /** The /v1/models entries behind `models`, with their aliases. */
  get modelInfo(): readonly ServedModel[] { return this.#modelInfo; }
  /** Slot ids: the config override's 0..slots-1, else /slots ids, else 0..total_slots-1. */
  get slotIds(): readonly number[] { return this.#slotIds; }
  /** Context per slot, tokens; null when the server does not say (llama-swap). */
  get nCtx(): number | null { return this.#nCtx; }
  /**
   * What its slot files depend on, for plain llama-servers: the model file and context per slot
   * from /props. Two servers with the same one can restore each other's saved slots (a shared
   * --slot-save-path); null when not known, or for multi-model kinds.
   */
  get modelIdentity(): string | null {
    if (this.kind !== 'llama-server' || this.#modelPath === null || this.#nCtx === null) return null;
    return `${this.#modelPath}\n${this.#nCtx}`;
  }
  /** The server sleeps (--sleep-idle-seconds): its model is unloaded until the next request. */
  get sleeping(): boolean { return this.#sleeping; }
  /**
   * Bumped whenever the server is seen to (re)start: first ready; ready again after down or
   * after a failure that hints at a restart; slots, n_ctx or model ids changed; or it went to
   * sleep. Whatever was believed about its KV cache under an older generation is void.
   */
  get generation(): number { return this.#generation; }
  /** The latest failure since the last good probe, for logs and /health; null when none. */
  get lastError(): string | null { return this.#lastError; }
  /** Failed probes since the last good one. */
  get consecutiveFailures(): number { return this.#consecutiveFailures; }
  /** When the last good probe ended (the fleet's clock), or null. */
  get lastSeenAt(): number | null { return this.#lastSeenAt; }
  /** Whether the next probe should read /slots: only on discovery, see probe.ts for why. */
  get wantsSlotList(): boolean {
    return this.slotsOverride === null && (this.#generation === 0 || this.#mayHaveRestarted || this.#state === 'down');
  }

  /** Multi-model kinds: the models loaded when last asked, or null when not known. */
  get loaded(): readonly string[] | null { return this.#loaded; }
  /** Multi-model kinds: models that can be loaded at once (0: no limit); llama-swap counts as one swap group. */
  get capacity(): number { return this.#capacity; }

  /** Multi-model kinds: `model`'s slot ids (the config override, else what its server said, else one). */
  slotIdsOf(model: string): readonly number[] {
    if (this.slotsOverride !== null) return range(this.slotsOverride);
    return this.#modelFacts.get(model)?.slotIds ?? range(undiscoveredSlots);
  }

  /** Multi-model kinds: `model`'s context per slot, or null until its server was seen loaded. */
  nCtxOf(model: string): number | null {
    return this.#modelFacts.get(model)?.nCtx ?? null;
  }

  /** Multi-model kinds: whether the next probe should read `model`'s /slots (not known yet). */
  wantsModelSlots(model: string): boolean {
    return this.slotsOverride === null && this.#modelFacts.get(model)?.slotIds == null;
  }

  /** The loaded set was read outside a probe (just before a request). */
  noteLoaded(models: readonly string[]): void {
    this.#loaded = [...models];
  }

  /** A probe starts; pass the ticket to probeSucceeded. */
  beginProbe(): { ticket: number; change: UpstreamChange | null } {
    const before = this.#before();
    if (this.#state === 'unknown') this.#state = 'probing';
    return { ticket: this.#failureEpoch, change: this.#changed(before) };
  }

  /**
   * A probe that began with `ticket` succeeded. Ignored (null) when a failure was reported
   * meanwhile: the answer may predate it, so the next probe decides.
   */
  probeSucceeded(ticket: number, result: ProbeSuccess, now: number): UpstreamChange | null {
    if (ticket !== this.#failureEpoch) return null;
    const before = this.#before();
    const nextSlots = this.slotsOverride !== null ? range(this.slotsOverride) : result.slotIds ?? range(undiscoveredSlots);
    const nextModels = result.models.map((m) => m.id);
    const restarted = this.#generation === 0
      || this.#state === 'down'
      || this.#mayHaveRestarted
      || !sameItems(nextSlots, this.#slotIds)
      || result.nCtx !== this.#nCtx
      || !sameItems([...nextModels].sort(), [...this.#models].sort())
      || (result.sleeping && !this.#sleeping)
      || (result.modelPath != null && this.#modelPath !== null && result.modelPath !== this.#modelPath);
    if (restarted) {
      this.#generation += 1;
      this.#modelFacts.clear();
    }
    for (const [model, facts] of Object.entries(result.modelFacts ?? {})) {
      const known = this.#modelFacts.get(model);
      this.#modelFacts.set(model, { slotIds: facts.slotIds ?? known?.slotIds ?? null, nCtx: facts.nCtx ?? known?.nCtx ?? null });
    }
    if (result.loaded !== undefined && result.loaded !== null) this.#loaded = result.loaded;
    if (result.capacity !== undefined && result.capacity !== null) this.#capacity = result.capacity;
    this.#state = 'ready';
    this.#modelInfo = result.models;
    this.#models = nextModels;
    this.#slotIds = nextSlots;
    this.#nCtx = result.nCtx;
    // Kept when a probe does not say: llama-server's /props always does.
    this.#modelPath = result.modelPath ?? (restarted ? null : this.#modelPath);
    this.#sleeping = result.sleeping;
    this.#lastError = null;
    this.#consecutiveFailures = 0;
    this.#mayHaveRestarted = false;
    this.#lastSeenAt = now;
    return this.#changed(before);
  }

  /** A probe failed: draining, or down after {@link failuresUntilDown} in a row. */
  probeFailed(failure: ProbeFailure): UpstreamChange | null {
    const before = this.#before();
    this.#failureEpoch += 1;
    this.#consecutiveFailures += 1;
    this.#lastError = failure.error;
    if (failure.kind === 'unreachable' || failure.kind === 'loading') this.#mayHaveRestarted = true;
    if (this.#state !== 'down') this.#state = this.#consecutiveFailures >= failuresUntilDown ? 'down' : 'draining';
    return this.#changed(before);
  }

  /**
   * A request could not reach the server or lost its connection: stop sending it requests
   * until a probe says otherwise. Only probes count toward down: many requests in flight all
   * failing at once are one event, not many.
   */
  requestFailed(error: string): UpstreamChange | null {
    const before = this.#before();
    this.#failureEpoch += 1;
    this.#lastError = error;
    this.#mayHaveRestarted = true;
    if (this.#state === 'ready') this.#state = 'draining';
    return this.#changed(before);
  }

  #before(): UpstreamChange {
    return { previousState: this.#state, previousGeneration: this.#generation };
  }

  #changed(before: UpstreamChange): UpstreamChange | null {
    return before.previousState === this.#state && before.previousGeneration === this.#generation ? null : before;
  }
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
