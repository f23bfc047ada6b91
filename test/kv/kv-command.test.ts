// `slotkeeper kv ls | rm`: against a temp slot-save directory whose indexes are built with
// SavedIndex and written by DiskStore, as the gateway writes them. No server needed.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../../src/config/config.js';
import type { KvCommandConfig } from '../../src/config/load.js';
import { DiskStore } from '../../src/kv/disk-store.js';
import { chainHash, entryFileName, indexFileName, modelHash, serverHash } from '../../src/kv/file-name.js';
import { runKvCommand } from '../../src/kv/kv-command.js';
import { type SavedEntry, SavedIndex } from '../../src/kv/saved-index.js';

const cliPath = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const U1 = 'http://127.0.0.1:18080';
const U2 = 'http://127.0.0.1:18081';
const NOW = 1_700_000_000_000;
let dir = '';

const config = (...urls: string[]): KvCommandConfig => ({ upstreams: urls.map((url) => ({ url, slotSaveDir: dir })), kv: withDefaults().kv });

async function run(cfg: KvCommandConfig, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runKvCommand(args, cfg, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, () => NOW);
  return { code, stdout, stderr };
}

/** Writes `n` entries of `url`'s server (file and index entry), the i-th used i hours ago. */
async function seed(url: string, model: string, n: number, first = 0): Promise<SavedEntry[]> {
  const server = serverHash(url);
  const disk = new DiskStore(dir);
  const bytes = await disk.readIndex(server);
  const index = bytes === null ? new SavedIndex(100) : SavedIndex.decode(bytes, 100);
  const made: SavedEntry[] = [];
  for (let i = first; i < first + n; i++) {
    const chain = new Float64Array([i + 1, i + 2]);
    const entry: SavedEntry = {
      file: entryFileName(server, modelHash(model), chainHash(chain)), model, chain, tokens: 1000 + i, bytes: 2048 * (i + 1),
      createdMs: NOW - (i + 2) * 3_600_000, lastUsedMs: NOW - (i + 1) * 3_600_000, hits: i,
    };
    writeFileSync(join(dir, entry.file), Buffer.alloc(entry.bytes));
    index.put(entry);
    made.push(entry);
  }
  await disk.writeIndex(server, index.encode());
  return made;
}

async function indexed(url: string): Promise<string[]> {
  const bytes = await new DiskStore(dir).readIndex(serverHash(url));
  return bytes === null ? [] : SavedIndex.decode(bytes, 100).entries().map((e) => e.file);
}

const test = suite('kv/kv-command');
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'slotkeeper-kv-command-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('ls: one table per upstream, most recently used first, with every column and the totals', async () => {
  const [newer, older] = await seed(U1, 'qwen', 2) as [SavedEntry, SavedEntry];
  const { code, stdout } = await run(config(U1), 'ls');
  assert.is(code, 0, stdout);
  const lines = stdout.trimEnd().split('\n');
  assert.is(lines[0], `${U1} (${dir}): 2 entries, 6.0 KiB`);
  assert.match(lines[1]!, /^ {2}FILE\s+MODEL\s+TOKENS\s+BYTES\s+CREATED\s+LAST USED\s+HITS$/);
  assert.match(lines[2]!, new RegExp(`^  ${newer.file}\\s+qwen\\s+1000\\s+2048\\s+2h ago\\s+60m ago\\s+0$`));
  assert.match(lines[3]!, new RegExp(`^  ${older.file}\\s+qwen\\s+1001\\s+4096\\s+3h ago\\s+2h ago\\s+1$`));
  assert.is(lines[4], 'total: 2 entries, 6.0 KiB');
});

test('ls: two upstreams sharing a directory each show their own entries; unindexed files of ours are counted', async () => {
  await seed(U1, 'm', 1);
  await seed(U2, 'm', 2, 5);
  const orphan = entryFileName(serverHash(U2), modelHash('m'), chainHash(new Float64Array([99])));
  writeFileSync(join(dir, orphan), 'x'.repeat(10));
  writeFileSync(join(dir, 'someone-elses.bin'), 'x'.repeat(10));
  const { stdout } = await run(config(U1, U2), 'ls');
  const sections = stdout.split(/\n(?=http)/);
  assert.is(sections.length, 2, stdout);
  assert.match(sections[0]!, new RegExp(`^${U1} .*: 1 entry,`));
  assert.match(sections[1]!, new RegExp(`^${U2} .*: 2 entries,`));
  assert.match(sections[1]!, /and 1 file of this server no index lists \(10 B;/);
  assert.ok(!stdout.includes('someone-elses'), 'foreign files are not listed');
  assert.match(stdout, /total: 3 entries, /);
});

test('rm FILE: deletes the file and its index entry, and nothing else', async () => {
  const [a, b] = await seed(U1, 'm', 2);
  const [c] = await seed(U2, 'm', 1, 7);
  const { code, stdout } = await run(config(U1, U2), 'rm', a!.file);
  assert.is(code, 0);
  assert.is(stdout, `removed ${a!.file}\n`);
  assert.not.ok(existsSync(join(dir, a!.file)));
  assert.equal(await indexed(U1), [b!.file]);
  assert.equal(await indexed(U2), [c!.file], 'the other server\'s index is untouched');
  assert.ok(existsSync(join(dir, b!.file)) && existsSync(join(dir, c!.file)));
  assert.is(readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 0, 'no temp index left behind');
  assert.is((await run(config(U1, U2), 'rm', a!.file)).code, 1, 'already gone');
});

test('rm refuses foreign names and files of servers the config does not name', async () => {
  writeFileSync(join(dir, 'someone-elses.bin'), 'keep');
  const foreign = await run(config(U1), 'rm', 'someone-elses.bin');
  assert.is(foreign.code, 1);
  assert.match(foreign.stderr, /not a slotkeeper file name/);
  const [other] = await seed(U2, 'm', 1);
  const unnamed = await run(config(U1), 'rm', other!.file);
  assert.is(unnamed.code, 1);
  assert.match(unnamed.stderr, /server this configuration does not name/);
  assert.ok(existsSync(join(dir, 'someone-elses.bin')) && existsSync(join(dir, other!.file)));
  assert.is((await run(config(U1), 'rm', indexFileName(serverHash(U1)))).code, 1, 'an index is not an entry');
});

test('rm all: every file of the configured servers and their index entries; foreign files and other servers stay', async () => {
  await seed(U1, 'm', 3);
  const [theirs] = await seed(U2, 'm', 1, 9);
  const orphan = entryFileName(serverHash(U1), modelHash('m'), chainHash(new Float64Array([99])));
  writeFileSync(join(dir, orphan), 'x');
  writeFileSync(join(dir, 'someone-elses.bin'), 'keep');
  const { code, stdout } = await run(config(U1), 'rm', 'all');
  assert.is(code, 0);
  assert.match(stdout, new RegExp(`^removed 4 files \\(12\\.0 KiB\\) of ${U1} from `));
  assert.equal(await indexed(U1), []);
  assert.equal(readdirSync(dir).sort(), [indexFileName(serverHash(U1)), indexFileName(serverHash(U2)), theirs!.file, 'someone-elses.bin'].sort());
  assert.equal(await indexed(U2), [theirs!.file]);
});

test('usage mistakes exit 2; no upstream with slotSaveDir exits 1', async () => {
  assert.is((await run(config(U1))).code, 2);
  assert.is((await run(config(U1), 'list')).code, 2);
  assert.is((await run(config(U1), 'rm')).code, 2);
  assert.is((await run(config(U1), 'ls', 'x')).code, 2);
  const none = await run({ upstreams: [{ url: U1 }], kv: withDefaults().kv }, 'ls');
  assert.is(none.code, 1);
  assert.match(none.stderr, /slotSaveDir/);
});

test('slotkeeper kv ls reads the upstreams from --config; SLOTKEEPER_UPSTREAMS does not replace them', async () => {
  const [entry] = await seed(U1, 'm', 1);
  const file = join(dir, 'c.yaml');
  writeFileSync(file, `upstreams:\n  - url: ${U1}\n    slotSaveDir: ${JSON.stringify(dir)}\n`);
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SLOTKEEPER_'))), SLOTKEEPER_UPSTREAMS: U2 };
  const { stdout } = await promisify(execFile)(process.execPath, [cliPath, 'kv', 'ls', '--config', file], { env });
  assert.ok(stdout.includes(entry!.file), stdout);
  const bad = await promisify(execFile)(process.execPath, [cliPath, 'kv', 'ls'], { env }).then(() => null, (err: { code: number }) => err);
  assert.is(bad?.code, 1, 'without a config file nothing is visible');
});

test.run();
