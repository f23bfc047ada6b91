// One model of a multi-model upstream (llama-swap, llama.cpp's router mode) as the router sees
// it: the same URL and config index as its upstream, but its own slots, because each model runs
// in its own llama-server. Its `slotScope` keeps the router's beliefs, leases and rates for it
// apart from every other model's: slot 0 of m1 and slot 0 of m2 are different slots, and a swap
// that restarts m1's server must not make m2's contents look like m1's.
import type { Upstream } from './upstream.js';

/** A model's share of a multi-model upstream. Fields are live: they follow the upstream. */
export class ModelView {
  readonly upstream: Upstream;
  readonly model: string;
  /** The router's key for this model's slots; unique in the fleet, never a config index. */
  readonly slotScope: number;
  /** The one model, for code that asks an upstream which models it serves (shutdown saves). */
  readonly models: readonly string[];
  /** The upstream picks its server by the body's `model`, so a request must name this model exactly. */
  readonly routesByModel = true;

  constructor(upstream: Upstream, model: string, slotScope: number) {
    this.upstream = upstream;
    this.model = model;
    this.slotScope = slotScope;
    this.models = [model];
  }

  /** The upstream's index in the config: headers, the disk tier's store and failover use it. */
  get id(): number { return this.upstream.id; }
  get url(): string { return this.upstream.url; }
  get apiKey(): string | null { return this.upstream.apiKey; }
  get ramCacheTokens(): number { return this.upstream.ramCacheTokens; }
  /** The upstream's: a restart of llama-swap or the router voids every model's beliefs. */
  get generation(): number { return this.upstream.generation; }
  get slotIds(): readonly number[] { return this.upstream.slotIdsOf(this.model); }
  get nCtx(): number | null { return this.upstream.nCtxOf(this.model); }
}
