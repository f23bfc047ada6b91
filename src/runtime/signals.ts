// The seam for process signals. Node, Bun and Deno all deliver SIGINT/SIGTERM through
// node:process; should one stop doing so, this is the only file to change.
import process from 'node:process';

/** Signals that ask slotkeeper to shut down. */
export const shutdownSignals = ['SIGINT', 'SIGTERM'] as const;

/** A shutdown signal's name. */
export type ShutdownSignal = (typeof shutdownSignals)[number];

/** Calls `handler` on the first SIGINT or SIGTERM; returns a function that unsubscribes. */
export function onShutdownSignal(handler: (signal: ShutdownSignal) => void): () => void {
  const listeners = shutdownSignals.map((signal) => {
    const listener = () => {
      unsubscribe();
      handler(signal);
    };
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  function unsubscribe() {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  }
  return unsubscribe;
}
