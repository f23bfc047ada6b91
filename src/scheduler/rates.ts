// Measured rates of one server, as exponentially weighted moving averages of what its responses'
// timings report. The scheduler's cost model reads them; nothing here decides anything.

/** One server's measured rates. */
export interface Rates {
  /** Prompt tokens evaluated per ms (prefill speed). */
  promptTokensPerMs: number;
  /** Tokens generated per ms. */
  genTokensPerMs: number;
  /** Prompt tokens per character of the canonical prompt (template markup included). */
  tokensPerChar: number;
  /** Time a request holds its slot, ms. */
  serviceMs: number;
}

/** What one finished request measured; null fields were not reported. */
export interface RateSample {
  promptN: number | null;
  promptMs: number | null;
  cacheN: number | null;
  predictedN: number | null;
  predictedMs: number | null;
  promptChars: number;
  serviceMs: number;
}

// Starting points before a server has answered anything: CPU-class speeds, so the first
// estimates err towards "prefill is expensive", which is when caching decisions matter.
const INITIAL: Rates = { promptTokensPerMs: 0.5, genTokensPerMs: 0.02, tokensPerChar: 0.3, serviceMs: 2_000 };
// Weight of the newest sample: fast enough to follow a server that slows under load.
const ALPHA = 0.3;
// Below this, prompt_ms is dominated by fixed overhead and says little about prefill speed.
const MIN_PROMPT_SAMPLE = 32;

/** EWMA rates per server. */
export class RateTable {
  private readonly rates = new Map<number, Rates>();
  /** Which of a server's rates have been measured at least once (the rest are still INITIAL's guesses). */
  private readonly measured = new Map<number, Set<keyof Rates>>();

  /** The server's current rates (initial guesses until it has answered). */
  get(server: number): Rates {
    return this.rates.get(server) ?? INITIAL;
  }

  /** Folds one finished request's timings into the server's rates; the first measurement of the others replaces their guess. */
  record(server: number, s: RateSample): void {
    const r = { ...this.get(server) };
    const seen = this.measured.get(server) ?? new Set<keyof Rates>();
    const fold = (name: keyof Rates, sample: number) => {
      r[name] = seen.has(name) ? ewma(r[name], sample) : sample;
      seen.add(name);
    };
    // The prompt rate keeps averaging from its pessimistic guess: one fast first prefill (a tiny
    // model, a short prompt) would otherwise make every save look not worth it at once.
    if (s.promptN !== null && s.promptMs !== null && s.promptN >= MIN_PROMPT_SAMPLE && s.promptMs > 0) r.promptTokensPerMs = ewma(r.promptTokensPerMs, s.promptN / s.promptMs);
    if (s.predictedN !== null && s.predictedMs !== null && s.predictedN >= 4 && s.predictedMs > 0) fold('genTokensPerMs', s.predictedN / s.predictedMs);
    if (s.promptN !== null && s.cacheN !== null && s.promptChars >= 64) fold('tokensPerChar', (s.promptN + s.cacheN) / s.promptChars);
    fold('serviceMs', s.serviceMs);
    this.rates.set(server, r);
    this.measured.set(server, seen);
  }

  /** Forgets a server's rates. */
  reset(server: number): void {
    this.rates.delete(server);
    this.measured.delete(server);
  }
}

function ewma(old: number, sample: number): number {
  return old + ALPHA * (sample - old);
}
