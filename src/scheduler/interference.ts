// How much prefills on different servers of one host slow each other. Two llama-servers on one
// machine share its cores (or GPU) unless pinned apart (`-t 1` each on a 2-core host, one GPU
// each), and a gateway cannot see which: it learns it from timings. Each server's prompt rate
// alone is compared with its rate while others on its host prefill; the factor says how many
// of its own prefills one such neighbour is worth (1: they share everything; 0: independent).

/** What a finished prefill measured, and who else was prefilling when it started. */
export interface PrefillSample {
  /** Prompt tokens per ms it ran at. */
  rate: number;
  /** Other prefills on its own server (they slow it in any case: llama-server batches them). */
  own: number;
  /** Prefills on other servers of its host. */
  neighbours: number;
}

// A neighbour of an unmeasured server is assumed to share its host's compute: the first wave of
// requests on a fresh fleet then computes a common prefix once instead of on every server.
const PRIOR = 1;
const ALPHA = 0.3;
const MAX_FACTOR = 1.5;

/** Learned per server (slot scope). */
export class Interference {
  private readonly solo = new Map<number, number>();
  private readonly factors = new Map<number, number>();

  /** How much one prefill on a neighbouring server slows a prefill here, as a share of one of its own. */
  factor(server: number): number {
    return this.factors.get(server) ?? PRIOR;
  }

  /** Folds in one prefill of at least a few hundred tokens (shorter ones are mostly overhead). */
  record(server: number, s: PrefillSample): void {
    if (!(s.rate > 0) || !Number.isFinite(s.rate) || s.own > 0) return;
    const solo = this.solo.get(server);
    if (s.neighbours === 0) {
      this.solo.set(server, solo === undefined ? s.rate : solo + ALPHA * (s.rate - solo));
      return;
    }
    if (solo === undefined) return;
    const sample = Math.min(MAX_FACTOR, Math.max(0, (solo / s.rate - 1) / s.neighbours));
    const old = this.factor(server);
    this.factors.set(server, old + ALPHA * (sample - old));
  }

  /** Forgets a server (it restarted, maybe elsewhere). */
  reset(server: number): void {
    this.solo.delete(server);
    this.factors.delete(server);
  }
}
