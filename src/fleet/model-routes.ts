// Where a multi-model upstream answers for one model, and how it says which models are loaded:
// pure URL building and parsing, so the shapes are tested without a server.
//
// llama-swap (mostlygeek/llama-swap, proxy/proxymanager.go):
//   GET /running                    {"running":[{"model":"m1","state":"ready","cmd":...,"proxy":...,"ttl":0,
//                                   "name":"","description":""}]}: only processes in state ready are listed.
//   ANY /upstream/{model}/{path}    forwarded to that model's server as /{path}. It STARTS the model
//                                   (swapProcessGroup) when it is not running: never touch a model that
//                                   is not loaded through it, or a probe becomes a swap.
// llama.cpp's router mode (llama-server --models-dir; tools/server/server-models.cpp, de3ff815ea7d):
//   GET /v1/models                  data[].status.value: "loaded", "loading", "unloaded", ...
//   GET /props                      the router's own: {"role":"router","max_instances":4,...}
//   GET /props?model=m, /slots?model=m  that model's server; `autoload=false` answers 400 "model is
//                                   not loaded" instead of loading it.
import type { UpstreamKind } from '../kv/slot-actions.js';

/** Kinds where one base URL serves several models, each with its own server and slots. */
export type MultiModelKind = Exclude<UpstreamKind, 'llama-server'>;

/** Whether slots of `kind` belong to a model rather than to the upstream. */
export function isMultiModel(kind: UpstreamKind): kind is MultiModelKind {
  return kind !== 'llama-server';
}

/**
 * The URL of a GET `path` (`/props`, `/slots`) on `model`'s own server behind `base`. Never
 * loads the model in router mode (`autoload=false`); llama-swap has no such switch, so callers
 * ask only about models they know are running.
 */
export function modelUrl(kind: MultiModelKind, base: string, model: string, path: string): string {
  const m = encodeURIComponent(model);
  return kind === 'llama-swap' ? `${base}/upstream/${m}${path}` : `${base}${path}?model=${m}&autoload=false`;
}

/** The models llama-swap's GET /running lists as ready; null when the body is not that shape. */
export function parseRunning(body: unknown): string[] | null {
  const running = isObject(body) ? body['running'] : undefined;
  if (!Array.isArray(running)) return null;
  const out: string[] = [];
  for (const p of running) {
    if (isObject(p) && typeof p['model'] === 'string' && (p['state'] === undefined || p['state'] === 'ready')) out.push(p['model']);
  }
  return out;
}

/** The models a router-mode /v1/models says are loaded; null when it reports no status at all. */
export function parseRouterLoaded(body: unknown): string[] | null {
  const data = isObject(body) ? body['data'] : undefined;
  if (!Array.isArray(data)) return null;
  let any = false;
  const out: string[] = [];
  for (const m of data) {
    if (!isObject(m) || typeof m['id'] !== 'string' || !isObject(m['status'])) continue;
    any = true;
    if (m['status']['value'] === 'loaded') out.push(m['id']);
  }
  return any ? out : null;
}

/** How many models the router keeps loaded (`max_instances` of its /props; 0: no limit), or null. */
export function parseRouterCapacity(props: unknown): number | null {
  if (!isObject(props)) return null;
  const n = props['max_instances'];
  return Number.isInteger(n) && (n as number) >= 0 ? n as number : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
