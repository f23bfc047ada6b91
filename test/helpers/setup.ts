// Suite setup that cannot fail silently.
import type { Test } from 'uvu';

/**
 * Registers `fn` as the suite's before hook, so that if it throws, every test in the suite fails
 * with that error. uvu 0.5.6 runs before hooks inside a try whose finally returns, which swallows
 * the error: the suite reports 0/N, prints no error, and the process exits 0 (seen on Node, Bun
 * and Deno alike).
 */
export function setup<T>(test: Test<T>, fn: () => unknown): void {
  let failure: { error: Error } | undefined;
  test.before(async () => {
    try {
      await fn();
    } catch (err) {
      failure = { error: err instanceof Error ? err : new Error(`suite setup threw ${String(err)}`) };
    }
  });
  test.before.each(() => {
    if (failure !== undefined) throw failure.error;
  });
}
