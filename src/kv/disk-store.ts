// The file-system side of a slot-save directory slotkeeper can see: list it, delete our files,
// and read and write each server's index atomically (a temp file renamed over the old one, so a
// crash leaves the old index or the new one, never half of one).
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { indexFileName, parseEntryFileName } from './file-name.js';
import type { ListedFile } from './saved-index.js';

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

  /** The path of a file in the directory. */
  pathOf(name: string): string {
    return join(this.dir, name);
  }

  /** Deletes one of our files; refuses any other name, and a file already gone is fine. */
  async delete(name: string): Promise<void> {
    if (parseEntryFileName(name) === null) throw new Error(`refusing to delete ${JSON.stringify(name)}: not a slotkeeper file`);
    await rm(join(this.dir, name), { force: true });
  }

  /** The bytes of server `server`'s index (file-name.ts serverHash), or null when there is none yet. */
  async readIndex(server: string): Promise<Uint8Array | null> {
    try {
      return await readFile(join(this.dir, indexFileName(server)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Replaces server `server`'s index atomically. */
  async writeIndex(server: string, bytes: Uint8Array): Promise<void> {
    const name = indexFileName(server);
    const tmp = join(this.dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, join(this.dir, name));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}
