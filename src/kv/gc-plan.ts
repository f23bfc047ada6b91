// Garbage collection of a slot-save directory, decided purely: which of slotkeeper's own files
// to delete, by age and by total bytes (globally and per model). Files that are not ours (the
// name does not parse) are never candidates, nor files being saved or restored right now.
// Servers may share a directory (several upstreams, or several gateways): every file of ours
// counts against the directory's budgets, but byte limits delete only files of the servers this
// gateway manages, whose saves and restores it can see; another gateway's files go only by age
// or as orphans, and that gateway's own GC keeps the budget with its files.
import { parseEntryFileName } from './file-name.js';
import type { ListedFile, SavedEntry } from './saved-index.js';

/** Bounds a directory is kept within. */
export interface GcLimits {
  /** A file unused for longer than this is deleted, ms. */
  maxAgeMs: number;
  /** Our files' total bytes. */
  maxBytes: number;
  /** Our files' total bytes for any one model. */
  maxBytesPerModel: number;
}

/** Why a file goes. */
export type GcReason = 'age' | 'orphan' | 'model_bytes' | 'bytes';

/** One deletion the plan asks for. */
export interface GcDeletion {
  file: string;
  bytes: number;
  reason: GcReason;
}

/** What the plan looks at. */
export interface GcInput {
  /** The directory listing (foreign files included; they are skipped). */
  files: readonly ListedFile[];
  /** The entries of every index in the directory, for last-use times; a file none lists is an orphan. */
  entries: readonly SavedEntry[];
  /** Server hashes (file-name.ts serverHash) of the servers this gateway saves and restores for. */
  ownServers: ReadonlySet<string>;
  /** Files a save or restore is using now. */
  inUse: ReadonlySet<string>;
  nowMs: number;
  limits: GcLimits;
}

/**
 * A file of ours the index does not know is younger than this is left alone: another gateway
 * sharing the directory, or a save whose answer has not arrived yet, may be writing it.
 */
export const ORPHAN_GRACE_MS = 10 * 60_000;

interface Candidate {
  file: string;
  bytes: number;
  model: string;
  lastUsedMs: number;
  orphan: boolean;
  busy: boolean;
  /** Written by a server of another gateway: byte limits leave it to that gateway. */
  foreign: boolean;
}

/** Deletions, in order, that bring the directory within `limits`; empty when it is. */
export function planGc(input: GcInput): GcDeletion[] {
  const { limits, nowMs } = input;
  const known = new Map(input.entries.map((e) => [e.file, e]));
  const files: Candidate[] = [];
  for (const f of input.files) {
    const parsed = parseEntryFileName(f.name);
    if (parsed === null) continue;
    const entry = known.get(f.name);
    files.push({
      file: f.name, bytes: f.bytes, model: parsed.model, lastUsedMs: entry?.lastUsedMs ?? f.mtimeMs,
      orphan: entry === undefined, busy: input.inUse.has(f.name), foreign: !input.ownServers.has(parsed.server),
    });
  }
  // Least recently used first: the order in which byte limits delete.
  files.sort((a, b) => a.lastUsedMs - b.lastUsedMs || (a.file < b.file ? -1 : 1));
  const out: GcDeletion[] = [];
  const gone = new Set<string>();
  const remove = (c: Candidate, reason: GcReason) => {
    gone.add(c.file);
    out.push({ file: c.file, bytes: c.bytes, reason });
  };
  for (const c of files) {
    if (c.busy) continue;
    if (nowMs - c.lastUsedMs > limits.maxAgeMs) remove(c, 'age');
    else if (c.orphan && nowMs - c.lastUsedMs > ORPHAN_GRACE_MS) remove(c, 'orphan');
  }
  const shrink = (group: Candidate[], max: number, reason: GcReason) => {
    let total = group.reduce((sum, c) => sum + (gone.has(c.file) ? 0 : c.bytes), 0);
    for (const c of group) {
      if (total <= max) return;
      if (c.busy || c.foreign || gone.has(c.file)) continue;
      remove(c, reason);
      total -= c.bytes;
    }
  };
  const byModel = new Map<string, Candidate[]>();
  for (const c of files) byModel.set(c.model, [...(byModel.get(c.model) ?? []), c]);
  for (const group of byModel.values()) shrink(group, limits.maxBytesPerModel, 'model_bytes');
  shrink(files, limits.maxBytes, 'bytes');
  return out;
}
