// `slotkeeper kv ls | rm FILE | rm all`: the disk tier's saved slot caches, for people. Reads
// each configured upstream's index in its slotSaveDir (the server's --slot-save-path as seen
// here); rm deletes only slotkeeper's own files and rewrites the index atomically first, so no
// index ever lists a file rm has deleted. A gateway running meanwhile keeps its own copy of the
// index: a restore of a removed file fails harmlessly and forgets it, and its next start
// reconciles the index with the directory.
import { type KvCommandConfig, envVars } from '../config/load.js';
import type { UpstreamConfig } from '../config/config.js';
import { DiskStore } from './disk-store.js';
import { parseEntryFileName, serverHash } from './file-name.js';
import { type ListedFile, type SavedEntry, SavedIndex } from './saved-index.js';

/** Where the command writes. */
export interface CommandOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

// The command shows and keeps every entry an index holds, whatever kv.maxEntries says now: the
// gateway applies its bound when it loads the index.
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** One upstream's slot-save directory as the command sees it. */
interface Place {
  upstream: UpstreamConfig;
  server: string;
  disk: DiskStore;
  index: SavedIndex;
  /** This server's files in the directory. */
  files: ListedFile[];
}

/** Runs one `kv` subcommand and resolves to the exit code (2 for a usage mistake). */
export async function runKvCommand(args: readonly string[], config: KvCommandConfig, out: CommandOutput, now: () => number = Date.now): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'ls' && sub !== 'rm') {
    out.stderr(`slotkeeper: kv needs ls, rm FILE or rm all${sub === undefined ? '' : `, got '${sub}'`}\n`);
    return 2;
  }
  if (rest.length !== (sub === 'rm' ? 1 : 0)) {
    out.stderr(`slotkeeper: kv ${sub} takes ${sub === 'rm' ? 'one FILE (or all)' : 'no argument'}\n`);
    return 2;
  }
  const withDir = config.upstreams.filter((u) => u.slotSaveDir !== undefined);
  if (withDir.length === 0) {
    out.stderr(`slotkeeper: no upstream of the config file (--config or ${envVars.config}) has slotSaveDir, so no saved slot cache is visible from here\n`);
    return 1;
  }
  const places: Place[] = [];
  for (const upstream of withDir) {
    const place = await open(upstream);
    if (typeof place === 'string') {
      out.stderr(`slotkeeper: ${place}\n`);
      return 1;
    }
    places.push(place);
  }
  if (sub === 'ls') {
    out.stdout(listing(places, now()));
    return 0;
  }
  return rest[0] === 'all' ? removeAll(places, out) : removeOne(places, rest[0]!, out);
}

async function open(upstream: UpstreamConfig): Promise<Place | string> {
  const disk = new DiskStore(upstream.slotSaveDir!);
  const server = serverHash(upstream.url);
  try {
    const bytes = await disk.readIndex(server);
    const index = bytes === null ? new SavedIndex(UNBOUNDED) : SavedIndex.decode(bytes, UNBOUNDED);
    const files = (await disk.list()).filter((f) => parseEntryFileName(f.name)?.server === server);
    return { upstream, server, disk, index, files };
  } catch (err) {
    return `${upstream.url}: ${disk.dir}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function listing(places: readonly Place[], nowMs: number): string {
  let text = '';
  let entries = 0;
  let bytes = 0;
  for (const p of places) {
    const listed = new Set(p.index.entries().map((e) => e.file));
    const unindexed = p.files.filter((f) => !listed.has(f.name));
    const rows = p.index.entries().reverse();
    const ownBytes = rows.reduce((sum, e) => sum + e.bytes, 0);
    entries += rows.length;
    bytes += ownBytes;
    text += `${p.upstream.url} (${p.disk.dir}): ${count(rows.length, 'entry', 'entries')}, ${size(ownBytes)}\n`;
    if (rows.length > 0) text += table(rows, nowMs);
    if (unindexed.length > 0) {
      text += `  and ${count(unindexed.length, 'file', 'files')} of this server no index lists (${size(unindexed.reduce((s, f) => s + f.bytes, 0))}; garbage collection deletes them)\n`;
    }
  }
  return `${text}total: ${count(entries, 'entry', 'entries')}, ${size(bytes)}\n`;
}

function table(entries: readonly SavedEntry[], nowMs: number): string {
  const rows = [['FILE', 'MODEL', 'TOKENS', 'BYTES', 'CREATED', 'LAST USED', 'HITS']];
  for (const e of entries) {
    rows.push([e.file, e.model, String(e.tokens), String(e.bytes), `${ago(nowMs - e.createdMs)} ago`, `${ago(nowMs - e.lastUsedMs)} ago`, String(e.hits)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => `  ${r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}`).join('\n')}\n`;
}

async function removeOne(places: readonly Place[], file: string, out: CommandOutput): Promise<number> {
  const parsed = parseEntryFileName(file);
  if (parsed === null) {
    out.stderr(`slotkeeper: ${JSON.stringify(file)} is not a slotkeeper file name; kv rm deletes nothing else\n`);
    return 1;
  }
  const place = places.find((p) => p.server === parsed.server);
  if (place === undefined) {
    out.stderr(`slotkeeper: ${file} was written for a server this configuration does not name (or names without slotSaveDir); its gateway's garbage collection owns it\n`);
    return 1;
  }
  const listed = place.index.get(file) !== undefined;
  const present = place.files.some((f) => f.name === file);
  if (!listed && !present) {
    out.stderr(`slotkeeper: no saved entry ${file} in ${place.disk.dir}\n`);
    return 1;
  }
  try {
    if (listed) {
      place.index.remove(file);
      await place.disk.writeIndex(place.server, place.index.encode());
    }
    await place.disk.delete(file);
  } catch (err) {
    out.stderr(`slotkeeper: ${place.disk.dir}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  out.stdout(`removed ${file}\n`);
  return 0;
}

async function removeAll(places: readonly Place[], out: CommandOutput): Promise<number> {
  for (const p of places) {
    const gone = p.files.reduce((sum, f) => sum + f.bytes, 0);
    try {
      // The index first: an index that lists a deleted file would send a gateway's restore to it.
      for (const e of p.index.entries()) p.index.remove(e.file);
      await p.disk.writeIndex(p.server, p.index.encode());
      for (const f of p.files) await p.disk.delete(f.name);
    } catch (err) {
      out.stderr(`slotkeeper: ${p.disk.dir}: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
    out.stdout(`removed ${count(p.files.length, 'file', 'files')} (${size(gone)}) of ${p.upstream.url} from ${p.disk.dir}\n`);
  }
  return 0;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[u]}`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
