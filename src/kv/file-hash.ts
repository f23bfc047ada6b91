// The content hash of a saved slot cache: SHA-256 over the file, read as a stream in 1 MiB
// chunks, so a multi-GB file never sits in memory and the event loop runs between chunks.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** What a file held when it was read. */
export interface FileDigest {
  /** SHA-256, hex. */
  sha256: string;
  bytes: number;
}

const CHUNK = 1 << 20;

/** Hashes the file at `path`; rejects when it cannot be read (ENOENT when it is gone). */
export function hashFile(path: string, signal?: AbortSignal): Promise<FileDigest> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const stream = createReadStream(path, { highWaterMark: CHUNK, ...(signal ? { signal } : {}) });
    stream.on('data', (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    stream.once('error', reject);
    stream.once('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
  });
}
