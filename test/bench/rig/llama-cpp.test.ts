import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cmakeConfigureArgs, ensureLlamaServer } from '../../../bench/rig/llama-cpp.js';
import { rejects } from '../../helpers/assert.js';

const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-llama-cpp-'));
const fake = join(dir, 'bin', 'llama-server');
const noLog = () => undefined;
const llamaCpp = suite('llama-cpp');
llamaCpp.before(() => {
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'not-executable'), '');
  writeFileSync(fake, '#!/bin/sh\n');
  chmodSync(fake, 0o755);
});
llamaCpp.after(() => rmSync(dir, { recursive: true, force: true }));

llamaCpp('LLAMA_SERVER overrides everything, and must be executable', async () => {
  assert.is(await ensureLlamaServer(noLog, { LLAMA_SERVER: fake, PATH: '' }), fake);
  await rejects(ensureLlamaServer(noLog, { LLAMA_SERVER: join(dir, 'not-executable') }), /not an executable/);
});

llamaCpp('a llama-server on PATH is used before building one', async () => {
  assert.is(await ensureLlamaServer(noLog, { PATH: `/nonexistent:${join(dir, 'bin')}`, SLOTKEEPER_RIG_CACHE: join(dir, 'empty-cache') }), fake);
});

llamaCpp('cmake builds CPU-only Release with nothing downloaded at build time', () => {
  const args = cmakeConfigureArgs('/src', '/build');
  for (const flag of ['-DCMAKE_BUILD_TYPE=Release', '-DLLAMA_OPENSSL=OFF', '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_EXAMPLES=OFF', '-DLLAMA_USE_PREBUILT_UI=OFF']) {
    assert.ok(args.includes(flag), flag);
  }
  assert.equal(args.slice(0, 4), ['-S', '/src', '-B', '/build']);
});

llamaCpp.run();
