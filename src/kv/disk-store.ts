// The file-system side of a slot-save directory slotkeeper can see: list it, delete our files,
// and read and write the index atomically (a temp file renamed over the old one, so a crash
// leaves the old index or the new one, never half of one).
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEntryFileName } from './file-name.js';
import type { ListedFile } from './saved-index.js';

/** The index's file name in the directory; it does not parse as an entry, so GC never deletes it. */
export const INDEX_FILE = 'slotkeeper-index.msgpack';

/** One slot-save directory on the local file system. */
export class DiskStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Regular files in the directory with their sizes and modification times. */
  async list(): Promise<ListedFile[]> {
    const names = await readdir(this.dir);
    const out: ListedFile[] = [];
    for (const name of names) {
      try {
        const s = await stat(join(this.dir, name));
        if (s.isFile()) out.push({ name, bytes: s.size, mtimeMs: s.mtimeMs });
      } catch (err) {
        // Deleted between readdir and stat: it is not there, which is what the listing says.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  }

  /** Deletes one of our files; refuses any other name, and a file already gone is fine. */
  async delete(name: string): Promise<void> {
    if (parseEntryFileName(name) === null) throw new Error(`refusing to delete ${JSON.stringify(name)}: not a slotkeeper file`);
    await rm(join(this.dir, name), { force: true });
  }

  /** The index's bytes, or null when there is none yet. */
  async readIndex(): Promise<Uint8Array | null> {
    try {
      return await readFile(join(this.dir, INDEX_FILE));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Replaces the index atomically. */
  async writeIndex(bytes: Uint8Array): Promise<void> {
    const tmp = join(this.dir, `.${INDEX_FILE}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, join(this.dir, INDEX_FILE));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}
