import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GgmlType, GgufType, type GgufValue, readGgufHeader, tensorBytes, writeGguf } from '../../../bench/rig/gguf.js';

const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-gguf-'));
const gguf = suite('gguf');
gguf.after(() => rmSync(dir, { recursive: true, force: true }));

gguf('writes what it reads back: every value type, arrays, tensor infos and aligned data', () => {
  const kv = new Map<string, GgufValue>([
    ['u8', { type: GgufType.UINT8, value: 255 }],
    ['i8', { type: GgufType.INT8, value: -128 }],
    ['u16', { type: GgufType.UINT16, value: 65535 }],
    ['i16', { type: GgufType.INT16, value: -32768 }],
    ['u32', { type: GgufType.UINT32, value: 4294967295 }],
    ['i32', { type: GgufType.INT32, value: -2147483648 }],
    ['f32', { type: GgufType.FLOAT32, value: 0.5 }],
    ['bool', { type: GgufType.BOOL, value: true }],
    ['str', { type: GgufType.STRING, value: 'héllo ▁wörld' }],
    ['u64', { type: GgufType.UINT64, value: 2n ** 63n }],
    ['i64', { type: GgufType.INT64, value: -(2n ** 62n) }],
    ['f64', { type: GgufType.FLOAT64, value: Math.PI }],
    ['strings', { type: GgufType.ARRAY, itemType: GgufType.STRING, value: ['<s>', '', '▁a'] }],
    ['floats', { type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: [1, -2.5, 0] }],
  ]);
  const path = join(dir, 'a.gguf');
  writeGguf(path, kv, [
    { name: 'three', dims: [3], type: GgmlType.F32, fill: (out) => new Float32Array(out.buffer, out.byteOffset, 3).set([1, 2, 3]) },
    { name: 'matrix', dims: [2, 5], type: GgmlType.F16, fill: (out) => out.fill(7) },
  ]);
  const bytes = readFileSync(path);
  const header = readGgufHeader(bytes);
  assert.is(header.version, 3);
  assert.equal([...header.kv.keys()], [...kv.keys()]);
  for (const [key, value] of kv) assert.equal(header.kv.get(key), value, key);
  assert.equal(header.tensors.map((t) => [t.name, t.dims, t.type, t.offset]), [
    ['three', [3], GgmlType.F32, 0n],
    ['matrix', [2, 5], GgmlType.F16, 32n], // 12 bytes of F32, padded to the 32-byte alignment
  ]);
  assert.is(header.dataOffset % 32, 0);
  const three = new Float32Array(bytes.buffer.slice(bytes.byteOffset + header.dataOffset, bytes.byteOffset + header.dataOffset + 12));
  assert.equal([...three], [1, 2, 3]);
  assert.equal([...bytes.subarray(header.dataOffset + 32, header.dataOffset + 32 + 20)], new Array(20).fill(7));
  assert.is(bytes.byteLength, header.dataOffset + 64);
});

gguf('rejects files that are not GGUF version 3', () => {
  assert.throws(() => readGgufHeader(new TextEncoder().encode('GGML and then some more bytes')), /not a GGUF file/);
  const v2 = new Uint8Array(24);
  new DataView(v2.buffer).setUint32(0, 0x46554747, true);
  new DataView(v2.buffer).setUint32(4, 2, true);
  assert.throws(() => readGgufHeader(v2), /version 2/);
});

gguf('sizes tensors by type and refuses types it cannot write', () => {
  assert.is(tensorBytes([768, 32000], GgmlType.F16), 768 * 32000 * 2);
  assert.is(tensorBytes([10], GgmlType.F32), 40);
  assert.throws(() => tensorBytes([10], 2), /not supported/);
});

gguf.run();
