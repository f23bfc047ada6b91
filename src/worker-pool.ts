// The worker pool: a Piscina pool running workers/analyze, behind a typed facade that owns the
// transfer of request bodies into the worker.
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { AnalyzeResult, AnalyzeTask } from '../workers/analyze.js';

/** Piscina options a caller may set; the worker filename is not one of them. */
export type WorkerPoolOptions = Pick<
  NonNullable<ConstructorParameters<typeof Piscina>[0]>,
  'minThreads' | 'maxThreads' | 'idleTimeout' | 'maxQueue' | 'atomics'
>;

/** Runs CPU-bound request work off the main thread. */
export interface WorkerPool {
  /**
   * Parses a request body in a worker. The buffer is transferred: it is detached (length 0)
   * on this side once the call is made, so callers must not reuse it.
   */
  analyze(body: ArrayBuffer, signal?: AbortSignal): Promise<AnalyzeResult>;
  /** Stops every worker; pending tasks are rejected. */
  destroy(): Promise<void>;
}

// Compiled layout: dist/src/worker-pool.js loads dist/workers/analyze.js. Node, Bun and Deno all
// run the compiled JS, so the worker is plain .js everywhere.
const analyzeWorker = fileURLToPath(new URL('../workers/analyze.js', import.meta.url));

type TransferList = NonNullable<Parameters<Piscina['run']>[1]>['transferList'];

// piscina 5.3 infers its TransferList type from MessagePort.postMessage; in @types/node 26 the
// last overload of that takes an options object, so inference lands there. At run time piscina
// passes the array straight to postMessage, which accepts an array of transferables.
function transferList(...items: ArrayBuffer[]): TransferList {
  return items as unknown as TransferList;
}

/** Creates the worker pool. */
export function createWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  const piscina = new Piscina<AnalyzeTask, AnalyzeResult>({ ...options, filename: analyzeWorker });
  return {
    analyze(body, signal) {
      // transferList, not Piscina.move: move() only unwraps the task itself, not a field of it.
      return piscina.run({ body }, { transferList: transferList(body), signal: signal ?? null });
    },
    destroy: () => piscina.destroy(),
  };
}
