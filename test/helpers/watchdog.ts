// A last resort for suites that must end by themselves: if the process is still alive after
// `ms`, something (a server, a pool, a socket) was left open or a test never settled. Fail loudly
// instead of hanging CI until its own timeout.
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

/**
 * Exits with code 1 if the process is still running after `ms`; never keeps it alive itself.
 * With `onlyWhenMain` (the calling file's import.meta.url) it arms only when that file is the
 * program itself: under `npm test` every file shares one process, and one file's budget must
 * not end the others' run.
 */
export function exitIfStillRunningAfter(ms: number, onlyWhenMain?: string): void {
  if (onlyWhenMain !== undefined && process.argv[1] !== fileURLToPath(onlyWhenMain)) return;
  setTimeout(() => {
    process.stderr.write(`\nwatchdog: still running after ${ms} ms: a test hung or a handle was left open\n`);
    process.exit(1);
  }, ms).unref();
}
