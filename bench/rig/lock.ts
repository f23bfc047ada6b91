// A cross-process lock on a directory name, so that several test files (or a test run and a
// bench) that ask for the same build at once wait for one builder instead of building twice.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** A lock without an owner file for longer than this was left by a process that died starting. */
const OWNERLESS_GRACE_MS = 10_000;

/** Options for withLock. */
export interface LockOptions {
  /** Called once when another process holds the lock and we start waiting. */
  onWait?: (ownerPid: number) => void;
  /** How often to look at the lock while waiting, in ms. */
  pollMs?: number;
  /** Give up after this long, in ms. */
  timeoutMs?: number;
}

/** Runs `fn` while holding the lock `path` (a directory created atomically with mkdir). */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const { pollMs = 250, timeoutMs = 60 * 60 * 1000 } = options;
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const owner = tryAcquire(path);
    if (owner === null) break;
    if (!isAlive(owner, path)) {
      // The owner died without cleaning up. Removing its lock races only with other waiters
      // doing the same; builders write to private temp dirs and rename, so the worst case is
      // a wasted build, never a corrupt one.
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (!told) { options.onWait?.(owner); told = true; }
    if (Date.now() > deadline) throw new Error(`rig: lock ${path} still held by pid ${owner} after ${timeoutMs} ms`);
    // Polling is the only portable way to wait on another process's directory.
    await delay(pollMs);
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

/** Creates the lock and returns null, or returns the pid of the process holding it. */
function tryAcquire(path: string): number | null {
  try {
    mkdirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return ownerOf(path);
  }
  writeFileSync(join(path, 'owner'), String(process.pid));
  return null;
}

function ownerOf(path: string): number {
  try {
    return Number(readFileSync(join(path, 'owner'), 'utf8')) || 0;
  } catch {
    // Between mkdir and writing 'owner' the file is missing: the owner is alive and starting.
    return -1;
  }
}

function isAlive(pid: number, path: string): boolean {
  if (pid === -1) {
    const stat = statSync(path, { throwIfNoEntry: false });
    return stat !== undefined && Date.now() - stat.mtimeMs < OWNERLESS_GRACE_MS;
  }
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
