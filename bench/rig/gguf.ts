// A small GGUF (version 3) reader and writer: enough to copy a tokenizer out of one file and
// write a model with generated tensors into another. Layout per ggml/include/gguf.h.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
export const GgufType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6,
  BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

/** ggml tensor types used here (ggml.h `enum ggml_type`). */
export const GgmlType = { F32: 0, F16: 1 } as const;

type Scalar = number | bigint | boolean | string;
/** A typed metadata value; arrays carry their item type so a copy is exact. */
export type GgufValue =
  | { type: number; value: Scalar }
  | { type: typeof GgufType.ARRAY; itemType: number; value: Scalar[] };

/** A tensor as listed in a GGUF header; dims are ggml's ne (fastest-varying first). */
export interface TensorInfo { name: string; dims: number[]; type: number; offset: bigint }

/** The header of a GGUF file. */
export interface GgufHeader {
  version: number;
  kv: Map<string, GgufValue>;
  tensors: TensorInfo[];
  /** Byte offset of the tensor data section. */
  dataOffset: number;
}

/** A tensor to write: `fill` writes its bytes into `out` (exactly the tensor's size). */
export interface TensorSpec { name: string; dims: number[]; type: number; fill(out: Uint8Array): void }

const MAGIC = 0x46554747; // "GGUF" little-endian
const DEFAULT_ALIGNMENT = 32;
const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const ELEMENT_SIZE: Record<number, number> = { [GgmlType.F32]: 4, [GgmlType.F16]: 2 };

/** Parses the header (metadata and tensor infos) of a GGUF file held in memory. */
export function readGgufHeader(bytes: Uint8Array): GgufHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  let at = 0;
  const u32 = () => { const v = view.getUint32(at, true); at += 4; return v; };
  const u64 = () => { const v = view.getBigUint64(at, true); at += 8; return v; };
  const str = () => {
    const n = Number(u64());
    const s = decoder.decode(bytes.subarray(at, at + n));
    at += n;
    return s;
  };
  const scalar = (type: number): Scalar => {
    switch (type) {
      case GgufType.UINT8: return view.getUint8(at++);
      case GgufType.INT8: return view.getInt8(at++);
      case GgufType.UINT16: at += 2; return view.getUint16(at - 2, true);
      case GgufType.INT16: at += 2; return view.getInt16(at - 2, true);
      case GgufType.UINT32: return u32();
      case GgufType.INT32: at += 4; return view.getInt32(at - 4, true);
      case GgufType.FLOAT32: at += 4; return view.getFloat32(at - 4, true);
      case GgufType.BOOL: return view.getUint8(at++) !== 0;
      case GgufType.STRING: return str();
      case GgufType.UINT64: return u64();
      case GgufType.INT64: at += 8; return view.getBigInt64(at - 8, true);
      case GgufType.FLOAT64: at += 8; return view.getFloat64(at - 8, true);
      default: throw new Error(`gguf: unknown value type ${type} at byte ${at}`);
    }
  };

  if (bytes.byteLength < 24 || u32() !== MAGIC) throw new Error('gguf: not a GGUF file');
  const version = u32();
  if (version !== 3) throw new Error(`gguf: version ${version} is not supported (only 3)`);
  const tensorCount = Number(u64());
  const kvCount = Number(u64());
  const kv = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = u32();
    if (type === GgufType.ARRAY) {
      const itemType = u32();
      const n = Number(u64());
      const value: Scalar[] = new Array(n);
      for (let j = 0; j < n; j++) value[j] = scalar(itemType);
      kv.set(key, { type, itemType, value });
    } else {
      kv.set(key, { type, value: scalar(type) });
    }
  }
  const tensors: TensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    const nDims = u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(Number(u64()));
    tensors.push({ name, dims, type: u32(), offset: u64() });
  }
  return { version, kv, tensors, dataOffset: alignUp(at, alignmentOf(kv)) };
}

/** Byte size of a tensor's data. */
export function tensorBytes(dims: number[], type: number): number {
  const size = ELEMENT_SIZE[type];
  if (size === undefined) throw new Error(`gguf: tensor type ${type} is not supported by this writer`);
  return dims.reduce((a, b) => a * b, 1) * size;
}

/**
 * Writes a GGUF file at `path` atomically (temp file, then rename), generating each tensor's
 * data one at a time so a model of hundreds of MB never sits in memory whole.
 */
export function writeGguf(path: string, kv: Map<string, GgufValue>, tensors: TensorSpec[]): void {
  const alignment = alignmentOf(kv);
  const header = new ByteWriter();
  header.u32(MAGIC);
  header.u32(3);
  header.u64(BigInt(tensors.length));
  header.u64(BigInt(kv.size));
  for (const [key, value] of kv) {
    header.str(key);
    header.u32(value.type);
    if ('itemType' in value) {
      header.u32(value.itemType);
      header.u64(BigInt(value.value.length));
      for (const item of value.value) header.scalar(value.itemType, item);
    } else {
      header.scalar(value.type, value.value);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    header.str(t.name);
    header.u32(t.dims.length);
    for (const d of t.dims) header.u64(BigInt(d));
    header.u32(t.type);
    header.u64(BigInt(offset));
    offset = alignUp(offset + tensorBytes(t.dims, t.type), alignment);
  }
  header.pad(alignment);

  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, header.bytes());
    for (const t of tensors) {
      const size = tensorBytes(t.dims, t.type);
      const buf = new Uint8Array(alignUp(size, alignment));
      t.fill(buf.subarray(0, size));
      writeAll(fd, buf);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done);
}

function alignmentOf(kv: Map<string, GgufValue>): number {
  const v = kv.get('general.alignment');
  return v && typeof v.value === 'number' ? v.value : DEFAULT_ALIGNMENT;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** A growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = new Uint8Array(1 << 20);
  private view = new DataView(this.buf.buffer);
  private at = 0;
  private readonly encoder = new TextEncoder();

  private reserve(n: number): void {
    if (this.at + n <= this.buf.byteLength) return;
    const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u32(v: number): void { this.reserve(4); this.view.setUint32(this.at, v, true); this.at += 4; }
  u64(v: bigint): void { this.reserve(8); this.view.setBigUint64(this.at, v, true); this.at += 8; }
  str(s: string): void {
    const b = this.encoder.encode(s);
    this.u64(BigInt(b.byteLength));
    this.reserve(b.byteLength);
    this.buf.set(b, this.at);
    this.at += b.byteLength;
  }
  pad(alignment: number): void { const end = alignUp(this.at, alignment); this.reserve(end - this.at); this.at = end; }
  bytes(): Uint8Array { return this.buf.subarray(0, this.at); }

  scalar(type: number, v: Scalar): void {
    if (type === GgufType.STRING) return this.str(String(v));
    const size = SCALAR_SIZE[type];
    if (size === undefined) throw new Error(`gguf: cannot write value type ${type}`);
    this.reserve(size);
    const at = this.at;
    switch (type) {
      case GgufType.UINT8: this.view.setUint8(at, Number(v)); break;
      case GgufType.INT8: this.view.setInt8(at, Number(v)); break;
      case GgufType.UINT16: this.view.setUint16(at, Number(v), true); break;
      case GgufType.INT16: this.view.setInt16(at, Number(v), true); break;
      case GgufType.UINT32: this.view.setUint32(at, Number(v), true); break;
      case GgufType.INT32: this.view.setInt32(at, Number(v), true); break;
      case GgufType.FLOAT32: this.view.setFloat32(at, Number(v), true); break;
      case GgufType.BOOL: this.view.setUint8(at, v ? 1 : 0); break;
      case GgufType.UINT64: this.view.setBigUint64(at, BigInt(v), true); break;
      case GgufType.INT64: this.view.setBigInt64(at, BigInt(v), true); break;
      case GgufType.FLOAT64: this.view.setFloat64(at, Number(v), true); break;
    }
    this.at += size;
  }
}
