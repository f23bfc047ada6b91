// `slotkeeper cache ls | show KEY | rm KEY | clear`: the store's contents, for people.
import type { ResponseCacheConfig } from '../config/config.js';
import { defaults } from '../defaults.js';
import { type EntryMeta, ResponseStore } from './store.js';

/** Where the command writes. */
export interface CommandOutput {
  stdout: (text: string | Uint8Array) => void;
  stderr: (text: string) => void;
}

/** Runs one `cache` subcommand and resolves to the exit code (2 for a usage mistake). */
export async function runCacheCommand(args: readonly string[], config: ResponseCacheConfig, out: CommandOutput, now: () => number = Date.now): Promise<number> {
  const [sub, ...rest] = args;
  const wants = sub === 'show' || sub === 'rm' ? 1 : 0;
  if (sub === undefined || !['ls', 'show', 'rm', 'clear'].includes(sub)) {
    out.stderr(`slotkeeper: cache needs ls, show KEY, rm KEY or clear${sub === undefined ? '' : `, got '${sub}'`}\n`);
    return 2;
  }
  if (rest.length !== wants) {
    out.stderr(`slotkeeper: cache ${sub} takes ${wants === 1 ? 'one KEY' : 'no argument'}\n`);
    return 2;
  }
  const store = await ResponseStore.open({ dir: config.dir, maxBytes: config.maxBytes, indexFlushMs: defaults.responseCacheIndexFlushMs, now });
  try {
    switch (sub) {
      case 'ls':
        out.stdout(table(store.list().reverse(), now()));
        return 0;
      case 'clear': {
        const n = store.size;
        await store.clear();
        out.stdout(`removed ${n} ${n === 1 ? 'entry' : 'entries'} from ${config.dir}\n`);
        return 0;
      }
      default: {
        const key = resolveKey(store.list(), rest[0]!);
        if (typeof key !== 'string') {
          out.stderr(`slotkeeper: ${key.problem}\n`);
          return 1;
        }
        if (sub === 'rm') {
          await store.remove(key);
          out.stdout(`removed ${key}\n`);
          return 0;
        }
        const meta = store.peek(key);
        const hit = await store.get(key);
        if (meta === undefined || hit === null) {
          out.stderr(`slotkeeper: ${key} is expired or its file is corrupt (now removed)\n`);
          return 1;
        }
        out.stdout(`${JSON.stringify({ ...meta, status: hit.response.status, headers: hit.response.headers }, null, 2)}\n\n`);
        out.stdout(hit.response.body);
        return 0;
      }
    }
  } finally {
    await store.close();
  }
}

/** A full key, or a unique prefix of one (as git takes commit ids). */
function resolveKey(entries: readonly EntryMeta[], given: string): string | { problem: string } {
  const matches = entries.filter((m) => m.key.startsWith(given.toLowerCase()));
  if (matches.length === 1) return matches[0]!.key;
  return { problem: matches.length === 0 ? `no cache entry ${given}` : `${given} names ${matches.length} entries; give more of the key` };
}

function table(entries: readonly EntryMeta[], now: number): string {
  if (entries.length === 0) return '(empty)\n';
  const rows = [['KEY', 'TIER', 'ROUTE', 'MODEL', 'BYTES', 'HITS', 'AGE', 'EXPIRES IN']];
  for (const m of entries) {
    rows.push([m.key.slice(0, 16), m.tier, m.route, m.model, String(m.bytes), String(m.hits), duration(now - m.createdMs), duration(m.expiresMs - now)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`;
}

function duration(ms: number): string {
  if (ms <= 0) return 'expired';
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
