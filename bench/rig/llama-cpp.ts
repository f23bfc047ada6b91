// Obtains llama.cpp's source from the npm tarball of node-llama-cpp (which ships it as a git
// bundle) and builds only the llama-server target, cached by commit outside the repo.
import { spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { withLock } from './lock.js';
import { rigCacheDir } from './paths.js';

/** The node-llama-cpp release whose bundled llama.cpp we build. Pinned: tests depend on its server's behaviour. */
export const NODE_LLAMA_CPP_VERSION = '3.22.1';
/** The llama.cpp commit inside that release's bundle; a different one means the tarball changed under us. */
export const EXPECTED_COMMIT = 'de3ff815ea7d559ee917f063901b8986f038abc6';

/** Where progress lines go (stderr in the CLI; stdout stays for the final path). */
export type Log = (line: string) => void;

/** A checked-out llama.cpp source tree. */
export interface LlamaSource { dir: string; commit: string }

/** Returns llama.cpp's source, unpacking it from node-llama-cpp's npm tarball on first use. */
export async function ensureLlamaSource(log: Log, cacheDir = rigCacheDir()): Promise<LlamaSource> {
  const root = join(cacheDir, 'llama.cpp');
  const dir = join(root, `source-node-llama-cpp-${NODE_LLAMA_CPP_VERSION}`);
  const marker = join(dir, '.slotkeeper-commit');
  const read = (): LlamaSource | null => existsSync(marker) ? { dir, commit: readFileSync(marker, 'utf8').trim() } : null;
  const ready = read();
  if (ready) return ready;
  mkdirSync(root, { recursive: true });
  return withLock(join(root, 'source.lock'), async () => {
    const again = read();
    if (again) return again;
    const work = mkdtempSync(join(root, 'unpack-'));
    try {
      log(`rig: fetching node-llama-cpp@${NODE_LLAMA_CPP_VERSION} from the npm registry`);
      await run('npm', ['pack', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, '--silent', '--pack-destination', work], { cwd: work });
      const tarball = join(work, `node-llama-cpp-${NODE_LLAMA_CPP_VERSION}.tgz`);
      await run('tar', ['xzf', tarball, 'package/llama/gitRelease.bundle'], { cwd: work });
      log('rig: cloning llama.cpp from the bundle');
      const src = join(work, 'src');
      await run('git', ['clone', '--quiet', join(work, 'package/llama/gitRelease.bundle'), src], { cwd: work });
      const commit = (await run('git', ['rev-parse', 'HEAD'], { cwd: src })).trim();
      if (commit !== EXPECTED_COMMIT) log(`rig: warning: bundle holds llama.cpp ${commit}, expected ${EXPECTED_COMMIT}`);
      writeFileSync(join(src, '.slotkeeper-commit'), commit);
      rmSync(dir, { recursive: true, force: true });
      renameSync(src, dir);
      return { dir, commit };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, { onWait: (pid) => log(`rig: waiting for pid ${pid}, which is unpacking llama.cpp`) });
}

/**
 * Returns the path of a llama-server binary: $LLAMA_SERVER, else one on PATH, else the rig's
 * own build (made on first use; about 5 minutes on 2 cores).
 */
export async function ensureLlamaServer(log: Log, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.LLAMA_SERVER) {
    if (!isExecutable(env.LLAMA_SERVER)) throw new Error(`rig: LLAMA_SERVER=${env.LLAMA_SERVER} is not an executable file`);
    return env.LLAMA_SERVER;
  }
  const onPath = findOnPath('llama-server', env.PATH ?? '');
  if (onPath) return onPath;
  return buildLlamaServer(log, rigCacheDir(env));
}

/** The cmake configure arguments: CPU only, Release, static, no network features, only what the server needs. */
export function cmakeConfigureArgs(srcDir: string, buildDir: string): string[] {
  return [
    '-S', srcDir, '-B', buildDir,
    '-DCMAKE_BUILD_TYPE=Release',
    '-DBUILD_SHARED_LIBS=OFF',
    '-DGGML_NATIVE=ON',
    '-DLLAMA_OPENSSL=OFF',
    '-DLLAMA_BUILD_TESTS=OFF',
    '-DLLAMA_BUILD_EXAMPLES=OFF',
    '-DLLAMA_BUILD_APP=OFF',
    '-DLLAMA_BUILD_SERVER=ON',
    // The web UI is not needed, and its prebuilt assets would be downloaded from a hub.
    '-DLLAMA_BUILD_UI=OFF',
    '-DLLAMA_USE_PREBUILT_UI=OFF',
  ];
}

async function buildLlamaServer(log: Log, cacheDir: string): Promise<string> {
  const source = await ensureLlamaSource(log, cacheDir);
  const root = join(cacheDir, 'llama.cpp');
  // GGML_NATIVE tunes for this CPU, so the key names the machine's arch as well as the commit.
  const key = `${source.commit.slice(0, 12)}-${process.arch}`;
  const binary = join(root, `server-${key}`, 'llama-server');
  if (isExecutable(binary)) return binary;
  return withLock(join(root, `build-${key}.lock`), async () => {
    if (isExecutable(binary)) return binary;
    const buildDir = mkdtempSync(join(root, `build-${key}-`));
    const started = Date.now();
    try {
      const jobs = String(availableParallelism());
      log(`rig: building llama-server from llama.cpp ${source.commit.slice(0, 12)} with ${jobs} jobs (about 5 minutes on 2 cores)`);
      await run('cmake', cmakeConfigureArgs(source.dir, buildDir), { cwd: buildDir });
      const progress = progressPrinter(log, started);
      await run('cmake', ['--build', buildDir, '--target', 'llama-server', '-j', jobs], { cwd: buildDir, onLine: progress });
      const staged = mkdtempSync(join(root, `server-${key}-`));
      copyFileSync(join(buildDir, 'bin', 'llama-server'), join(staged, 'llama-server'));
      accessSync(join(staged, 'llama-server'), constants.X_OK);
      rmSync(join(root, `server-${key}`), { recursive: true, force: true });
      renameSync(staged, join(root, `server-${key}`));
      log(`rig: built llama-server in ${Math.round((Date.now() - started) / 1000)} s`);
      return binary;
    } finally {
      rmSync(buildDir, { recursive: true, force: true });
    }
  }, { onWait: (pid) => log(`rig: waiting for pid ${pid}, which is building llama-server`) });
}

/** Turns cmake's "[ 42%]" lines into a progress line every 10 %, or a live one on a terminal. */
function progressPrinter(log: Log, started: number): (line: string) => void {
  const live = process.stderr.isTTY;
  let shown = -1;
  return (line) => {
    const m = /^\[\s*(\d+)%\]/.exec(line);
    if (!m) return;
    const pct = Number(m[1]);
    const elapsed = Math.round((Date.now() - started) / 1000);
    if (live) {
      process.stderr.write(`\rrig: building llama-server ${String(pct).padStart(3)}% (${elapsed} s)${pct === 100 ? '\n' : ''}`);
    } else if (Math.floor(pct / 10) > Math.floor(shown / 10)) {
      shown = pct;
      log(`rig: building llama-server ${pct}% (${elapsed} s)`);
    }
  };
}

/** Runs a command; resolves to its stdout, rejects with the tail of its output. */
function run(cmd: string, args: string[], options: { cwd: string; onLine?: (line: string) => void }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const tail: string[] = [];
    let partial = '';
    const onData = (chunk: Buffer, isStdout: boolean) => {
      const text = chunk.toString();
      if (isStdout) stdout += text;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        options.onLine?.(line);
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    };
    child.stdout.on('data', (c: Buffer) => onData(c, true));
    child.stderr.on('data', (c: Buffer) => onData(c, false));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`rig: ${cmd} ${args.join(' ')} exited with ${code}:\n${[...tail, partial].join('\n')}`));
    });
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string, pathVar: string): string | null {
  for (const dir of pathVar.split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}
