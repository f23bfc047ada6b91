// File names slotkeeper writes into llama-server's --slot-save-path: valid for llama-server,
// recognizable as ours, and nothing else parses as ours.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  FILE_PREFIX, chainHash, entryFileName, indexFileName, modelHash, parseEntryFileName, parseIndexFileName, ringLineage, serverHash,
} from '../../src/kv/file-name.js';

/** llama.cpp de3ff815ea7d common/common.cpp fs_validate_filename, for ASCII names. */
function llamaAccepts(name: string): boolean {
  if (name.length === 0 || Buffer.byteLength(name) > 255) return false;
  if (/[\x00-\x1f\x7f/\\:*?"<>|]/.test(name)) return false;
  return !(name.startsWith(' ') || name.endsWith(' ') || name.endsWith('.'));
}

const test = suite('kv/file-name');

test('model and chain hashes are 16 lowercase hex digits, stable, and differ by input', () => {
  const m = modelHash('qwen2.5-coder-32b/Q4_K_M: "weird" name');
  assert.match(m, /^[0-9a-f]{16}$/);
  assert.is(modelHash('qwen2.5-coder-32b/Q4_K_M: "weird" name'), m);
  assert.is.not(modelHash('other'), m);
  const c = chainHash(new Float64Array([1, 2, 3]));
  assert.match(c, /^[0-9a-f]{16}$/);
  assert.is(chainHash(new Float64Array([9, 2, 3])), c, 'the last block hash covers the whole prompt');
  assert.is.not(chainHash(new Float64Array([1, 2, 4])), c);
  assert.match(chainHash(new Float64Array(0)), /^[0-9a-f]{16}$/);
});

test('names llama-server accepts round-trip through the parser', () => {
  const server = serverHash('http://127.0.0.1:8080');
  const model = modelHash('m');
  for (const lineage of [chainHash(new Float64Array([5])), ringLineage(0), ringLineage(9999)]) {
    const name = entryFileName(server, model, lineage);
    assert.ok(name.startsWith(FILE_PREFIX));
    assert.ok(llamaAccepts(name), name);
    assert.ok(name.length <= 60);
    assert.equal(parseEntryFileName(name), { server, model, lineage });
  }
});

test('servers get distinct file names for the same lineage, and an index each', () => {
  const [a, b] = [serverHash('http://127.0.0.1:8080'), serverHash('http://127.0.0.1:8081')];
  assert.match(a, /^[0-9a-f]{8}$/);
  assert.is.not(a, b);
  const lineage = chainHash(new Float64Array([5]));
  assert.is.not(entryFileName(a, modelHash('m'), lineage), entryFileName(b, modelHash('m'), lineage));
  assert.is(parseIndexFileName(indexFileName(a)), a);
  assert.is.not(indexFileName(a), indexFileName(b));
  assert.is(parseEntryFileName(indexFileName(a)), null, 'an index is never taken for an entry');
  for (const name of ['slotkeeper-index.msgpack', `.${indexFileName(a)}.0123.tmp`, `${indexFileName(a)}.tmp`]) assert.is(parseIndexFileName(name), null, name);
});

test('bad parts are refused when building a name', () => {
  const server = serverHash('u');
  assert.throws(() => entryFileName('../x', modelHash('m'), chainHash(new Float64Array([1]))), /server hash/);
  assert.throws(() => entryFileName(server, 'xyz', chainHash(new Float64Array([1]))), /model hash/);
  assert.throws(() => entryFileName(server, modelHash('m'), '../etc'), /lineage/);
  assert.throws(() => indexFileName('zz'), /server hash/);
  assert.throws(() => ringLineage(-1), /ring position/);
  assert.throws(() => ringLineage(10000), /ring position/);
  assert.throws(() => ringLineage(1.5), /ring position/);
});

test('foreign and near-miss names do not parse as ours', () => {
  const good = entryFileName(serverHash('u'), modelHash('m'), chainHash(new Float64Array([1])));
  for (const name of [
    'rig-test.bin', 'slotkeeper-index.msgpack', `${good}.tmp`, `x${good}`, good.toUpperCase(),
    good.replace('.bin', '.BIN'), `${FILE_PREFIX}01234567-0123456789abcdef-r.bin`, `${FILE_PREFIX}01234567-0123456789abcdef-r12345.bin`,
    `${FILE_PREFIX}01234567-0123456789abcde-0123456789abcdef.bin`,
    // The name before servers had a hash in it.
    `${FILE_PREFIX}0123456789abcdef-0123456789abcdef.bin`, '',
  ]) {
    assert.is(parseEntryFileName(name), null, name);
  }
});

test.run();
