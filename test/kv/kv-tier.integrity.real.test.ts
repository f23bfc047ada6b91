// A damaged slot-save file never poisons a slot, on a REAL llama-server: a saved file gets bytes
// flipped or replaced at several offsets after its content hash was recorded; llama-server would
// load most of those without complaint and answer from garbage KV whose tokens still match. Each
// answer through the gateway must equal llama-server's own answer to the same prompt prefilled
// from scratch (temperature 0), the file must be gone, and the metric must count it.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiskStore } from '../../src/kv/disk-store.js';
import { serverHash } from '../../src/kv/file-name.js';
import { SavedIndex } from '../../src/kv/saved-index.js';
import { diskTierGateway, withOneSlotServer } from '../helpers/disk-tier.js';
import { complete, postJson, words } from '../helpers/llama.js';
import { metric } from '../helpers/metrics.js';

/** Resolves once `check` holds; the hash is written to the index in the background after a save. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The index's entries with a recorded content hash, and whether every entry has one. */
async function hashedEntries(dir: string, url: string): Promise<{ files: string[]; all: boolean }> {
  const bytes = await new DiskStore(dir).readIndex(serverHash(url));
  const entries = bytes === null ? [] : SavedIndex.decode(bytes, 100).entries();
  const files = entries.filter((e) => e.sha256 !== undefined).map((e) => e.file);
  return { files, all: files.length === entries.length };
}

const hashed = async (dir: string, url: string) => (await hashedEntries(dir, url)).files;

/**
 * Eight tokens at temperature 0 and their top-3 log-probabilities, as JSON: the tiny model's
 * text often survives damaged KV (" then then ..."), its probabilities never do (NaN, or off in
 * the second digit, in every case below without the check).
 */
async function answer(url: string, prompt: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await postJson<{ choices: { text: string; logprobs?: unknown }[] }>(`${url}/v1/completions`, { prompt, max_tokens: 8, temperature: 0, logprobs: 3, ...extra });
  return JSON.stringify({ text: r.choices[0]!.text, logprobs: r.choices[0]!.logprobs });
}

/** Damages `bytes` in place: 4 KiB of random bytes, or one flipped byte, at a fraction of the length. */
const damages: { name: string; apply: (bytes: Buffer) => void }[] = [
  { name: '4 KiB of random bytes at 70 %', apply: (b) => randomBytes(4096).copy(b, Math.floor(b.length * 0.7)) },
  { name: 'one byte flipped at 50 %', apply: (b) => { const i = Math.floor(b.length * 0.5); b[i] = b[i]! ^ 0xff; } },
  { name: '64 bytes of 0x1b at 95 %', apply: (b) => b.fill(0x1b, Math.floor(b.length * 0.95), Math.floor(b.length * 0.95) + 64) },
  { name: '256 zero bytes at 20 %', apply: (b) => b.fill(0, Math.floor(b.length * 0.2), Math.floor(b.length * 0.2) + 256) },
];

const test = suite('kv/kv-tier integrity on llama-server');

test('bytes flipped or replaced in a saved file: no restore, the direct answer, the file deleted and counted', () => withOneSlotServer(async (server, dir) => {
  const gateway = await diskTierGateway(server, { dir });
  try {
    for (const [i, damage] of damages.entries()) {
      const conversation = words(`conv${i}x`, 150);
      await complete(gateway, conversation);
      // What the slot held before (the last round's prompt) may have been saved meanwhile.
      await until(async () => (await hashedEntries(dir, server.url)).all, 'earlier hashes');
      const before = new Set(await hashed(dir, server.url));
      // Another conversation takes the one slot: this one is saved, then hashed.
      await complete(gateway, words(`other${i}y`, 150));
      let file: string | undefined;
      await until(async () => (file = (await hashed(dir, server.url)).find((f) => !before.has(f))) !== undefined, 'the content hash');
      const bytes = readFileSync(join(dir, file!));
      damage.apply(bytes);
      writeFileSync(join(dir, file!), bytes);
      const prompt = `${conversation} and then`;
      const through = await answer(gateway.url, prompt);
      const direct = await answer(server.url, prompt, { cache_prompt: false });
      assert.is(through, direct, `${damage.name}: the gateway's answer is llama-server's own`);
      assert.not.ok(existsSync(join(dir, file!)), `${damage.name}: the damaged file is deleted`);
      assert.is(await metric(gateway, 'slotkeeper_kv_damaged_files_total', { check: 'hash' }), i + 1, damage.name);
    }
    assert.is(await metric(gateway, 'slotkeeper_kv_restores_total'), 0, 'no damaged file was restored');
  } finally {
    await gateway.close();
  }
}));

test('an intact file is still restored, after its hash is checked', () => withOneSlotServer(async (server, dir) => {
  const gateway = await diskTierGateway(server, { dir });
  try {
    const conversation = words('intact', 150);
    const first = await complete(gateway, conversation);
    await complete(gateway, words('between', 150));
    await until(async () => (await hashed(dir, server.url)).length > 0, 'the content hash');
    const again = await complete(gateway, `${conversation} and then`);
    assert.ok(again.restored !== null && again.timings.cache_n >= first.timings.prompt_n - 8, `reused ${again.timings.cache_n}`);
    assert.is(await metric(gateway, 'slotkeeper_kv_damaged_files_total'), 0);
  } finally {
    await gateway.close();
  }
}));

test.run();
