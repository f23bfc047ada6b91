// The search for a server's slot-save directory on this host: the command-line flag, the
// candidates a /proc tree gives (a fake one, built in a temp directory), and the probe file.
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEntryFileName } from '../../src/kv/file-name.js';
import { isProbeFileName, locateProbe, probeFileName, saveDirCandidates, slotSavePathArg, writableDir } from '../../src/kv/save-dir-finder.js';

let base = '';

/** A process in the fake /proc: its command line and working directory. */
function proc(pid: number, argv: string[], cwd: string): void {
  const dir = join(base, 'proc', String(pid));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  symlinkSync(cwd, join(dir, 'cwd'));
  symlinkSync('/', join(dir, 'root'));
}

const test = suite('kv/save-dir-finder');
test.before.each(() => {
  base = mkdtempSync(join(tmpdir(), 'slotkeeper-finder-'));
});
test.after.each(() => {
  rmSync(base, { recursive: true, force: true });
});

test('slotSavePathArg reads the flag as llama.cpp does: separate or with =, the last one wins', () => {
  assert.is(slotSavePathArg(['llama-server', '-m', 'x.gguf', '--slot-save-path', '/a']), '/a');
  assert.is(slotSavePathArg(['llama-server', '--slot-save-path=/b']), '/b');
  assert.is(slotSavePathArg(['llama-server', '--slot-save-path', '/a', '--slot-save-path', 'rel']), 'rel');
  assert.is(slotSavePathArg(['llama-server', '--slot-save-path']), null, 'no value');
  assert.is(slotSavePathArg(['llama-server', '--slot-save-path=']), null);
  assert.is(slotSavePathArg(['llama-server', '--port', '8080']), null);
});

test('candidates: every process\'s directory once, relative paths resolved against its working directory', async () => {
  mkdirSync(join(base, 'work', 'slots'), { recursive: true });
  mkdirSync(join(base, 'abs'));
  proc(10, ['llama-server', '--slot-save-path', 'slots'], join(base, 'work'));
  proc(11, ['llama-server', `--slot-save-path=${join(base, 'abs')}`], '/');
  proc(12, ['llama-server', '--slot-save-path', join(base, 'work', 'slots')], '/');
  proc(13, ['llama-server', '--slot-save-path', join(base, 'gone')], '/');
  proc(14, ['sleep', '100'], '/');
  mkdirSync(join(base, 'proc', 'self-not-a-pid'));
  const found = await saveDirCandidates(join(base, 'proc'));
  assert.equal(found.sort(), [join(base, 'abs'), join(base, 'work', 'slots')].sort(), 'the same directory seen twice (and through /proc/<pid>/root) counts once; a missing one not at all');
});

test('candidates: none where /proc cannot be read', async () => {
  assert.equal(await saveDirCandidates(join(base, 'no-proc')), []);
});

test('probe names are unique, valid for llama-server, and never taken for a saved entry', () => {
  const a = probeFileName();
  assert.ok(isProbeFileName(a), a);
  assert.is.not(a, probeFileName());
  assert.is(parseEntryFileName(a), null);
  assert.ok(a.length < 255 && /^[a-z0-9.-]+$/.test(a));
});

test('locateProbe finds the directory holding the probe and deletes it there', async () => {
  const [one, two] = [join(base, 'one'), join(base, 'two')];
  mkdirSync(one);
  mkdirSync(two);
  const name = probeFileName();
  writeFileSync(join(two, name), 'state');
  writeFileSync(join(one, probeFileName()), 'another gateway\'s probe');
  assert.is(await locateProbe(name, [one, two]), two);
  assert.not.ok(existsSync(join(two, name)), 'deleted');
  assert.is(await locateProbe(name, [one, two]), null, 'found nowhere now');
  await locateProbe('slotkeeper-kv-x.bin', [one]).then(() => assert.unreachable('only probe names are looked for and deleted'), (err: Error) => assert.match(err.message, /not a probe file name/));
});

test('writableDir', async () => {
  assert.ok(await writableDir(base));
  assert.not.ok(await writableDir(join(base, 'missing')));
});

test.run();
