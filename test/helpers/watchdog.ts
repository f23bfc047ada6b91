// A last resort for suites that must end by themselves: if the process is still alive after
// `ms`, something (a server, a pool, a socket) was left open or a test never settled. Fail loudly
// instead of hanging CI until its own timeout.
import process from 'node:process';
import { setTimeout } from 'node:timers';

/** Exits with code 1 if the process is still running after `ms`; never keeps it alive itself. */
export function exitIfStillRunningAfter(ms: number): void {
  setTimeout(() => {
    process.stderr.write(`\nwatchdog: still running after ${ms} ms: a test hung or a handle was left open\n`);
    process.exit(1);
  }, ms).unref();
}
