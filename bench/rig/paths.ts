// Where the rig keeps what it builds and writes. Outside the repo, so a fresh clone reuses it
// and `git clean` never throws away a five-minute build.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Root of the rig's cache: $SLOTKEEPER_RIG_CACHE, else $XDG_CACHE_HOME/slotkeeper, else ~/.cache/slotkeeper. */
export function rigCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLOTKEEPER_RIG_CACHE) return env.SLOTKEEPER_RIG_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'slotkeeper');
}
