// Main-thread handles on the bench's helper threads: the load client and the fake upstream.
import { Worker } from 'node:worker_threads';
import type { FakeUpstreamOptions } from '../../test/helpers/fake-upstream.js';
import type { ClientJob, ClientResult } from './client.js';
import type { JobMessage } from './client-worker.js';

/** The load client, running in its own thread. */
export interface ClientThread {
  /** Runs a job; `onEvent` hears a streams job's 'open'. */
  run(job: ClientJob, onEvent?: (event: string) => void): Promise<ClientResult>;
  close(): Promise<void>;
}

/** A fake llama-server, running in its own thread. */
export interface UpstreamThread {
  url: string;
  close(): Promise<void>;
}

interface Reply {
  id: number;
  result?: ClientResult;
  event?: string;
  error?: string;
}

/** Starts the client thread. */
export function startClientThread(): ClientThread {
  const worker = new Worker(new URL('./client-worker.js', import.meta.url));
  const pending = new Map<number, { resolve(r: ClientResult): void; reject(e: Error): void; onEvent(e: string): void }>();
  let nextId = 0;
  worker.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    if (reply.event !== undefined) return waiter.onEvent(reply.event);
    pending.delete(reply.id);
    if (reply.result !== undefined) waiter.resolve(reply.result);
    else waiter.reject(new Error(`client thread: ${reply.error}`));
  });
  worker.on('error', (err: unknown) => {
    for (const waiter of pending.values()) waiter.reject(err instanceof Error ? err : new Error(String(err)));
    pending.clear();
  });
  return {
    run(job, onEvent = () => {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, onEvent });
        worker.postMessage({ id, job } satisfies JobMessage);
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}

/** Starts a fake llama-server in its own thread and resolves once it listens. */
export function startUpstreamThread(options: Omit<FakeUpstreamOptions, 'fail'>): Promise<UpstreamThread> {
  const worker = new Worker(new URL('./upstream-worker.js', import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', ({ url }: { url: string }) => {
      worker.off('error', reject);
      resolve({
        url,
        close: () => new Promise<void>((closed) => {
          worker.once('message', () => void worker.terminate().then(() => closed()));
          worker.postMessage('close');
        }),
      });
    });
  });
}
