// The response cache's on-disk store. Keys point at content-addressed entry files (an answer
// stored under its exact and its normalized key is written once); an in-memory index, kept in a
// msgpackr file, holds each key's metadata in least-recently-used order.
//
//   <dir>/index.msgpack     the index (rewritten by temp + rename)
//   <dir>/blobs/<sha256>    entry files (entry-file.ts), named by their checksum
//   <dir>/tmp/              writes in progress; emptied when the store opens
//
// Every decision (what expired, what to evict, which blob is unreferenced) is taken
// synchronously on the in-memory index; file operations carry it out afterwards, serialized per
// blob, so a blob being deleted is never confused with the same blob being written again.
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { CacheTier } from './key.js';
import { decodeEntry, encodeEntry, type StoredResponse } from './entry-file.js';

/** What the store knows of one key. */
export interface EntryMeta {
  key: string;
  /** How the key was made. */
  tier: CacheTier;
  route: string;
  model: string;
  createdMs: number;
  expiresMs: number;
  lastHitMs: number | null;
  hits: number;
  /** Size of the entry file (the body plus a few hundred bytes of head). */
  bytes: number;
  /** The entry file's name: the SHA-256 of its bytes. */
  blob: string;
  /** Prompt tokens the answer cost upstream (cached and evaluated), when the answer said. */
  promptTokens: number | null;
  /** Seconds the upstream spent on prefill for it, when the answer said. */
  prefillSeconds: number | null;
}

/** Why an entry left the store. */
export type EvictionReason = 'ttl' | 'budget' | 'corrupt' | 'removed';

/** Options for {@link ResponseStore.open}. */
export interface StoreOptions {
  dir: string;
  /** Byte budget for entry files; least recently used keys go first beyond it. */
  maxBytes: number;
  /** The wall clock, ms since the epoch (injected so tests control TTLs). */
  now?: () => number;
  /** Longest delay before hit counts reach the index file, ms; puts and removals are written at once. */
  indexFlushMs: number;
  /** Told about every entry that leaves the store other than by `rm`/`clear`. */
  onEvict?: (reason: EvictionReason, meta: EntryMeta) => void;
  /**
   * Bytes of recently used answers kept in memory as well (0, the default: none). A hit on one
   * costs no file read and no hash: it was checked when it was read or written.
   */
  memoryBytes?: number;
}

/** What {@link ResponseStore.put} records beside the response. */
export interface PutMeta {
  tier: CacheTier;
  route: string;
  model: string;
  ttlSeconds: number;
  promptTokens: number | null;
  prefillSeconds: number | null;
}

/** A hit: the entry's metadata and its response. */
export interface StoreHit {
  meta: EntryMeta;
  response: StoredResponse;
}

const INDEX = 'index.msgpack';
const INDEX_VERSION = 1;

/** The on-disk response store. Create with {@link ResponseStore.open}. */
export class ResponseStore {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly flushMs: number;
  private readonly onEvict: ((reason: EvictionReason, meta: EntryMeta) => void) | undefined;
  /** Key → metadata, least recently used first (Map keeps insertion order). */
  private readonly keys = new Map<string, EntryMeta>();
  /** Blob → bytes and how many keys point at it. */
  private readonly blobs = new Map<string, { bytes: number; refs: number }>();
  /** Blob → the last file operation on it, so deletes and rewrites of one blob never interleave. */
  private readonly blobOps = new Map<string, Promise<void>>();
  private totalBytes = 0;
  /** Blob → its decoded response, least recently used first, within `memoryBytes`. */
  private readonly hot = new Map<string, StoredResponse>();
  private hotBytes = 0;
  private readonly memoryBytes: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private indexWrite: Promise<void> = Promise.resolve();
  private indexDirty = false;
  private closed = false;

  private constructor(options: StoreOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.now = options.now ?? Date.now;
    this.flushMs = options.indexFlushMs;
    this.onEvict = options.onEvict;
    this.memoryBytes = options.memoryBytes ?? 0;
  }

  /** Opens (creating if needed) the store in `options.dir` and reconciles its index with the files. */
  static async open(options: StoreOptions): Promise<ResponseStore> {
    const store = new ResponseStore(options);
    await store.load();
    return store;
  }

  /** Bytes of entry files held. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Keys held. */
  get size(): number {
    return this.keys.size;
  }

  /** Every key's metadata, least recently used first. */
  list(): EntryMeta[] {
    return [...this.keys.values()].map((meta) => ({ ...meta }));
  }

  /** A key's metadata without counting a hit; undefined when absent or expired. */
  peek(key: string): EntryMeta | undefined {
    const meta = this.keys.get(key);
    return meta === undefined || meta.expiresMs <= this.now() ? undefined : { ...meta };
  }

  /**
   * The stored response for `key`, or null. An expired entry is dropped; an entry whose file is
   * gone is forgotten; one whose file fails its checksum is deleted and reported as corrupt.
   */
  async get(key: string): Promise<StoreHit | null> {
    const meta = this.keys.get(key);
    if (meta === undefined) return null;
    if (meta.expiresMs <= this.now()) {
      this.drop(meta, 'ttl');
      return null;
    }
    const cached = this.hot.get(meta.blob);
    if (cached !== undefined) {
      this.hot.delete(meta.blob);
      this.hot.set(meta.blob, cached);
      return { meta: this.countHit(meta), response: cached };
    }
    // A put of this blob may still be writing it: wait for that, never read half a rename.
    await this.blobOps.get(meta.blob)?.catch(() => undefined);
    if (this.keys.get(key) !== meta) return this.get(key);
    let bytes: Buffer;
    try {
      bytes = await this.readBlob(meta.blob);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Removed behind our back (`slotkeeper cache rm` while serving): forget it.
      this.dropBlob(meta.blob, 'removed');
      return null;
    }
    const response = decodeEntry(meta.blob, bytes);
    if (response === null) {
      this.dropBlob(meta.blob, 'corrupt');
      return null;
    }
    // The key may have been removed or rewritten while the file was read; count the hit (and
    // keep the answer in memory) only if the entry that was read is still there.
    const current = this.keys.get(key);
    if (current === undefined || current.blob !== meta.blob) return { meta: { ...meta }, response };
    this.remember(meta.blob, response);
    return { meta: this.countHit(current), response };
  }

  private countHit(meta: EntryMeta): EntryMeta {
    meta.hits += 1;
    meta.lastHitMs = this.now();
    this.keys.delete(meta.key);
    this.keys.set(meta.key, meta);
    this.scheduleFlush();
    return { ...meta };
  }

  private remember(blob: string, response: StoredResponse): void {
    const size = response.body.length;
    if (size > this.memoryBytes || this.hot.has(blob)) return;
    this.hot.set(blob, response);
    this.hotBytes += size;
    for (const [name, old] of this.hot) {
      if (this.hotBytes <= this.memoryBytes) break;
      this.hot.delete(name);
      this.hotBytes -= old.body.length;
    }
  }

  private forget(blob: string): void {
    const response = this.hot.get(blob);
    if (response === undefined) return;
    this.hot.delete(blob);
    this.hotBytes -= response.body.length;
  }

  /**
   * Stores `response` under every key in `keys` (its tiers), evicting least recently used keys
   * to stay within the budget. Resolves false when the response alone exceeds the budget.
   */
  async put(keys: readonly { key: string; tier: CacheTier }[], response: StoredResponse, meta: Omit<PutMeta, 'tier'>): Promise<boolean> {
    if (this.closed || keys.length === 0) return false;
    const { name, bytes } = encodeEntry(response);
    if (bytes.length > this.maxBytes) return false;
    const now = this.now();
    this.sweepExpired(now);
    // Decide first: claim the blob and the keys in memory, evict what no longer fits. The blob is
    // claimed before the keys' previous entries are let go, so a key rewritten with the same
    // bytes never frees the blob it is about to use.
    const known = this.blobs.get(name);
    const blob = known ?? { bytes: bytes.length, refs: 0 };
    if (known === undefined) {
      this.blobs.set(name, blob);
      this.totalBytes += bytes.length;
    }
    blob.refs += keys.length;
    for (const { key, tier } of keys) {
      const previous = this.keys.get(key);
      if (previous !== undefined) this.unlinkKey(previous);
      this.keys.set(key, {
        key, tier, route: meta.route, model: meta.model, createdMs: now, expiresMs: now + meta.ttlSeconds * 1000,
        lastHitMs: null, hits: 0, bytes: bytes.length, blob: name, promptTokens: meta.promptTokens, prefillSeconds: meta.prefillSeconds,
      });
    }
    this.evictToBudget(name);
    if (known === undefined) {
      try {
        await this.serial(name, () => this.writeBlob(name, bytes));
      } catch (err) {
        // No file, no keys: the index must never point at a blob that was not written.
        this.dropBlob(name, 'removed');
        throw err;
      }
    }
    if (this.blobs.has(name)) this.remember(name, response);
    await this.writeIndex();
    return true;
  }

  /** Removes one key; resolves false when it was not there. */
  async remove(key: string): Promise<boolean> {
    const meta = this.keys.get(key);
    if (meta === undefined) return false;
    this.drop(meta, 'removed');
    await this.settle();
    await this.writeIndex();
    return true;
  }

  /** Removes every entry. */
  async clear(): Promise<void> {
    for (const meta of [...this.keys.values()]) this.drop(meta, 'removed');
    await this.settle();
    await this.writeIndex();
  }

  /** Writes the index now if anything changed. */
  async flush(): Promise<void> {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.indexDirty) await this.writeIndex();
    else await this.indexWrite;
  }

  /** Waits for pending file operations and writes the index; the store takes no more puts. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settle();
    await this.flush();
  }

  // ---- decisions on the in-memory index ----

  private drop(meta: EntryMeta, reason: EvictionReason): void {
    if (this.keys.get(meta.key) !== meta) return;
    this.unlinkKey(meta);
    if (reason !== 'removed') this.onEvict?.(reason, { ...meta });
    this.indexDirty = true;
    this.scheduleFlush();
  }

  /** A blob's file is bad: every key pointing at it goes. */
  private dropBlob(name: string, reason: EvictionReason): void {
    for (const meta of [...this.keys.values()]) if (meta.blob === name) this.drop(meta, reason);
  }

  private unlinkKey(meta: EntryMeta): void {
    this.keys.delete(meta.key);
    const blob = this.blobs.get(meta.blob);
    if (blob === undefined) return;
    blob.refs -= 1;
    if (blob.refs > 0) return;
    this.blobs.delete(meta.blob);
    this.totalBytes -= blob.bytes;
    this.forget(meta.blob);
    void this.serial(meta.blob, () => unlink(this.blobPath(meta.blob)).catch(ignoreMissing));
  }

  private sweepExpired(now: number): void {
    for (const meta of [...this.keys.values()]) if (meta.expiresMs <= now) this.drop(meta, 'ttl');
  }

  /** Evicts least recently used keys until the budget holds; never the blob being stored. */
  private evictToBudget(keep: string): void {
    for (const meta of [...this.keys.values()]) {
      if (this.totalBytes <= this.maxBytes) return;
      if (meta.blob !== keep) this.drop(meta, 'budget');
    }
  }

  // ---- effects ----

  private async load(): Promise<void> {
    // Answers hold whole conversations: only their owner may read them (0700 directories, 0600 files).
    await mkdir(join(this.dir, 'blobs'), { recursive: true, mode: PRIVATE_DIR });
    // Cleaning follows no link: a blobs or tmp that is a symbolic link would have its target emptied.
    for (const sub of ['blobs', 'tmp']) {
      const info = await lstat(join(this.dir, sub)).catch(ignoreMissing);
      if (info !== undefined && !info.isDirectory()) {
        throw new Error(`response cache: ${join(this.dir, sub)} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; refusing to clean it`);
      }
    }
    await rm(join(this.dir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.dir, 'tmp'), { recursive: true, mode: PRIVATE_DIR });
    for (const sub of ['', 'blobs', 'tmp']) await chmod(join(this.dir, sub), PRIVATE_DIR);
    const onDisk = new Map<string, number>();
    for (const name of await readdir(join(this.dir, 'blobs'))) {
      if (/^[0-9a-f]{64}$/.test(name)) onDisk.set(name, (await stat(this.blobPath(name))).size);
      else await rm(this.blobPath(name), { recursive: true, force: true });
    }
    const entries = await this.readIndex();
    // Index entries without their file are forgotten; sizes come from the files, not the index.
    entries.sort((a, b) => (a.lastHitMs ?? a.createdMs) - (b.lastHitMs ?? b.createdMs));
    for (const meta of entries) {
      const size = onDisk.get(meta.blob);
      if (size === undefined) continue;
      let blob = this.blobs.get(meta.blob);
      if (blob === undefined) {
        blob = { bytes: size, refs: 0 };
        this.blobs.set(meta.blob, blob);
        this.totalBytes += size;
      }
      blob.refs += 1;
      this.keys.set(meta.key, { ...meta, bytes: size });
    }
    // Files no key points at (a crash between writing a blob and the index) are removed.
    for (const name of onDisk.keys()) if (!this.blobs.has(name)) await unlink(this.blobPath(name)).catch(ignoreMissing);
    this.sweepExpired(this.now());
    this.evictToBudget('');
    this.indexDirty = entries.length !== this.keys.size || this.indexDirty;
    await this.settle();
    if (this.indexDirty) await this.writeIndex();
  }

  private async readIndex(): Promise<EntryMeta[]> {
    let raw: Buffer;
    try {
      raw = await readFile(join(this.dir, INDEX));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const parsed = unpack(raw) as { v?: unknown; entries?: unknown };
      if (parsed.v !== INDEX_VERSION || !Array.isArray(parsed.entries)) return [];
      return parsed.entries.filter(isEntryMeta);
    } catch {
      // An unreadable index loses the keys, not correctness: the blobs are then unreferenced and removed.
      return [];
    }
  }

  private writeIndex(): Promise<void> {
    this.indexDirty = false;
    const bytes = pack({ v: INDEX_VERSION, entries: [...this.keys.values()] });
    // Chained so two writes never race to rename; the last one written is the newest state. A
    // failed write does not stop the next one.
    const write = this.indexWrite.catch(() => undefined).then(() => this.atomicWrite(join(this.dir, INDEX), bytes));
    this.indexWrite = write;
    return write;
  }

  private scheduleFlush(): void {
    this.indexDirty = true;
    if (this.flushTimer !== undefined || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.writeIndex().catch(() => {
        // A failed index write leaves the previous index; the next change writes it again.
        this.indexDirty = true;
      });
    }, this.flushMs);
    this.flushTimer.unref();
  }

  private async writeBlob(name: string, bytes: Buffer): Promise<void> {
    // The index may have dropped the blob while waiting for its turn (evicted at once).
    if (!this.blobs.has(name)) return;
    await this.atomicWrite(this.blobPath(name), bytes);
  }

  private async atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
    const tmp = join(this.dir, 'tmp', `${randomBytes(8).toString('hex')}.tmp`);
    await writeFile(tmp, bytes, { mode: PRIVATE_FILE });
    await rename(tmp, path);
  }

  private readBlob(name: string): Promise<Buffer> {
    return readFile(this.blobPath(name));
  }

  private serial(name: string, op: () => Promise<void>): Promise<void> {
    const next = (this.blobOps.get(name) ?? Promise.resolve()).then(op);
    const tracked = next.finally(() => {
      if (this.blobOps.get(name) === tracked) this.blobOps.delete(name);
    });
    this.blobOps.set(name, tracked);
    return next;
  }

  /** Resolves once every pending blob operation is done. */
  private async settle(): Promise<void> {
    while (this.blobOps.size > 0) await Promise.allSettled([...this.blobOps.values()]);
  }

  private blobPath(name: string): string {
    return join(this.dir, 'blobs', name);
  }
}

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

function isEntryMeta(value: unknown): value is EntryMeta {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.key === 'string' && typeof v.blob === 'string' && /^[0-9a-f]{64}$/.test(v.blob)
    && typeof v.createdMs === 'number' && typeof v.expiresMs === 'number' && typeof v.hits === 'number';
}
