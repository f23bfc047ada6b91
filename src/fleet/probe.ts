// One probe of one upstream: the HTTP side of the fleet. It reads what llama-server says about
// itself and returns plain data; the Upstream state machine decides what that means.
//
// Shapes, as llama-server (llama.cpp b1-de3ff81, node-llama-cpp 3.22.1) answers them:
//   GET /health     200 {"status":"ok"}; 503 {"error":{"message":"Loading model","type":"unavailable_error","code":503}}
//                   while the model loads (every route answers that 503 then). Public: no API key needed.
//   GET /props      {"total_slots":2,"default_generation_settings":{"n_ctx":4096,...},"is_sleeping":false,
//                    "model_alias":"...",...}; n_ctx here is per slot. Answered while asleep, from a cache.
//   GET /slots      [{"id":0,"n_ctx":4096,"is_processing":false,...},...]; 501 not_supported_error
//                   without --slots. It queues a task: it waits behind a running batch, wakes a
//                   sleeping server and resets its --sleep-idle-seconds timer (server-queue.cpp
//                   task_resets_idle_timer), so the fleet reads it only on discovery.
//   GET /v1/models  {"object":"list","data":[{"id":"tinyA","aliases":["tinyA","tinyB"],"owned_by":"llamacpp",
//                    "created":<now>,"meta":{"n_ctx":4096,...}}],"models":[...]}
//   With --api-key, everything but /health answers 401 without `Authorization: Bearer <key>`.
// llama-swap answers /health with a plain "OK" and has no /props or /slots at its root (404):
// those are optional, /v1/models is not. Multi-model upstreams (llama-swap, llama.cpp's router
// mode) are also asked which models are loaded, and each loaded model's own /props (and /slots on
// discovery) are read: see model-routes.ts for the shapes and why only loaded models are asked.
import { isClosedIdleSocket } from '../proxy/closed-socket.js';
import type { UpstreamKind } from '../kv/slot-actions.js';
import type { ServedModel } from './models.js';
import { isMultiModel, modelUrl, parseRouterCapacity, parseRouterLoaded, parseRunning } from './model-routes.js';

/** What to probe and how. */
export interface ProbeOptions {
  /** Base URL, no trailing slash. */
  url: string;
  /** Sent as `Authorization: Bearer`; null sends none. */
  apiKey: string | null;
  /** Budget for the whole probe (all its requests), ms. */
  timeoutMs: number;
  /** Also GET /slots (skipped anyway when /props says the server sleeps). */
  readSlots: boolean;
  /** Aborts the probe (the fleet closing). */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** How the upstream serves models; 'llama-server' when absent. */
  kind?: UpstreamKind;
  /** Multi-model kinds: whether to read a loaded model's /props and /slots (its slots are not known yet). */
  discoverModel?: (model: string) => boolean;
}

/** What one model's own server said of its slots (multi-model kinds). */
export interface ModelFacts {
  slotIds: number[] | null;
  nCtx: number | null;
}

/** Why a probe failed; `unreachable` and `loading` mean the server process may have restarted. */
export type ProbeFailureKind = 'unreachable' | 'loading' | 'timeout' | 'http' | 'invalid' | 'aborted';

/** A server that answered as a ready one. */
export interface ProbeSuccess {
  ok: true;
  models: ServedModel[];
  /** Slot ids from /slots, else 0..total_slots-1 from /props, else null (not said). */
  slotIds: number[] | null;
  /** Per-slot context from /slots, else /props, else /v1/models meta; null when none says. */
  nCtx: number | null;
  /** /props `is_sleeping`: the model is unloaded and the KV cache gone until the next request. */
  sleeping: boolean;
  /** /props `model_path`: the GGUF the server loaded (servers that agree on it and nCtx can share slot files); null when not said. */
  modelPath?: string | null;
  /** Multi-model kinds: the loaded models (null: the upstream did not say). */
  loaded?: string[] | null;
  /** Multi-model kinds: each loaded model's slots, as its own server said. */
  modelFacts?: Record<string, ModelFacts>;
  /** Multi-model kinds: how many models can be loaded at once, when the upstream says. */
  capacity?: number | null;
}

/** A server that did not answer as a ready one. */
export interface ProbeFailure {
  ok: false;
  kind: ProbeFailureKind;
  error: string;
}

/** The outcome of one probe. Never throws. */
export type ProbeResult = ProbeSuccess | ProbeFailure;

/** Failures found while reading answers, turned into a ProbeFailure at the end. */
class ProbeError extends Error {
  readonly kind: ProbeFailureKind;
  constructor(kind: ProbeFailureKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** Probes one upstream: /health, then /props and /v1/models, then /slots when asked. */
export async function probe(options: ProbeOptions): Promise<ProbeResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const fetchImpl = options.fetch ?? fetch;
  const headers: Record<string, string> = options.apiKey === null ? {} : { authorization: `Bearer ${options.apiKey}` };

  const get = async (path: string, optional: boolean, url = `${options.url}${path}`): Promise<unknown> => {
    // A keep-alive connection the server closed while idle fails with UND_ERR_SOCKET before any
    // byte of the answer: that says nothing of the server, so the GET is sent once more on a
    // new connection (a real failure fails again). Seen once in ~5 runs of messages.real.
    const res = await fetchImpl(url, { headers, signal }).catch((err: unknown) => {
      if (signal.aborted || !isClosedIdleSocket(err)) throw err;
      return fetchImpl(url, { headers, signal });
    });
    const text = await res.text();
    if (optional && (res.status === 404 || res.status === 501)) return undefined;
    if (res.status === 503) throw new ProbeError('loading', `GET ${path} answered 503: ${errorText(text)}`);
    if (!res.ok) throw new ProbeError('http', `GET ${path} answered ${res.status}: ${errorText(text)}`);
    if (path === '/health') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ProbeError('invalid', `GET ${path} answered ${res.status} with a body that is not JSON`);
    }
  };

  try {
    await get('/health', false);
    const [propsBody, modelsBody] = await Promise.all([get('/props', true), get('/v1/models', false)]);
    const props = parseProps(propsBody);
    const models = parseModels(modelsBody);
    const kind = options.kind ?? 'llama-server';
    if (isMultiModel(kind)) {
      // The root's /props and /slots are llama-swap's 404s or the router's own: no slots there.
      const loaded = kind === 'llama-swap' ? parseRunning(await get('/running', true)) : parseRouterLoaded(modelsBody);
      const modelFacts: Record<string, ModelFacts> = {};
      // Only on discovery: a model's slots do not change between its loads, and on llama-swap every
      // /upstream call races with a swap (it would load the model again if it was just unloaded).
      for (const model of loaded ?? []) {
        if (!(options.discoverModel?.(model) ?? true)) continue;
        const facts = await readModelFacts((path, optional) => get(path, optional, modelUrl(kind, options.url, model, path)), signal);
        if (facts !== null) modelFacts[model] = facts;
      }
      return {
        ok: true, models: models.models, slotIds: null, nCtx: null, sleeping: false, loaded, modelFacts,
        capacity: kind === 'router' ? parseRouterCapacity(propsBody) : 1,
      };
    }
    const slots = options.readSlots && !props.sleeping ? parseSlots(await get('/slots', true)) : null;
    return {
      ok: true,
      models: models.models,
      slotIds: slots?.ids ?? props.slotIds,
      nCtx: slots?.nCtx ?? props.nCtx ?? models.nCtx,
      sleeping: props.sleeping,
      ...(props.modelPath !== null ? { modelPath: props.modelPath } : {}),
    };
  } catch (err) {
    if (options.signal?.aborted) return { ok: false, kind: 'aborted', error: 'probe aborted' };
    if (timeout.aborted) return { ok: false, kind: 'timeout', error: `no answer within ${options.timeoutMs} ms` };
    if (err instanceof ProbeError) return { ok: false, kind: err.kind, error: err.message };
    // fetch rejects with a TypeError whose cause names the socket error (ECONNREFUSED...) on Node.
    return { ok: false, kind: 'unreachable', error: describeNetworkError(err) };
  }
}

/**
 * One loaded model's slots, from its own /props and /slots. Null when that model answers as not
 * ready, or its connection is cut (it was unloaded since the loaded set was read: the router or
 * llama-swap closes the socket of a request to a process it stops), or it is still loading: the
 * upstream answered its own routes in this probe and is fine, the model's facts wait for the next
 * one. Only the probe's own timeout or abort (`signal`) fails the probe from here.
 */
async function readModelFacts(get: (path: string, optional: boolean) => Promise<unknown>, signal: AbortSignal): Promise<ModelFacts | null> {
  try {
    const props = parseProps(await get('/props', true));
    if (props.sleeping) return { slotIds: props.slotIds, nCtx: props.nCtx };
    const slots = parseSlots(await get('/slots', true));
    return { slotIds: slots?.ids ?? props.slotIds, nCtx: slots?.nCtx ?? props.nCtx };
  } catch (err) {
    if (signal.aborted) throw err;
    return null;
  }
}

interface PropsFacts {
  slotIds: number[] | null;
  nCtx: number | null;
  sleeping: boolean;
  modelPath: string | null;
}

function parseProps(body: unknown): PropsFacts {
  if (body === undefined) return { slotIds: null, nCtx: null, sleeping: false, modelPath: null };
  if (!isObject(body)) throw new ProbeError('invalid', 'GET /props answered something other than an object');
  const total = body['total_slots'];
  const settings = body['default_generation_settings'];
  return {
    slotIds: isCount(total) ? range(total) : null,
    nCtx: isObject(settings) && isCount(settings['n_ctx']) ? settings['n_ctx'] : null,
    sleeping: body['is_sleeping'] === true,
    modelPath: typeof body['model_path'] === 'string' && body['model_path'] !== '' ? body['model_path'] : null,
  };
}

function parseModels(body: unknown): { models: ServedModel[]; nCtx: number | null } {
  const data = isObject(body) ? body['data'] : undefined;
  if (!Array.isArray(data)) throw new ProbeError('invalid', 'GET /v1/models answered without a data array');
  const models: ServedModel[] = [];
  let nCtx: number | null = null;
  for (const item of data) {
    if (!isObject(item) || typeof item['id'] !== 'string' || item['id'] === '') continue;
    const aliases = Array.isArray(item['aliases']) ? item['aliases'].filter((a): a is string => typeof a === 'string') : [];
    const ownedBy = typeof item['owned_by'] === 'string' ? item['owned_by'] : 'unknown';
    const created = typeof item['created'] === 'number' ? item['created'] : 0;
    models.push({ id: item['id'], aliases, ownedBy, created });
    const meta = item['meta'];
    if (nCtx === null && isObject(meta) && isCount(meta['n_ctx'])) nCtx = meta['n_ctx'];
  }
  if (models.length === 0) throw new ProbeError('invalid', 'GET /v1/models lists no models');
  return { models, nCtx };
}

function parseSlots(body: unknown): { ids: number[]; nCtx: number | null } | null {
  if (body === undefined) return null;
  if (!Array.isArray(body)) throw new ProbeError('invalid', 'GET /slots answered something other than an array');
  const ids: number[] = [];
  let nCtx: number | null = null;
  for (const slot of body) {
    if (!isObject(slot) || !Number.isInteger(slot['id']) || (slot['id'] as number) < 0) continue;
    ids.push(slot['id'] as number);
    if (nCtx === null && isCount(slot['n_ctx'])) nCtx = slot['n_ctx'];
  }
  if (ids.length === 0) throw new ProbeError('invalid', 'GET /slots lists no slots');
  return { ids: [...new Set(ids)].sort((a, b) => a - b), nCtx };
}

/** The `error.message` of a llama-server error body, else the start of the body. */
function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    const error = isObject(body) ? body['error'] : undefined;
    if (isObject(error) && typeof error['message'] === 'string') return error['message'];
  } catch {
    // Not JSON (llama-swap, a proxy's HTML page): the raw text below says what there is to say.
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  const code = isObject(cause) && typeof cause['code'] === 'string' ? cause['code'] : null;
  return code === null ? err.message : `${err.message} (${code})`;
}

/** 0..n-1, the ids llama-server gives its slots. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

/**
 * The models a multi-model upstream has loaded right now (llama-swap's /running, router mode's
 * /v1/models status), or null when it cannot say within `timeoutMs`. Never throws: an unknown
 * loaded set only means no save before a swap.
 */
export async function readLoaded(options: { url: string; apiKey: string | null; kind: UpstreamKind; timeoutMs: number; signal?: AbortSignal; fetch?: typeof fetch }): Promise<string[] | null> {
  if (!isMultiModel(options.kind)) return null;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const headers: Record<string, string> = options.apiKey === null ? {} : { authorization: `Bearer ${options.apiKey}` };
  const path = options.kind === 'llama-swap' ? '/running' : '/v1/models';
  try {
    const res = await (options.fetch ?? fetch)(`${options.url}${path}`, { headers, signal });
    const text = await res.text();
    if (!res.ok) return null;
    const body = JSON.parse(text) as unknown;
    return options.kind === 'llama-swap' ? parseRunning(body) : parseRouterLoaded(body);
  } catch {
    // Unreachable, slow or not JSON: the request's own path will find out and report it.
    return null;
  }
}
