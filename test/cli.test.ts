import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const cliPath = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const finished = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, finished };
}

const run = (args: string[]) => start(args).finished;

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
  assert.match(stdout, '--port');
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

cli('a bad port is a usage error', async () => {
  for (const port of ['abc', '-1', '70000', '1.5']) {
    const { code, stderr } = await run(['serve', '--port', port]);
    assert.is(code, 2, port);
    assert.match(stderr, '--port', port);
  }
});

cli('serve answers /health and exits 0 on SIGTERM', async () => {
  const { child, finished } = start(['serve', '--port', '0', '--host', '127.0.0.1']);
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
