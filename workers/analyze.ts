// Worker task: decode and parse a request body off the main thread, and report everything the
// gateway routes on: the facts it reads (model, stream, token budget, the client's slot wishes),
// the chained block hashes of the canonical prompt, and the bytes to forward. It never throws
// across the boundary: failures come back as data.

import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { anthropicToOpenAI } from '../src/dialects/anthropic-to-openai.js';
import { blockHashes } from './block-hash.js';
import { type CacheKeyMaterial, type CacheKeys, type CacheKeySetup, createCacheKeys } from './cache-keys.js';
import { canonicalPrompt, messageStarts } from './canonical.js';
import { forwardBody } from './forward-body.js';
import { jsonShapeProblem } from './json-shape.js';
import { createNormalizer, defaultNormalizeConfig, type NormalizeConfig, type Normalizer, type RuleApplied } from './normalize.js';

/**
 * The endpoint a body was sent to: OpenAI chat or completions, Anthropic messages (translated
 * to an OpenAI chat body here) or Anthropic count_tokens (normalized, forwarded as Anthropic).
 */
export type Route = 'chat' | 'completions' | 'messages' | 'count_tokens';

/** What the pool hands every worker at start (piscina's workerData). */
export interface WorkerSetup {
  normalize: NormalizeConfig;
  /** The response cache's key settings; absent: the cache is off and no task asks for keys. */
  cacheKeys?: CacheKeySetup;
}

/** The task: the raw request body, transferred (not copied) from the main thread. */
export interface AnalyzeTask {
  body: ArrayBuffer;
  /** Which endpoint the body was sent to; decides where the prompt is. */
  route: Route;
  /** Block size for the chained hashes, in UTF-16 code units; a positive integer. */
  blockChars: number;
  /** Return the first 200 bytes before and after each normalization (verbose logging). */
  samples?: boolean;
  /** Compute the response cache's key material (`cacheKeys` in the answer). */
  cacheKeys?: boolean;
}

/** What the gateway learns from a request body. */
export interface AnalyzeSuccess {
  ok: true;
  /** The requested model, or null when absent or not a string. */
  model: string | null;
  /** True only when the body says `"stream": true`. */
  stream: boolean;
  /** Body size in bytes. */
  bytes: number;
  /** Chained hashes of the canonical prompt's FULL blocks of blockChars UTF-16 code units: hashes[i] covers blocks 0..i. */
  hashes: Float64Array;
  /** Length of the canonical prompt in UTF-16 code units. */
  promptChars: number;
  /** Hash of the whole canonical prompt, partial last block included (exact-repeat detection). */
  fullHash: number;
  /** (offset, hash of the prompt before it) at each message start: block-hash.ts BlockHashes.ends. */
  ends: Float64Array;
  /** The bytes to forward upstream; the main thread writes forward[0, insertAt) + `"id_slot":N,"cache_prompt":<cachePrompt>` + (emptyObject ? '' : ',') + forward[insertAt, end). */
  forward: ArrayBuffer;
  /** Byte offset just after the top-level '{'. */
  insertAt: number;
  /** The (forwarded) object has no keys. */
  emptyObject: boolean;
  /** The client's own `cache_prompt` if it is a boolean, else true. */
  cachePrompt: boolean;
  /** The client's own `id_slot` if a non-negative integer, else null. */
  clientSlot: number | null;
  /** max_completion_tokens ?? max_tokens ?? n_predict, when that is a positive integer. */
  maxTokens: number | null;
  /** What each normalization rule that fired did. */
  normalized: RuleApplied[];
  /** The response cache's key material, when the task asked for it. */
  cacheKeys: CacheKeyMaterial | null;
}

/** A body the gateway cannot use; `code` is an ErrorCode from src/errors.ts. */
export interface AnalyzeFailure {
  ok: false;
  code: 'invalid_json' | 'invalid_request' | 'internal_error';
  message: string;
}

/** The worker's answer. */
export type AnalyzeResult = AnalyzeSuccess | AnalyzeFailure;

// Compiled once per worker from the config the pool was built with; on the main thread (inline
// analysis, tests) piscina's workerData is undefined and the defaults apply.
const setup = workerData as WorkerSetup | undefined;
const workerNormalizer = createNormalizer(setup?.normalize ?? defaultNormalizeConfig);
const workerCacheKeys = createCacheKeys(setup?.cacheKeys ?? { stripRules: [], suffixMessages: 0 });

// fatal: JSON text must be UTF-8 (RFC 8259 §8.1); silently substituting U+FFFD would change
// the prompt the client sent. The decoder also drops a leading byte order mark.
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The piscina task: analyzes a body and hands `forward` and `hashes` back by transfer. */
export default function analyze(task: AnalyzeTask): AnalyzeFailure | ReturnType<typeof move> {
  const result = analyzeRequest(task);
  if (!result.ok) return result;
  // piscina clones a worker's result unless it is wrapped by move(); a move()d object that is
  // nested in another is cloned too, so the whole result is the Transferable: piscina posts
  // [valueSymbol] with [transferableSymbol] as the transfer list. The body buffer goes back to
  // the main thread as it came, without a copy.
  return move({
    [transferableSymbol]: [result.forward, result.hashes.buffer, result.ends.buffer],
    [valueSymbol]: result,
  });
}

/** Analyzes a body in the calling thread and returns plain data. */
export function analyzeRequest(task: AnalyzeTask, normalizer: Normalizer = workerNormalizer, keysOf: CacheKeys = workerCacheKeys): AnalyzeResult {
  try {
    const bytes = task.body.byteLength;
    let text: string;
    try {
      text = decoder.decode(task.body);
    } catch {
      return { ok: false, code: 'invalid_json', message: 'request body is not valid UTF-8' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return { ok: false, code: 'invalid_json', message: `request body is not valid JSON: ${messageOf(err)}` };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, code: 'invalid_request', message: 'request body must be a JSON object' };
    }
    const problem = jsonShapeProblem(parsed);
    if (problem !== null) return { ok: false, code: 'invalid_json', message: problem };
    const client = parsed as Record<string, unknown>;
    // Before anything reads the body: what is hashed and read must be what is forwarded.
    const normalized = normalizer.normalize(client, task.route, task.samples === true);
    // Hashed now: forwardBody may hand the raw buffer back, and translation makes a new body.
    const cacheKeys = task.cacheKeys === true ? keysOf(task.body, client, task.route !== 'count_tokens') : null;
    let body = client;
    let changed = normalized.length > 0;
    if (task.route === 'messages') {
      const translated = translateMessages(client);
      if (typeof translated === 'string') return { ok: false, code: 'invalid_request', message: translated };
      body = translated;
      changed = true;
    }
    const { model, stream, id_slot: idSlot, cache_prompt: cachePrompt } = body;
    let hashes: Float64Array = new Float64Array(0);
    let ends: Float64Array = new Float64Array(0);
    let fullHash = 0;
    let promptChars = 0;
    // count_tokens runs no prompt: nothing to route on, only the normalized body to forward.
    if (task.route !== 'count_tokens') {
      const prompt = canonicalPrompt(body, task.route === 'completions' ? 'completions' : 'chat');
      if (!prompt.ok) return { ok: false, code: 'invalid_request', message: prompt.message };
      ({ hashes, fullHash, ends } = blockHashes(prompt.text, task.blockChars, messageStarts(prompt.text)));
      promptChars = prompt.text.length;
    }
    const budget = body.max_completion_tokens ?? body.max_tokens ?? body.n_predict;
    // Reads id_slot and cache_prompt above before forwardBody deletes them from `body`.
    const { forward, insertAt, emptyObject } = forwardBody(task.body, body, changed);
    return {
      ok: true,
      model: typeof model === 'string' ? model : null,
      stream: stream === true,
      bytes,
      hashes,
      promptChars,
      fullHash,
      ends,
      forward,
      insertAt,
      emptyObject,
      cachePrompt: typeof cachePrompt === 'boolean' ? cachePrompt : true,
      clientSlot: isNonNegativeInteger(idSlot) ? idSlot : null,
      maxTokens: isNonNegativeInteger(budget) && budget > 0 ? budget : null,
      normalized,
      cacheKeys,
    };
  } catch (err) {
    // A throw would reach the main side as an Error class piscina re-creates; keep the contract.
    return { ok: false, code: 'internal_error', message: messageOf(err) };
  }
}

/**
 * The OpenAI chat body llama-server's own /v1/messages would build, plus what the gateway needs
 * to translate the answer back: timings on every chunk (message_start carries the prompt's token
 * counts, known after the first token) and the stop word (Anthropic's `stop_sequence`), which
 * only llama-server's `__verbose` reports. Neither changes what is generated. A string is an error.
 */
function translateMessages(body: Record<string, unknown>): Record<string, unknown> | string {
  let chat: Record<string, unknown>;
  try {
    chat = anthropicToOpenAI(body);
  } catch (err) {
    return messageOf(err);
  }
  // llama-server names the answer's model itself; `model` stays for routing (llama-swap reads it).
  if (typeof body.model === 'string') chat.model = body.model;
  chat.timings_per_token = true;
  chat.verbose = true;
  chat.response_fields = ['stopping_word'];
  return chat;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
