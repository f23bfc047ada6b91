// Names of the slot-save files slotkeeper owns. llama-server joins the name to its
// --slot-save-path and refuses names that fs_validate_filename rejects (llama.cpp de3ff815ea7d,
// common/common.cpp: empty, over 255 bytes, path separators, : * ? " < > |, control characters,
// a trailing '.' or a leading/trailing space). Ours are short ASCII well inside those rules, and
// a fixed prefix tells them apart from anything else in the directory: garbage collection
// deletes only names that parse here. Each name carries a hash of the server that wrote it, so
// servers sharing one directory never write the same file, and each one's index (named the same
// way) lists only its own files.
import { createHash } from 'node:crypto';
import type { Chain } from '../prefix/chain.js';

/** Every file slotkeeper writes into a slot-save directory starts with this. */
export const FILE_PREFIX = 'slotkeeper-kv-';
const SUFFIX = '.bin';
const HEX8 = /^[0-9a-f]{8}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const RING = /^r[0-9]{1,4}$/;
const NAME = /^slotkeeper-kv-([0-9a-f]{8})-([0-9a-f]{16})-([0-9a-f]{16}|r[0-9]{1,4})\.bin$/;
const INDEX_PREFIX = 'slotkeeper-index-';
const INDEX_NAME = /^slotkeeper-index-([0-9a-f]{8})\.msgpack$/;

/** What a file name says: the server's hash, the model's hash and the lineage (a chain hash, or a ring position). */
export interface ParsedFileName {
  server: string;
  model: string;
  lineage: string;
}

/** 8 hex digits of SHA-256 of a server's base URL: which server wrote a file, or owns an index. */
export function serverHash(url: string): string {
  return createHash('sha256').update(url, 'utf8').digest('hex').slice(0, 8);
}

/** 16 hex digits of SHA-256 of the model id: a stable, separator-free stand-in for any model name. */
export function modelHash(model: string): string {
  return createHash('sha256').update(model, 'utf8').digest('hex').slice(0, 16);
}

/**
 * 16 hex digits naming a conversation lineage: a hash of the chain's last block hash, which
 * covers the whole prompt. Later, longer saves of the same lineage keep this name (see
 * SavedIndex.lineageOf), so one file per conversation survives.
 */
export function chainHash(chain: Chain): string {
  const last = chain.length === 0 ? 0 : chain[chain.length - 1]!;
  const bytes = new Uint8Array(new Float64Array([last]).buffer);
  return createHash('sha256').update(bytes).update(String(chain.length)).digest('hex').slice(0, 16);
}

/** The lineage of ring position `i`, for servers whose directory slotkeeper cannot list or clean. */
export function ringLineage(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i > 9999) throw new RangeError(`ring position must be an integer 0..9999, got ${i}`);
  return `r${i}`;
}

/** The file name of a server's lineage of a model: `slotkeeper-kv-<server>-<model>-<lineage>.bin`, 60 bytes at most. */
export function entryFileName(server: string, model: string, lineage: string): string {
  if (!HEX8.test(server)) throw new RangeError(`server hash must be 8 hex digits, got ${JSON.stringify(server)}`);
  if (!HEX16.test(model)) throw new RangeError(`model hash must be 16 hex digits, got ${JSON.stringify(model)}`);
  if (!HEX16.test(lineage) && !RING.test(lineage)) throw new RangeError(`lineage must be 16 hex digits or r<n>, got ${JSON.stringify(lineage)}`);
  return `${FILE_PREFIX}${server}-${model}-${lineage}${SUFFIX}`;
}

/** Parses one of our file names; null for anything else (foreign files are never touched). */
export function parseEntryFileName(name: string): ParsedFileName | null {
  const m = NAME.exec(name);
  return m ? { server: m[1]!, model: m[2]!, lineage: m[3]! } : null;
}

/**
 * The name of a server's index in a slot-save directory: one per server, so servers sharing a
 * directory do not overwrite each other's. It does not parse as an entry, so GC never deletes it.
 */
export function indexFileName(server: string): string {
  if (!HEX8.test(server)) throw new RangeError(`server hash must be 8 hex digits, got ${JSON.stringify(server)}`);
  return `${INDEX_PREFIX}${server}.msgpack`;
}

/** The server hash of an index file's name; null for any other name. */
export function parseIndexFileName(name: string): string | null {
  return INDEX_NAME.exec(name)?.[1] ?? null;
}
