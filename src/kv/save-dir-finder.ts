// Finding the slot-save directory of a server on this host that slotkeeper was not told about.
// Candidates come from the command lines of this host's processes (/proc/<pid>/cmdline: every
// `--slot-save-path`, relative ones resolved against the process's working directory, and the
// same path under /proc/<pid>/root for a process in another mount namespace). Which candidate,
// if any, is the upstream's is never guessed: the caller has the server save a slot under a
// unique name, and the directory where that file appears is the one (locateProbe). llama.cpp
// de3ff815ea7d reads --slot-save-path only from the command line (common/arg.cpp: no env var).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

const FLAG = '--slot-save-path';
const PROBE = /^slotkeeper-probe-[0-9a-f]{16}\.bin$/;

/** The `--slot-save-path` a command line gives (the last one wins, as in llama.cpp's parser); null when none. */
export function slotSavePathArg(argv: readonly string[]): string | null {
  let found: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === FLAG && i + 1 < argv.length) found = argv[++i]!;
    else if (arg.startsWith(`${FLAG}=`)) found = arg.slice(FLAG.length + 1);
  }
  return found === '' ? null : found;
}

/** A fresh name for a probe save: valid for llama-server's fs_validate_filename, never an entry's name. */
export function probeFileName(): string {
  return `slotkeeper-probe-${randomBytes(8).toString('hex')}.bin`;
}

/** Whether `name` is a probe's (so a leftover one can be recognized). */
export function isProbeFileName(name: string): boolean {
  return PROBE.test(name);
}

/**
 * Directories that are some process's --slot-save-path, as paths this process can open, each
 * directory once (by device and inode). Empty where /proc cannot be read (not Linux).
 */
export async function saveDirCandidates(procRoot = '/proc'): Promise<string[]> {
  let pids: string[];
  try {
    pids = (await readdir(procRoot)).filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return [];
  }
  const paths: string[] = [];
  for (const pid of pids) {
    let argv: string[];
    try {
      argv = (await readFile(join(procRoot, pid, 'cmdline'), 'latin1')).split('\0');
    } catch {
      continue; // gone since the listing, or not ours to read
    }
    const arg = slotSavePathArg(argv);
    if (arg === null) continue;
    let path = arg;
    if (!isAbsolute(path)) {
      const cwd = await readlink(join(procRoot, pid, 'cwd')).catch(() => null);
      if (cwd === null) continue;
      path = resolve(cwd, path);
    }
    paths.push(path, join(procRoot, pid, 'root', path));
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const path of paths) {
    const s = await stat(path).catch(() => null);
    if (s === null || !s.isDirectory()) continue;
    const id = `${s.dev}:${s.ino}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(path);
  }
  return out;
}

/**
 * The candidate holding the probe file `name`, or null. Every copy found is deleted (one file
 * seen through two paths is deleted once; the rest are already gone).
 */
export async function locateProbe(name: string, candidates: readonly string[]): Promise<string | null> {
  if (!isProbeFileName(name)) throw new Error(`not a probe file name: ${JSON.stringify(name)}`);
  let found: string | null = null;
  for (const dir of candidates) {
    const s = await stat(join(dir, name)).catch(() => null);
    if (s === null || !s.isFile()) continue;
    found ??= dir;
    // A directory this process may not write in keeps the file; writableDir then says so.
    await rm(join(dir, name), { force: true }).catch(() => undefined);
  }
  return found;
}

/** Whether this process may create and delete files in `dir` (GC and the index need both). */
export async function writableDir(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
