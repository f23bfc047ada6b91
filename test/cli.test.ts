import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const cliPath = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Nothing answers on port 9 (discard); the gateway probes it in the background and starts anyway.
const upstream = ['--upstream', 'http://127.0.0.1:9'];

// The CLI reads SLOTKEEPER_* variables: the tests set their own, never inherit the caller's.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SLOTKEEPER_')));

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...cleanEnv, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const finished = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, finished };
}

const run = (args: string[], env?: Record<string, string>) => start(args, env).finished;

// Resolves with the first stdout line matching `pattern`.
function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const match = seen.match(pattern);
      if (match) {
        child.stdout?.off('data', onData);
        child.off('close', onClose);
        resolve(match);
      }
    };
    const onClose = () => reject(new Error(`exited before printing ${pattern}; stdout: ${seen}`));
    child.stdout?.on('data', onData);
    child.once('close', onClose);
  });
}

const cli = suite('cli');

cli('--help prints usage and exits 0', async () => {
  const { code, stdout } = await run(['--help']);
  assert.is(code, 0);
  assert.match(stdout, 'Usage: slotkeeper');
  for (const flag of ['--upstream', '--slot-save-dir', '--host', '--port', '--config', '--default-model', '--queue-order', '--verbose']) {
    assert.match(stdout, flag, flag);
  }
  assert.match(stdout, 'SLOTKEEPER_AUTH_TOKEN');
});

cli('no command is a usage error: exit 2, usage on stderr', async () => {
  const { code, stdout, stderr } = await run([]);
  assert.is(code, 2);
  assert.is(stdout, '');
  assert.match(stderr, 'Usage: slotkeeper');
});

cli('an unknown command is a usage error', async () => {
  const { code, stderr } = await run(['frobnicate']);
  assert.is(code, 2);
  assert.match(stderr, "unknown command 'frobnicate'");
});

cli('an unknown flag is a usage error', async () => {
  const { code, stderr } = await run(['serve', '--bogus']);
  assert.is(code, 2);
  assert.match(stderr, 'Usage: slotkeeper');
});

cli('a bad port is a config error: exit 2, the message without the usage', async () => {
  for (const port of ['abc', '--port=-1', '70000', '1.5']) {
    const args = port.startsWith('--') ? [port] : ['--port', port];
    const { code, stdout, stderr } = await run(['serve', ...upstream, ...args]);
    assert.is(code, 2, port);
    assert.is(stdout, '');
    assert.match(stderr, /^slotkeeper: --port: port must be an integer from 0 to 65535/, port);
    assert.not.match(stderr, 'Usage:', port);
  }
  // parseArgs takes "-1" after --port for a flag: that one is a usage error.
  const { code, stderr } = await run(['serve', ...upstream, '--port', '-1']);
  assert.is(code, 2);
  assert.match(stderr, '--port');
});

cli('--slot-save-dir reaches the loader: one per --upstream', async () => {
  const { code, stderr } = await run(['serve', ...upstream, '--slot-save-dir', '/a', '--slot-save-dir', '/b']);
  assert.is(code, 2);
  assert.match(stderr, /^slotkeeper: --slot-save-dir: give one --slot-save-dir per --upstream/);
});

cli('serve without an upstream exits 2 and says how to give one', async () => {
  const { code, stderr } = await run(['serve']);
  assert.is(code, 2);
  assert.match(stderr, /^slotkeeper: upstreams: at least one upstream is required/);
  assert.match(stderr, '--upstream URL');
});

cli('a non-loopback host without a token exits 2; with SLOTKEEPER_AUTH_TOKEN it is allowed', async () => {
  const { code, stderr } = await run(['serve', ...upstream, '--host', '0.0.0.0']);
  assert.is(code, 2);
  assert.match(stderr, /^slotkeeper: --host: authToken is required when host is "0.0.0.0"/);
  const { child, finished } = start(['serve', ...upstream, '--host', '0.0.0.0', '--port', '0'], { SLOTKEEPER_AUTH_TOKEN: 't' });
  try {
    await waitForLine(child, /listening on /);
    child.kill('SIGTERM');
    assert.is((await finished).code, 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

cli('a bad config file exits 2 naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-cli-'));
  try {
    const file = join(dir, 'slotkeeper.yaml');
    writeFileSync(file, 'limits:\n  queueLength: x\n');
    const { code, stderr } = await run(['serve', '--config', file]);
    assert.is(code, 2);
    assert.is(stderr, `slotkeeper: ${file}: limits.queueLength must be a positive integer, got "x"\n`);
    const fromEnv = await run(['serve'], { SLOTKEEPER_CONFIG: file });
    assert.is(fromEnv.stderr, stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

cli('serve answers /health and exits 0 on SIGTERM', async () => {
  const { child, finished } = start(['serve', ...upstream, '--port', '0', '--host', '127.0.0.1']);
  try {
    const [, url] = await waitForLine(child, /listening on (http:\/\/\S+)\n/);
    const res = await fetch(`${url}/health`);
    assert.equal(await res.json(), { status: 'ok' });
    child.kill('SIGTERM');
    const { code, stdout } = await finished;
    assert.is(code, 0);
    assert.match(stdout, 'SIGTERM, shutting down');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

cli.run();
