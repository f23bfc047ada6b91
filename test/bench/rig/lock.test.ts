import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withLock } from '../../../bench/rig/lock.js';
import { rejects } from '../../helpers/assert.js';

const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-lock-'));
const lock = suite('lock');
lock.after(() => rmSync(dir, { recursive: true, force: true }));

lock('runs holders one at a time and releases the lock after each', async () => {
  const path = join(dir, 'serial.lock');
  const events: string[] = [];
  let inside = 0;
  const holder = (name: string) => withLock(path, async () => {
    inside++;
    assert.is(inside, 1, 'two holders at once');
    events.push(`${name} in`);
    await new Promise((resolve) => setImmediate(resolve));
    events.push(`${name} out`);
    inside--;
    return name;
  }, { pollMs: 5 });
  assert.equal(await Promise.all([holder('a'), holder('b'), holder('c')]), ['a', 'b', 'c']);
  assert.is(events.length, 6);
  for (let i = 0; i < 6; i += 2) assert.is(events[i]!.replace(' in', ''), events[i + 1]!.replace(' out', ''));
  await withLock(path, async () => undefined); // free again
});

lock('releases the lock when the holder throws', async () => {
  const path = join(dir, 'throws.lock');
  await rejects(withLock(path, async () => { throw new Error('boom'); }), /boom/);
  assert.is(await withLock(path, async () => 'next', { timeoutMs: 50 }), 'next');
});

lock('takes over a lock whose owner died', async () => {
  const path = join(dir, 'stale.lock');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  mkdirSync(path);
  writeFileSync(join(path, 'owner'), dead);
  assert.is(await withLock(path, async () => 'mine', { timeoutMs: 1000 }), 'mine');
});

lock('waits for a live owner and gives up at the timeout', async () => {
  const path = join(dir, 'held.lock');
  mkdirSync(path);
  writeFileSync(join(path, 'owner'), String(process.pid));
  let waitedFor = 0;
  await rejects(withLock(path, async () => 'never', { pollMs: 5, timeoutMs: 50, onWait: (pid) => { waitedFor = pid; } }), /still held/);
  assert.is(waitedFor, process.pid);
});

lock('treats a lock left without an owner file as stale only once it is old', async () => {
  const path = join(dir, 'ownerless.lock');
  mkdirSync(path);
  await rejects(withLock(path, async () => 'never', { pollMs: 5, timeoutMs: 50 }), /still held/);
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  assert.is(await withLock(path, async () => 'mine', { timeoutMs: 1000 }), 'mine');
});

lock.run();
