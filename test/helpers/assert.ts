// Assertions uvu/assert lacks.
import * as assert from 'uvu/assert';

/** Asserts that `promise` rejects with an error whose message matches `pattern`. */
export async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  let settled = false;
  try {
    await promise;
    settled = true;
  } catch (err) {
    assert.match((err as Error).message, pattern);
  }
  if (settled) assert.unreachable(`expected a rejection matching ${pattern}`);
}
