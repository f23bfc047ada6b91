import { Buffer } from 'node:buffer';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { responseCacheDefaults } from '../../src/config/config.js';
import { runCacheCommand } from '../../src/response-cache/cache-command.js';
import { ResponseStore } from '../../src/response-cache/store.js';

const cliPath = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
let dir = '';

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCacheCommand(args, responseCacheDefaults({ dir }), {
    stdout: (t) => (stdout += typeof t === 'string' ? t : Buffer.from(t).toString()),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

async function seed(): Promise<string[]> {
  const store = await ResponseStore.open({ dir, maxBytes: 1 << 20, indexFlushMs: 10 });
  const meta = { route: '/v1/chat/completions', model: 'm', ttlSeconds: 3600, promptTokens: 3, prefillSeconds: 0.1 };
  await store.put([{ key: 'a'.repeat(64), tier: 'exact' }], { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"one":1}') }, meta);
  await store.put([{ key: `ab${'c'.repeat(62)}`, tier: 'normalized' }], { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"two":2}') }, meta);
  await store.close();
  return ['a'.repeat(64), `ab${'c'.repeat(62)}`];
}

const test = suite('response-cache/cache-command');
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'slotkeeper-cli-cache-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('ls lists entries, newest first; empty says so', async () => {
  assert.is((await run('ls')).stdout, '(empty)\n');
  await seed();
  const { code, stdout } = await run('ls');
  assert.is(code, 0);
  const lines = stdout.trim().split('\n');
  assert.match(lines[0]!, /^KEY\s+TIER\s+ROUTE\s+MODEL\s+BYTES\s+HITS\s+AGE\s+EXPIRES IN$/);
  assert.match(lines[1]!, /^abcccccccccccccc\s+normalized\s+\/v1\/chat\/completions\s+m\s+\d+\s+0\s+\d+s\s+(60m|1h)$/);
  assert.match(lines[2]!, /^aaaaaaaaaaaaaaaa\s+exact/);
});

test('show prints metadata, headers, then the exact body; a unique prefix will do', async () => {
  await seed();
  const { code, stdout } = await run('show', 'aaa');
  assert.is(code, 0);
  const [head, body] = stdout.split('\n\n');
  const meta = JSON.parse(head!) as { key: string; headers: Record<string, string>; promptTokens: number };
  assert.is(meta.key, 'a'.repeat(64));
  assert.equal(meta.headers, { 'content-type': 'application/json' });
  assert.is(meta.promptTokens, 3);
  assert.is(body, '{"one":1}');
  const ambiguous = await run('show', 'a');
  assert.is(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /names 2 entries/);
  assert.is((await run('show', 'ffff')).code, 1);
});

test('rm removes one entry, clear removes all', async () => {
  const [a] = await seed();
  assert.is((await run('rm', a!)).code, 0);
  assert.match((await run('ls')).stdout, /^KEY.*\nabc/);
  const cleared = await run('clear');
  assert.is(cleared.stdout, `removed 1 entry from ${dir}\n`);
  assert.is((await run('ls')).stdout, '(empty)\n');
});

test('usage mistakes exit 2', async () => {
  assert.is((await run()).code, 2);
  assert.is((await run('list')).code, 2);
  assert.is((await run('rm')).code, 2);
  assert.is((await run('ls', 'x')).code, 2);
});

test('slotkeeper cache ls reads responseCache.dir from --config, no upstreams needed', async () => {
  await seed();
  const config = join(dir, 'c.yaml');
  writeFileSync(config, `responseCache:\n  dir: ${JSON.stringify(dir)}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SLOTKEEPER_')));
  const { stdout } = await promisify(execFile)(process.execPath, [cliPath, 'cache', 'ls', '--config', config], { env });
  assert.match(stdout, /aaaaaaaaaaaaaaaa\s+exact/);
});

test.run();
