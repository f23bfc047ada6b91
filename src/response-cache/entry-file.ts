// The bytes of one stored response on disk: a magic, a msgpack head (status, headers) and the
// body as received. A file is named by the SHA-256 of its bytes, so checking it is hashing it:
// a torn write, a flipped bit or a foreign file all fail the same check.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { pack, unpack } from 'msgpackr';

const MAGIC = Buffer.from('SKRC');
const VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 4;

/** A response as the cache keeps it: always a 200, with the headers worth replaying. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  /** The body's exact bytes. */
  body: Buffer;
}

/** Encodes a response; `name` is its content address (hex SHA-256 of `bytes`). */
export function encodeEntry(response: StoredResponse): { name: string; bytes: Buffer } {
  const head = pack({ v: VERSION, status: response.status, headers: response.headers });
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32BE(head.length, MAGIC.length);
  const bytes = Buffer.concat([prefix, head, response.body]);
  return { name: checksum(bytes), bytes };
}

/** The hex SHA-256 of `bytes`. */
export function checksum(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Decodes a file read from disk; null when it is not what `name` says (corrupt, truncated, or not
 * an entry at all). The body is a view into `bytes`, not a copy.
 */
export function decodeEntry(name: string, bytes: Buffer): StoredResponse | null {
  if (bytes.length < PREFIX_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  if (checksum(bytes) !== name) return null;
  const headLength = bytes.readUInt32BE(MAGIC.length);
  if (PREFIX_BYTES + headLength > bytes.length) return null;
  let head: unknown;
  try {
    head = unpack(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headLength));
  } catch {
    // The checksum matched, so this is an entry from a newer or broken writer: not servable.
    return null;
  }
  if (!isHead(head)) return null;
  return { status: head.status, headers: head.headers, body: bytes.subarray(PREFIX_BYTES + headLength) };
}

function isHead(value: unknown): value is { v: number; status: number; headers: Record<string, string> } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.v === VERSION && typeof v.status === 'number' && typeof v.headers === 'object' && v.headers !== null
    && Object.values(v.headers).every((h) => typeof h === 'string');
}
