// Whether restores are worth trying on a server and model. llama.cpp cannot reuse a restored
// state for some models (sliding-window or hybrid attention without checkpoints: llama.cpp
// issues #25913, #26676): the restore succeeds, and the next request still prefills from 0.
// After `limit` restores in a row that the next response's cache_n did not confirm, restores
// stop there; a confirmed one resets the count.

/** A verdict that changed something, for logs and metrics. */
export type TrustChange = 'disabled' | null;

/** Per (server, model) tallies of unconfirmed restores. Bounded by servers × models. */
export class RestoreTrust {
  private readonly failures = new Map<string, number>();
  private readonly disabled = new Set<string>();
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Restores are still tried on `server` for `model`. */
  allowed(server: string, model: string): boolean {
    return !this.disabled.has(`${server}\n${model}`);
  }

  /** A restore's next response came back; `verified` says its cache_n confirmed the restore. */
  record(server: string, model: string, verified: boolean): TrustChange {
    const key = `${server}\n${model}`;
    if (verified) {
      this.failures.delete(key);
      return null;
    }
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    if (n >= this.limit && !this.disabled.has(key)) {
      this.disabled.add(key);
      return 'disabled';
    }
    return null;
  }

  /** Forgets a server's verdicts (it restarted, maybe with another build or model). */
  resetServer(server: string): void {
    const prefix = `${server}\n`;
    for (const k of [...this.failures.keys()]) if (k.startsWith(prefix)) this.failures.delete(k);
    for (const k of [...this.disabled]) if (k.startsWith(prefix)) this.disabled.delete(k);
  }
}
