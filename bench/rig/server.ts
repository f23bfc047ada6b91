// Starts a real llama-server for tests and benchmarks, and makes sure it stops.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How to start a llama-server. */
export interface ServerOptions {
  /** llama-server binary (from ensureLlamaServer). */
  binary: string;
  /** GGUF model path (from ensureModel). */
  model: string;
  /** Number of slots (-np). Default 1. */
  slots?: number;
  /** Total context (-c), shared by the slots. Default 4096 per slot. */
  ctx?: number;
  /** Slot save directory; `true` (default) makes a temp dir removed on stop, `false` disables save/restore. */
  slotSavePath?: string | boolean;
  /** --cache-ram in MiB (0 disables llama-server's host-RAM prompt cache); omitted: llama-server's default. */
  cacheRamMiB?: number;
  /** CPU threads (-t). Default: llama-server's choice. */
  threads?: number;
  /** More arguments, appended last. */
  extraArgs?: string[];
  /** How long to wait for the model to load, ms. Default 120 s. */
  startTimeoutMs?: number;
}

/** A running llama-server. */
export interface LlamaServer {
  url: string;
  port: number;
  /** The --slot-save-path directory, or null when save/restore is disabled. */
  slotSavePath: string | null;
  /** Everything the server has printed so far (the last 2 MB). */
  log(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the process has exited, for whatever reason. */
  exited: Promise<void>;
}

const LOG_LIMIT = 2 * 1024 * 1024;
/** Synchronous last-resort cleanups of servers still running: kill, remove the temp dir. */
const running = new Map<ChildProcess, () => void>();
let exitHookInstalled = false;

/** Starts llama-server on a free port and resolves once it has loaded the model and listens. */
export async function startLlamaServer(options: ServerOptions): Promise<LlamaServer> {
  const slots = options.slots ?? 1;
  const ownSaveDir = options.slotSavePath === true || options.slotSavePath === undefined;
  const slotSavePath = ownSaveDir ? mkdtempSync(join(tmpdir(), 'slotkeeper-slots-'))
    : typeof options.slotSavePath === 'string' ? options.slotSavePath : null;
  const args = [
    '--model', options.model,
    '--host', '127.0.0.1',
    '--port', '0', // llama-server binds any free port and logs it; no race with another process.
    '--parallel', String(slots),
    '--ctx-size', String(options.ctx ?? 4096 * slots),
    '--metrics', '--slots', '--jinja', '--no-webui',
  ];
  if (slotSavePath) args.push('--slot-save-path', slotSavePath);
  if (options.cacheRamMiB !== undefined) args.push('--cache-ram', String(options.cacheRamMiB));
  if (options.threads !== undefined) args.push('--threads', String(options.threads));
  args.push(...(options.extraArgs ?? []));

  const child = spawn(options.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.set(child, () => {
    child.kill('SIGKILL');
    if (ownSaveDir && slotSavePath) rmSync(slotSavePath, { recursive: true, force: true });
  });
  installExitHook();
  let log = `$ ${options.binary} ${args.join(' ')}\n`;
  const append = (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(child); resolve(); }));

  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (ownSaveDir && slotSavePath) rmSync(slotSavePath, { recursive: true, force: true });
    }
    await exited;
  };

  try {
    const port = await waitForListening(child, () => log, options.startTimeoutMs ?? 120_000);
    const url = `http://127.0.0.1:${port}`;
    const health = await fetch(`${url}/health`);
    if (!health.ok) throw new Error(`llama-server /health answered ${health.status} after it said it was listening`);
    return { url, port, slotSavePath, log: () => log, stop, exited };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- llama-server log ---\n${log}`);
  }
}

/**
 * Resolves with the port once llama-server logs "listening on http://host:port", which it does
 * only after the model has loaded (tools/server/server.cpp prints it after "model loaded").
 */
function waitForListening(child: ChildProcess, log: () => string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(log());
      if (m) { done(); resolve(Number(m[1])); }
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`llama-server exited (${signal ?? code}) before it was ready`));
    };
    const timer = setTimeout(() => { done(); reject(new Error(`llama-server was not ready after ${timeoutMs} ms`)); }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/**
 * Kills any server still running when this process exits or is told to stop: a crashed or
 * interrupted test must not leave llama-servers behind (they are not killed with their parent).
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => { for (const cleanup of running.values()) cleanup(); };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // The handler is gone now, so this ends the process the way the signal would have.
      process.kill(process.pid, signal);
    });
  }
}

/**
 * Wraps a test body so that when it fails, the server's log is printed before the error
 * propagates: the log usually says why.
 */
export function withServerLog<T>(server: () => LlamaServer | undefined, body: () => Promise<T>): () => Promise<T> {
  return async () => {
    try {
      return await body();
    } catch (err) {
      const s = server();
      if (s) process.stderr.write(`\n--- llama-server log (${s.url}) ---\n${s.log()}\n--- end of log ---\n`);
      throw err;
    }
  };
}
