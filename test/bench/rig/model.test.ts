import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GgmlType, GgufType, type GgufValue, readGgufHeader } from '../../../bench/rig/gguf.js';
import { PRESETS, type ModelParams, kvBytesPerToken, presetParams, toF16, writeModel } from '../../../bench/rig/model.js';

const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-model-'));
const vocab = new Map<string, GgufValue>([
  ['general.name', { type: GgufType.STRING, value: 'not copied' }],
  ['tokenizer.ggml.model', { type: GgufType.STRING, value: 'llama' }],
  ['tokenizer.ggml.tokens', { type: GgufType.ARRAY, itemType: GgufType.STRING, value: ['<unk>', '<s>', '</s>', 'a', 'b', 'c', 'd', 'e'] }],
  ['tokenizer.ggml.bos_token_id', { type: GgufType.UINT32, value: 1 }],
]);
const small: ModelParams = { embedding: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 24, context: 256, vocab: 'test', seed: 7 };
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

const model = suite('model');
model.after(() => rmSync(dir, { recursive: true, force: true }));

model('converts floats to IEEE half precision bits', () => {
  assert.is(toF16(0), 0x0000);
  assert.is(toF16(1), 0x3c00);
  assert.is(toF16(-2), 0xc000);
  assert.is(toF16(0.1), 0x2e66);
  assert.is(toF16(65504), 0x7bff);
  assert.is(toF16(1e6), 0x7c00);
  assert.is(toF16(2 ** -24), 0x0001); // smallest subnormal
  assert.is(toF16(2 ** -14), 0x0400); // smallest normal
});

model('writes a llama model: shapes, hyperparameters, the copied tokenizer and the chat template', () => {
  const path = join(dir, 'small.gguf');
  writeModel(path, small, vocab, 'small');
  const header = readGgufHeader(readFileSync(path));
  const value = (key: string) => header.kv.get(key)?.value;
  assert.is(value('general.architecture'), 'llama');
  assert.is(value('general.name'), 'small');
  assert.is(value('llama.embedding_length'), 16);
  assert.is(value('llama.attention.head_count_kv'), 2);
  assert.is(value('llama.rope.dimension_count'), 4);
  assert.is(value('llama.vocab_size'), 8);
  assert.equal(header.kv.get('tokenizer.ggml.tokens'), vocab.get('tokenizer.ggml.tokens'));
  assert.is(value('tokenizer.ggml.bos_token_id'), 1);
  assert.match(String(value('tokenizer.chat_template')), 'add_generation_prompt');
  const dims = Object.fromEntries(header.tensors.map((t) => [t.name, t.dims]));
  assert.equal(dims['token_embd.weight'], [16, 8]);
  assert.equal(dims['blk.1.attn_k.weight'], [16, 8]); // head_dim 4 x 2 KV heads
  assert.equal(dims['blk.0.ffn_down.weight'], [24, 16]);
  assert.is(header.tensors.length, 2 + 9 * small.layers);
  assert.ok(header.tensors.filter((t) => t.name.endsWith('norm.weight')).every((t) => t.type === GgmlType.F32));
});

model('is deterministic for a seed, and the seed matters', () => {
  writeModel(join(dir, 'a.gguf'), small, vocab, 'x');
  writeModel(join(dir, 'b.gguf'), small, vocab, 'x');
  writeModel(join(dir, 'c.gguf'), { ...small, seed: 8 }, vocab, 'x');
  assert.is(sha(join(dir, 'a.gguf')), sha(join(dir, 'b.gguf')));
  assert.is.not(sha(join(dir, 'a.gguf')), sha(join(dir, 'c.gguf')));
});

model('bench preset has the documented shape: ~12 KB of KV per token', () => {
  assert.equal(PRESETS.bench, { ...PRESETS.bench!, embedding: 768, layers: 12, heads: 12, kvHeads: 4, ffn: 2048 });
  assert.is(kvBytesPerToken(PRESETS.bench!), 12 * 2 * 64 * 4 * 2);
  assert.throws(() => presetParams('huge'), /unknown model preset 'huge'/);
  assert.throws(() => writeModel(join(dir, 'bad.gguf'), { ...small, heads: 5 }, vocab, 'bad'), /divide/);
});

model.run();
