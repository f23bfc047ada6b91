// The worker pool: a Piscina pool running workers/analyze, behind a typed facade that owns the
// transfer of request bodies into the worker (and of the forwarded body and hashes back out).
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { type AnalyzeResult, type AnalyzeTask, type Route, type WorkerSetup, analyzeRequest } from '../workers/analyze.js';
import { type CacheKeySetup, createCacheKeys } from '../workers/cache-keys.js';
import { createNormalizer, defaultNormalizeConfig, type NormalizeConfig } from '../workers/normalize.js';
import { defaults } from './defaults.js';
import { SlotkeeperError } from './errors.js';

/** Piscina options a caller may set; the worker filename is not one of them. */
export type WorkerPoolOptions = Pick<
  NonNullable<ConstructorParameters<typeof Piscina>[0]>,
  'minThreads' | 'maxThreads' | 'idleTimeout' | 'maxQueue' | 'atomics'
> & {
  /** The normalization rules every worker applies (config `normalize`); the defaults when absent. */
  normalize?: NormalizeConfig;
  /** The response cache's key settings (strip rules, suffix tier); absent when the cache is off. */
  cacheKeys?: CacheKeySetup;
  /**
   * Longest analysis, ms: past it the task fails with analysis_timeout and its worker is
   * terminated and replaced (a backtracking rule cannot be interrupted any other way). None when absent.
   */
  analysisTimeoutMs?: number;
  /** V8 heap limit of each worker, MiB; a body that needs more fails with body_too_large. */
  workerHeapMb?: number;
};

/** The pool options that come from config `limits`. */
export function poolLimits(limits: { analysisTimeoutMs: number; workerQueueLength: number; workerHeapMb: number }): WorkerPoolOptions {
  return { analysisTimeoutMs: limits.analysisTimeoutMs, maxQueue: limits.workerQueueLength, workerHeapMb: limits.workerHeapMb };
}

/** What every worker is set up with: {@link WorkerPoolOptions}' `normalize` and `cacheKeys`. */
export type AnalyzerSetup = Pick<WorkerPoolOptions, 'normalize' | 'cacheKeys'>;

const noCacheKeys: CacheKeySetup = { stripRules: [], suffixMessages: 0 };

/** How to analyze one body; every field is optional. */
export interface AnalyzeOptions {
  /** The endpoint the body was sent to, which says where the prompt is. Default 'chat'. */
  route?: Route;
  /** Block size of the chained prompt hashes, in UTF-16 code units. Default defaults.blockChars. */
  blockChars?: number;
  /** Rejects the task with an AbortError; a running task's worker is terminated. */
  signal?: AbortSignal;
  /** Return before/after samples of each normalization (verbose logging). */
  samples?: boolean;
  /** Compute the response cache's key material. */
  cacheKeys?: boolean;
}

/** Runs CPU-bound request work off the main thread. */
export interface WorkerPool {
  /**
   * Analyzes a request body in a worker. The buffer is transferred: it is detached (length 0)
   * on this side once the call is made, so callers must not reuse it. A success carries it back
   * as `forward` (the same bytes, not copied) unless the body had to be re-serialized.
   */
  analyze(body: ArrayBuffer, options?: AnalyzeOptions): Promise<AnalyzeResult>;
  /** Stops every worker; pending tasks are rejected. */
  destroy(): Promise<void>;
  /** Tasks waiting for a free worker. */
  queueSize(): number;
  /** True when tasks wait and none has finished for longer than the analysis deadline: /health says 503. */
  stalled?(): boolean;
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

// The facade validates; the analysis trusts its task (a bad blockChars would loop forever).
const routes: readonly Route[] = ['chat', 'completions', 'messages', 'count_tokens'];

function invalid(route: unknown, blockChars: unknown): TypeError | null {
  if (!routes.includes(route as Route)) return new TypeError(`route must be one of ${routes.join(', ')}, got ${String(route)}`);
  if (!Number.isInteger(blockChars) || (blockChars as number) < 1) return new TypeError(`blockChars must be a positive integer, got ${String(blockChars)}`);
  return null;
}

/**
 * The same analysis on the calling (main) thread, with the WorkerPool interface: for measuring
 * what the pool buys (bench/overhead.ts compares both in one run) and for embedding without threads.
 */
export function createInlineAnalyzer(setup: AnalyzerSetup = {}): WorkerPool {
  const normalizer = createNormalizer(setup.normalize ?? defaultNormalizeConfig);
  const keys = createCacheKeys(setup.cacheKeys ?? noCacheKeys);
  return {
    async analyze(body, { route = 'chat', blockChars = defaults.blockChars, signal, samples = false, cacheKeys = false } = {}) {
      const error = invalid(route, blockChars);
      if (error) throw error;
      signal?.throwIfAborted();
      return analyzeRequest({ body, route, blockChars, samples, cacheKeys }, normalizer, keys);
    },
    destroy: async () => {},
    queueSize: () => 0,
  };
}

/** Creates the worker pool. */
export function createWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  const { normalize = defaultNormalizeConfig, cacheKeys: keySetup, analysisTimeoutMs, workerHeapMb, maxQueue, ...piscinaOptions } = options;
  const workerData: WorkerSetup = { normalize, ...(keySetup ? { cacheKeys: keySetup } : {}) };
  const piscina = new Piscina<AnalyzeTask, AnalyzeResult>({
    ...piscinaOptions, workerData, filename: analyzeWorker,
    ...(workerHeapMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: workerHeapMb } }),
  });
  // Tasks wait here, not in piscina's queue, so that the deadline counts from when a worker takes
  // the task: behind a stuck worker, waiting bodies still get their full time once it is replaced.
  const gate = new TaskGate(piscina.maxThreads, typeof maxQueue === 'number' ? maxQueue : Infinity);
  let lastSettled = performance.now();
  return {
    analyze(body, { route = 'chat', blockChars = defaults.blockChars, signal, samples = false, cacheKeys = false } = {}) {
      const error = invalid(route, blockChars);
      if (error) return Promise.reject(error);
      if (signal?.aborted === true) return Promise.reject(signal.reason);
      const run = () => runTask({ body, route, blockChars, samples, cacheKeys }, signal);
      // Entered at once, the body is transferred before this returns, as the interface promises.
      return gate.tryEnter() ? run() : gate.enter(signal).then(run);
    },
    destroy: () => {
      gate.close();
      return piscina.destroy();
    },
    queueSize: () => gate.waiting(),
    stalled: () => analysisTimeoutMs !== undefined && gate.waiting() > 0 && performance.now() - lastSettled > analysisTimeoutMs,
  };

  async function runTask(task: AnalyzeTask, signal: AbortSignal | undefined): Promise<AnalyzeResult> {
    // piscina terminates a running task's worker when its signal aborts and starts another, so
    // the deadline frees the thread even from a regex that never returns.
    const deadline = analysisTimeoutMs === undefined ? undefined : AbortSignal.timeout(analysisTimeoutMs);
    const both = signal && deadline ? AbortSignal.any([signal, deadline]) : signal ?? deadline;
    try {
      // transferList, not Piscina.move: move() only unwraps the task itself, not a field of it.
      // The result needs no unwrapping here: the worker's move() is undone on its side, so what
      // arrives is a plain AnalyzeResult whose ArrayBuffer and Float64Array live in this thread.
      return await piscina.run(task, { transferList: transferList(task.body), signal: both ?? null });
    } catch (err) {
      throw poolError(err, signal, deadline, analysisTimeoutMs, workerHeapMb);
    } finally {
      lastSettled = performance.now();
      gate.leave();
    }
  }
}

/** At most `width` tasks at once; up to `maxWaiting` more wait their turn, each until its signal aborts. */
class TaskGate {
  private running = 0;
  private readonly queue: { go: () => void; fail: (err: unknown) => void }[] = [];
  private readonly width: number;
  private readonly maxWaiting: number;

  constructor(width: number, maxWaiting: number) {
    this.width = width;
    this.maxWaiting = maxWaiting;
  }

  waiting(): number {
    return this.queue.length;
  }

  /** Takes a place at once if one is free. */
  tryEnter(): boolean {
    if (this.running >= this.width) return false;
    this.running++;
    return true;
  }

  /** Waits for a place (after {@link tryEnter} said none is free). */
  enter(signal: AbortSignal | undefined): Promise<void> {
    if (this.queue.length >= this.maxWaiting) {
      return Promise.reject(new SlotkeeperError('overloaded', 'slotkeeper: too many request bodies wait for analysis (limits.workerQueueLength)', {
        headers: { 'retry-after': '1' },
      }));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        go: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      // Reject first, then take the entry out: the client is told at once.
      const onAbort = () => {
        reject(signal!.reason);
        const at = this.queue.indexOf(entry);
        if (at !== -1) this.queue.splice(at, 1);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
    });
  }

  /** A running task finished: the next waiter takes its place. */
  leave(): void {
    const next = this.queue.shift();
    if (next) next.go();
    else this.running--;
  }

  close(): void {
    for (const entry of this.queue.splice(0)) entry.fail(new SlotkeeperError('no_upstream', 'slotkeeper: the worker pool is closing'));
  }
}

// piscina's failures as the gateway's codes: an abort by which signal, or Node's out-of-memory code.
function poolError(err: unknown, signal: AbortSignal | undefined, deadline: AbortSignal | undefined,
  timeoutMs: number | undefined, heapMb: number | undefined): unknown {
  if (signal?.aborted === true) return signal.reason;
  if (deadline?.aborted === true) {
    return new SlotkeeperError('analysis_timeout', `slotkeeper: analysing the request took longer than limits.analysisTimeoutMs (${timeoutMs} ms); a normalization rule may backtrack on this input`, { cause: err });
  }
  if ((err as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return new SlotkeeperError('body_too_large', `slotkeeper: analysing the request body needs more than limits.workerHeapMb (${heapMb} MiB)`, { cause: err });
  }
  return err;
}
