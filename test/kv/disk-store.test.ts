// The slot-save directory on disk: listing, deleting only our files, and each server's index
// written atomically (a reader never sees half an index; a failed write leaves no temp file).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiskStore } from '../../src/kv/disk-store.js';
import { chainHash, entryFileName, indexFileName, modelHash, serverHash } from '../../src/kv/file-name.js';

const S1 = serverHash('http://a');
const S2 = serverHash('http://b');
const ours = (n: number) => entryFileName(S1, modelHash('m'), chainHash(new Float64Array([n])));
let dir = '';

const test = suite('kv/disk-store');
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'slotkeeper-disk-store-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('list: regular files with their sizes and times, directories left out', async () => {
  writeFileSync(join(dir, ours(1)), 'x'.repeat(123));
  writeFileSync(join(dir, 'foreign.bin'), 'y');
  mkdirSync(join(dir, 'sub'));
  const listed = (await new DiskStore(dir).list()).sort((a, b) => (a.name < b.name ? -1 : 1));
  assert.equal(listed.map((f) => [f.name, f.bytes]), [['foreign.bin', 1], [ours(1), 123]].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
  assert.ok(listed.every((f) => f.mtimeMs > 0));
});

test('delete: our files only; a file already gone is fine', async () => {
  const store = new DiskStore(dir);
  writeFileSync(join(dir, ours(1)), 'x');
  writeFileSync(join(dir, 'foreign.bin'), 'y');
  await store.delete(ours(1));
  await store.delete(ours(2));
  for (const name of ['foreign.bin', indexFileName(S1), '../x', `${ours(1)}/../foreign.bin`]) {
    await store.delete(name).then(() => assert.unreachable(`deleted ${name}`), (err: Error) => assert.match(err.message, /not a slotkeeper file/));
  }
  assert.equal(readdirSync(dir), ['foreign.bin']);
});

test('indexes: one per server, read back as written; none yet reads as null', async () => {
  const store = new DiskStore(dir);
  assert.is(await store.readIndex(S1), null);
  await store.writeIndex(S1, new Uint8Array([1, 2, 3]));
  await store.writeIndex(S2, new Uint8Array([9]));
  assert.equal([...(await store.readIndex(S1))!], [1, 2, 3]);
  assert.equal([...(await store.readIndex(S2))!], [9], 'the other server\'s index is its own');
  assert.equal(readdirSync(dir).sort(), [indexFileName(S1), indexFileName(S2)].sort(), 'no temp file left');
});

test('writeIndex is atomic: concurrent readers only ever see a whole index, old or new', async () => {
  const store = new DiskStore(dir);
  // Big enough that a plain write would be read half-done.
  const versions = [0, 1, 2, 3, 4, 5].map((v) => new Uint8Array(4 << 20).fill(v + 1));
  await store.writeIndex(S1, versions[0]!);
  const seen: number[] = [];
  let writing = true;
  const writes = (async () => {
    for (const v of versions.slice(1)) await store.writeIndex(S1, v);
    writing = false;
  })();
  while (writing) {
    const bytes = (await store.readIndex(S1))!;
    assert.is(bytes.length, 4 << 20, 'a whole index');
    assert.ok(bytes.every((b) => b === bytes[0]), 'from one write');
    seen.push(bytes[0]!);
  }
  await writes;
  assert.ok(seen.length > 0);
  assert.is((await store.readIndex(S1))![0], 6);
});

test('a write that cannot land removes its temp file and throws', async () => {
  // A directory where the index goes: the rename onto it fails.
  mkdirSync(join(dir, indexFileName(S1)));
  const store = new DiskStore(dir);
  await store.writeIndex(S1, new Uint8Array([1])).then(() => assert.unreachable('wrote over a directory'), (err: NodeJS.ErrnoException) => assert.ok(err.code !== undefined));
  assert.equal(readdirSync(dir), [indexFileName(S1)]);
});

test.run();
