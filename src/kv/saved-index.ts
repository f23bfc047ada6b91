// The index of saved slot caches of one slot-save directory: which file holds which model's
// prompt (by its hash chain), how many tokens and bytes, when it was made and used. Pure data
// and decisions; reading and writing it (atomically) is disk-store.ts's job.
import { pack, unpack } from 'msgpackr';
import { type Chain, type PromptQuery, commonBlocks, coveredBlocks } from '../prefix/chain.js';
import { parseEntryFileName } from './file-name.js';

/** One saved slot cache. Times are wall-clock ms (Date.now), since the index outlives the process. */
export interface SavedEntry {
  /** File name inside the slot-save directory (file-name.ts). */
  file: string;
  /** Model id, as the fleet names it. */
  model: string;
  /** Hash chain of the prompt the saved KV starts with. */
  chain: Chain;
  /** Tokens in the file (llama-server's n_saved: prompt and answer). */
  tokens: number;
  /** Bytes of the file, as the save wrote it (n_written). */
  bytes: number;
  createdMs: number;
  lastUsedMs: number;
  /** Restores from it. */
  hits: number;
  /** Hash and length of the saved prompt's whole canonical text, when known (chain.ts coveredBlocks). */
  endHash?: number;
  chars?: number;
  /**
   * SHA-256 of the file as the save wrote it, hex (file-hash.ts), where the directory is local;
   * absent until it is computed after the save, and in blind mode and older indexes.
   */
  sha256?: string;
}

/** A directory entry, as the disk store lists it. */
export interface ListedFile {
  name: string;
  bytes: number;
  /** Modification time, wall-clock ms. */
  mtimeMs: number;
}

/** What reconciling with a directory listing found. */
export interface Reconciled {
  /** Entries whose file is gone (deleted by hand, or a server with a fresh directory). */
  dropped: SavedEntry[];
  /** Entries whose file's size is not the one its save wrote (a partial copy, another writer): forgotten, their files damaged. */
  resized: SavedEntry[];
  /** Our files the index does not know: unusable (their prompt is unknown), so GC may delete them. */
  orphans: ListedFile[];
}

/** The longest saved prefix of a prompt. */
export interface Match {
  entry: SavedEntry;
  /** Blocks of the request's chain it covers. */
  blocks: number;
}

const FORMAT_VERSION = 1;
const SHA256 = /^[0-9a-f]{64}$/;

/** Saved entries of one directory, bounded to `maxEntries` (least recently used goes first). */
export class SavedIndex {
  readonly maxEntries: number;
  private readonly byFile = new Map<string, SavedEntry>();

  constructor(maxEntries: number) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.byFile.size;
  }

  /** Bytes of every entry. */
  get totalBytes(): number {
    let total = 0;
    for (const e of this.byFile.values()) total += e.bytes;
    return total;
  }

  get(file: string): SavedEntry | undefined {
    return this.byFile.get(file);
  }

  /** Every entry, least recently used first. */
  entries(): SavedEntry[] {
    return [...this.byFile.values()].sort((a, b) => a.lastUsedMs - b.lastUsedMs || (a.file < b.file ? -1 : 1));
  }

  /** The entry of `model` sharing the most leading blocks with the query's prompt (ties: the most tokens). */
  best(model: string, query: Chain | PromptQuery): Match | null {
    const q: PromptQuery = query instanceof Float64Array ? { chain: query } : query;
    let found: Match | null = null;
    for (const entry of this.byFile.values()) {
      if (entry.model !== model) continue;
      const blocks = coveredBlocks(entry, q);
      if (blocks === 0) continue;
      if (found === null || blocks > found.blocks || (blocks === found.blocks && entry.tokens > found.entry.tokens)) found = { entry, blocks };
    }
    return found;
  }

  /**
   * An entry of `model` that already holds all of `chain` with at least `tokens` tokens: saving
   * that prompt again would add nothing.
   */
  covering(model: string, chain: Chain, tokens: number): SavedEntry | undefined {
    for (const entry of this.byFile.values()) {
      if (entry.model === model && entry.tokens >= tokens && commonBlocks(entry.chain, chain) >= chain.length) return entry;
    }
    return undefined;
  }

  /**
   * The entry a save of `chain` continues: the same conversation, saved shorter before (its
   * chain is a prefix of `chain`). The new save takes its file name, so one file per lineage
   * remains; proxycache instead writes a full image every turn and never deletes one.
   */
  lineageOf(model: string, chain: Chain): SavedEntry | undefined {
    let found: SavedEntry | undefined;
    for (const entry of this.byFile.values()) {
      if (entry.model !== model || entry.chain.length === 0) continue;
      if (commonBlocks(entry.chain, chain) < entry.chain.length) continue;
      if (found === undefined || entry.chain.length > found.chain.length) found = entry;
    }
    return found;
  }

  /**
   * Adds or replaces (by file) an entry. Returns the entries pushed out to stay within
   * maxEntries, least recently used first; their files are the caller's to delete.
   */
  put(entry: SavedEntry): SavedEntry[] {
    this.byFile.delete(entry.file);
    this.byFile.set(entry.file, entry);
    const evicted: SavedEntry[] = [];
    if (this.byFile.size <= this.maxEntries) return evicted;
    for (const e of this.entries()) {
      if (this.byFile.size <= this.maxEntries) break;
      if (e.file === entry.file) continue;
      this.byFile.delete(e.file);
      evicted.push(e);
    }
    return evicted;
  }

  remove(file: string): SavedEntry | undefined {
    const entry = this.byFile.get(file);
    this.byFile.delete(file);
    return entry;
  }

  /** A restore from `file` happened at `nowMs`. */
  touch(file: string, nowMs: number): void {
    const entry = this.byFile.get(file);
    if (!entry) return;
    entry.lastUsedMs = nowMs;
    entry.hits += 1;
  }

  /**
   * Brings the index in line with what the directory holds: entries whose file is missing are
   * dropped, entries whose file has another size than its save wrote are forgotten (`resized`:
   * the caller deletes those files), and our files it does not know are reported.
   */
  reconcile(listing: readonly ListedFile[]): Reconciled {
    const listed = new Map<string, ListedFile>();
    for (const f of listing) if (parseEntryFileName(f.name) !== null) listed.set(f.name, f);
    const dropped: SavedEntry[] = [];
    const resized: SavedEntry[] = [];
    for (const entry of [...this.byFile.values()]) {
      const file = listed.get(entry.file);
      if (file === undefined) {
        this.byFile.delete(entry.file);
        dropped.push(entry);
      } else if (file.bytes !== entry.bytes) {
        this.byFile.delete(entry.file);
        listed.delete(entry.file);
        resized.push(entry);
      }
    }
    const orphans = [...listed.values()].filter((f) => !this.byFile.has(f.name));
    return { dropped, resized, orphans };
  }

  /** The index as msgpack bytes. */
  encode(): Uint8Array {
    const entries = [...this.byFile.values()].map((e) => ({
      ...e, chain: new Uint8Array(e.chain.buffer, e.chain.byteOffset, e.chain.byteLength),
    }));
    return pack({ version: FORMAT_VERSION, entries });
  }

  /**
   * An index from {@link encode}'s bytes. Entries that do not look right are skipped rather than
   * failing the whole index: a half-understood index only costs some restores.
   */
  static decode(bytes: Uint8Array, maxEntries: number): SavedIndex {
    const index = new SavedIndex(maxEntries);
    const raw = unpack(bytes) as { version?: unknown; entries?: unknown };
    if (raw === null || typeof raw !== 'object' || raw.version !== FORMAT_VERSION || !Array.isArray(raw.entries)) {
      throw new Error(`not a slotkeeper KV index (version ${String((raw as { version?: unknown } | null)?.version)})`);
    }
    for (const item of raw.entries as unknown[]) {
      const entry = entryFrom(item);
      if (entry !== null) index.put(entry);
    }
    return index;
  }
}

function entryFrom(item: unknown): SavedEntry | null {
  if (item === null || typeof item !== 'object') return null;
  const e = item as Record<string, unknown>;
  const numbers = ['tokens', 'bytes', 'createdMs', 'lastUsedMs', 'hits'] as const;
  if (typeof e.file !== 'string' || parseEntryFileName(e.file) === null || typeof e.model !== 'string') return null;
  if (!numbers.every((k) => typeof e[k] === 'number' && Number.isFinite(e[k]))) return null;
  if (!(e.chain instanceof Uint8Array) || e.chain.byteLength % 8 !== 0) return null;
  // A copy, so the Float64Array is aligned whatever offset the decoder's slice had.
  const chain = new Float64Array(new Uint8Array(e.chain).buffer);
  return {
    file: e.file, model: e.model, chain, tokens: e.tokens as number, bytes: e.bytes as number,
    createdMs: e.createdMs as number, lastUsedMs: e.lastUsedMs as number, hits: e.hits as number,
    ...(typeof e.endHash === 'number' && typeof e.chars === 'number' ? { endHash: e.endHash, chars: e.chars } : {}),
    ...(typeof e.sha256 === 'string' && SHA256.test(e.sha256) ? { sha256: e.sha256 } : {}),
  };
}
