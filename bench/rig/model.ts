// Writes llama-architecture GGUF models with seeded random F16 weights and a real tokenizer.
// Random weights talk nonsense, but prefill costs what a real model of that shape costs and
// slot save/restore moves real KV, which is all a cache gateway needs to be measured against.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GgmlType, GgufType, type GgufValue, type TensorSpec, readGgufHeader, writeGguf } from './gguf.js';
import { ensureLlamaSource, type Log } from './llama-cpp.js';
import { withLock } from './lock.js';
import { rigCacheDir } from './paths.js';

/** The shape of a generated model. */
export interface ModelParams {
  /** Hidden size (n_embd). */
  embedding: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** FFN hidden size. */
  ffn: number;
  /** Trained context length written into the file (the server's -c may use less). */
  context: number;
  /** Which of llama.cpp's models/ggml-vocab-<name>.gguf supplies the tokenizer. */
  vocab: string;
  seed: number;
}

/** Named shapes. `tiny` is for fast tests; `bench` has a prefill cost worth caching (~12 KB of KV per token). */
export const PRESETS: Record<string, ModelParams> = {
  tiny: { embedding: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, context: 32768, vocab: 'llama-spm', seed: 1 },
  bench: { embedding: 768, layers: 12, heads: 12, kvHeads: 4, ffn: 2048, context: 32768, vocab: 'llama-spm', seed: 1 },
};

/**
 * A ChatML-like template: every role in its own block, tool definitions and tool calls as
 * JSON. Its markers are plain text to the llama-spm vocabulary, which is fine: the point is a
 * deterministic prompt layout that llama-server renders with --jinja.
 */
export const CHAT_TEMPLATE = [
  // No whitespace-trimming tags: the pieces are joined with nothing between them.
  '{% if tools %}<|system|>\nTools:\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}<|end|>\n{% endif %}',
  '{% for message in messages %}<|{{ message.role }}|>\n',
  '{% if message.content is string %}{{ message.content }}',
  '{% elif message.content %}{% for part in message.content %}{% if part.type == "text" %}{{ part.text }}{% endif %}{% endfor %}{% endif %}',
  // Chat templates run with trim_blocks, which drops a newline right after a block tag.
  '{% if message.tool_calls %}{% for call in message.tool_calls %}{{ "\\n" }}<|tool_call|>{{ call.function | tojson }}{% endfor %}{% endif %}',
  '<|end|>\n{% endfor %}',
  '{% if add_generation_prompt %}<|assistant|>\n{% endif %}',
].join('');

/** Bumped when the writer's output changes for the same parameters, so caches are not reused stale. */
const WRITER_VERSION = 1;

/** KV cache bytes per token of a model with these params (F16 K and V in every layer). */
export function kvBytesPerToken(p: ModelParams): number {
  return p.layers * 2 * (p.embedding / p.heads) * p.kvHeads * 2;
}

/** Resolves a preset name to its params, with a clear error for unknown names. */
export function presetParams(name: string): ModelParams {
  const params = PRESETS[name];
  if (!params) throw new Error(`rig: unknown model preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return params;
}

/** Returns the path of the model for a preset or params, writing it on first use. */
export async function ensureModel(preset: string | ModelParams, log: Log, cacheDir = rigCacheDir()): Promise<string> {
  const params = typeof preset === 'string' ? presetParams(preset) : preset;
  const name = typeof preset === 'string' ? preset : 'custom';
  const digest = createHash('sha256')
    .update(JSON.stringify({ params, template: CHAT_TEMPLATE, WRITER_VERSION }))
    .digest('hex').slice(0, 12);
  const dir = join(cacheDir, 'models');
  const path = join(dir, `${name}-${digest}.gguf`);
  if (existsSync(path)) return path;
  const source = await ensureLlamaSource(log, cacheDir);
  mkdirSync(dir, { recursive: true });
  return withLock(`${path}.lock`, async () => {
    if (existsSync(path)) return path;
    const started = Date.now();
    const vocab = readFileSync(join(source.dir, 'models', `ggml-vocab-${params.vocab}.gguf`));
    writeModel(path, params, readGgufHeader(vocab).kv, `slotkeeper-${name}`);
    log(`rig: wrote model ${path} in ${Date.now() - started} ms`);
    return path;
  }, { onWait: (pid) => log(`rig: waiting for pid ${pid}, which is writing ${path}`) });
}

/** Writes a model file from params and the metadata of a vocab GGUF (its tokenizer.* keys are copied). */
export function writeModel(path: string, p: ModelParams, vocabKv: Map<string, GgufValue>, name: string): void {
  if (p.embedding % p.heads !== 0 || p.heads % p.kvHeads !== 0) {
    throw new Error('rig: embedding must divide by heads, and heads by kvHeads');
  }
  const tokens = vocabKv.get('tokenizer.ggml.tokens');
  if (!tokens || !Array.isArray(tokens.value)) throw new Error('rig: the vocab file has no tokenizer.ggml.tokens');
  const nVocab = tokens.value.length;
  const headDim = p.embedding / p.heads;
  const kvDim = headDim * p.kvHeads;

  const u32 = (value: number): GgufValue => ({ type: GgufType.UINT32, value });
  const f32 = (value: number): GgufValue => ({ type: GgufType.FLOAT32, value });
  const str = (value: string): GgufValue => ({ type: GgufType.STRING, value });
  const kv = new Map<string, GgufValue>([
    ['general.architecture', str('llama')],
    ['general.name', str(name)],
    ['general.file_type', u32(1)], // MOSTLY_F16
    ['llama.vocab_size', u32(nVocab)],
    ['llama.context_length', u32(p.context)],
    ['llama.embedding_length', u32(p.embedding)],
    ['llama.block_count', u32(p.layers)],
    ['llama.feed_forward_length', u32(p.ffn)],
    ['llama.attention.head_count', u32(p.heads)],
    ['llama.attention.head_count_kv', u32(p.kvHeads)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
  ]);
  for (const [key, value] of vocabKv) if (key.startsWith('tokenizer.')) kv.set(key, value);
  kv.set('tokenizer.chat_template', str(CHAT_TEMPLATE));

  // ggml dims are [input, output]; token_embd is [n_embd, n_vocab]. No output.weight: llama.cpp
  // ties it to token_embd, which keeps the file small.
  const tensors: TensorSpec[] = [
    randomF16('token_embd.weight', [p.embedding, nVocab], p.seed, 1),
    ones('output_norm.weight', p.embedding),
  ];
  for (let i = 0; i < p.layers; i++) {
    const blk = `blk.${i}`;
    tensors.push(
      ones(`${blk}.attn_norm.weight`, p.embedding),
      randomF16(`${blk}.attn_q.weight`, [p.embedding, p.embedding], p.seed),
      randomF16(`${blk}.attn_k.weight`, [p.embedding, kvDim], p.seed),
      randomF16(`${blk}.attn_v.weight`, [p.embedding, kvDim], p.seed),
      randomF16(`${blk}.attn_output.weight`, [p.embedding, p.embedding], p.seed),
      ones(`${blk}.ffn_norm.weight`, p.embedding),
      randomF16(`${blk}.ffn_gate.weight`, [p.embedding, p.ffn], p.seed),
      randomF16(`${blk}.ffn_up.weight`, [p.embedding, p.ffn], p.seed),
      randomF16(`${blk}.ffn_down.weight`, [p.ffn, p.embedding], p.seed),
    );
  }
  writeGguf(path, kv, tensors);
}

function ones(name: string, n: number): TensorSpec {
  return {
    name, dims: [n], type: GgmlType.F32,
    fill: (out) => new Float32Array(out.buffer, out.byteOffset, n).fill(1),
  };
}

/**
 * Uniform random F16 weights. Each tensor's stream is seeded from the model seed and its name,
 * so the bytes do not depend on write order. Values come from a 65536-entry table of F16 bit
 * patterns (one table lookup per element) since converting 100M floats one by one is slow.
 * The default range gives each output a variance near 1 (uniform with std 1/sqrt(fan_in)).
 */
function randomF16(name: string, dims: [number, number], seed: number, range = Math.sqrt(3 / dims[0])): TensorSpec {
  return {
    name, dims, type: GgmlType.F16,
    fill: (out) => {
      const table = f16Table(range);
      // Little-endian host assumed, as GGUF is little-endian.
      const values = new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2);
      const next = mulberry32(seed ^ hashString(name));
      for (let i = 0; i < values.length; i += 2) {
        const r = next();
        values[i] = table[r & 0xffff]!;
        if (i + 1 < values.length) values[i + 1] = table[r >>> 16]!;
      }
    },
  };
}

const tables = new Map<number, Uint16Array>();
function f16Table(range: number): Uint16Array {
  let table = tables.get(range);
  if (!table) {
    table = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = toF16(range * ((2 * i + 1) / 65536 - 1));
    tables.set(range, table);
  }
  return table;
}

/** IEEE 754 half-precision bits of a float (round to nearest even; no NaN or infinity inputs expected). */
export function toF16(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  let mant = bits & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const half = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Rounding may carry into the exponent, which is the correct result.
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

// Its own generator rather than bench/generators' Rng: this loop wants raw 32-bit draws, 100M
// times, and any change here changes every model's weights (and the baselines measured on them).
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
