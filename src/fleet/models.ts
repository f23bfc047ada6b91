// Which upstreams serve a requested model, and the model list the gateway shows: pure functions
// over a snapshot of the fleet, so every rule is tested without a server.
//
// Name lookup, first match wins:
//   1. a model id some upstream lists in /v1/models;
//   2. a config alias (alias → id, or → a name llama-server knows by `--alias`);
//   3. a name an upstream lists under `aliases` (llama-server `--alias a,b`: id `a`, aliases [a, b]).
// A name nothing matches (or no name) goes to `defaultModel` when configured, else to the fleet's
// only model when it serves exactly one (llama-server itself answers to any name), else 404.
import type { UpstreamState } from './upstream.js';

/** One model an upstream serves, as its /v1/models lists it. */
export interface ServedModel {
  readonly id: string;
  /** Other names the upstream answers to for this model (llama-server's `--alias`). */
  readonly aliases: readonly string[];
  readonly ownedBy: string;
  /** Unix seconds; llama-server reports the time of the request, not of the load. */
  readonly created: number;
}

/** What resolution needs to know about an upstream. */
export interface ModelSource {
  readonly state: UpstreamState;
  /** 0 until the upstream has been seen ready once: its model list is not known yet. */
  readonly generation: number;
  /** The models it served when last seen ready (kept while it is draining or down). */
  readonly modelInfo: readonly ServedModel[];
}

/** The config's say in resolution. */
export interface ModelRules {
  readonly aliases: Readonly<Record<string, string>>;
  readonly defaultModel: string | null;
}

/** Where a request's model goes, or why it cannot go anywhere. */
export type Resolution<T> =
  | { ok: true; model: string; upstreams: T[] }
  | { ok: false; code: 'model_not_found' | 'no_upstream'; message: string };

/** One entry of OpenAI's model list. */
export interface ModelEntry {
  id: string;
  object: 'model';
  owned_by: string;
  created: number;
}

/** OpenAI's `GET /v1/models` body. */
export interface ModelList {
  object: 'list';
  data: ModelEntry[];
}

/**
 * Resolves `requested` (null or '' when the request names no model) to the canonical model id
 * and the ready upstreams that serve it, in fleet order. Upstreams never seen ready do not
 * serve anything yet; while any exist, a name nothing matches is 503 rather than 404, since the
 * missing server may be the one that serves it.
 */
export function resolveModel<T extends ModelSource>(
  requested: string | null,
  sources: readonly T[],
  rules: ModelRules,
): Resolution<T> {
  const known = sources.filter((s) => s.generation > 0);
  const name = requested === '' ? null : requested;
  let model = name === null ? null : canonicalName(name, known, rules.aliases);
  if (model === null) {
    model = rules.defaultModel !== null
      ? canonicalName(rules.defaultModel, known, rules.aliases)
      : onlyModel(known);
    if (model === null) return unresolved(name, sources.length - known.length, known, rules);
  }
  const id = model;
  const serving = known.filter((s) => s.modelInfo.some((m) => m.id === id));
  const ready = serving.filter((s) => s.state === 'ready');
  if (ready.length === 0) {
    const states = serving.map((s) => s.state).join(', ');
    return { ok: false, code: 'no_upstream', message: `no upstream serving model '${id}' is ready (${states})` };
  }
  return { ok: true, model: id, upstreams: ready };
}

/**
 * The merged model list over ready upstreams: each id once (first upstream's entry wins), then
 * one entry per config alias whose target a ready upstream serves, unless it shadows an id.
 */
export function listModels(sources: readonly ModelSource[], aliases: Readonly<Record<string, string>>): ModelList {
  const ready = sources.filter((s) => s.state === 'ready');
  const byId = new Map<string, ServedModel>();
  for (const source of ready) {
    for (const m of source.modelInfo) if (!byId.has(m.id)) byId.set(m.id, m);
  }
  const data: ModelEntry[] = [...byId.values()].map((m) => entry(m.id, m));
  for (const [alias, target] of Object.entries(aliases)) {
    if (byId.has(alias)) continue;
    const id = servedId(target, ready) ?? serverAlias(target, ready);
    const model = id === null ? undefined : byId.get(id);
    if (model !== undefined) data.push(entry(alias, model));
  }
  return { object: 'list', data };
}

function entry(id: string, model: ServedModel): ModelEntry {
  return { id, object: 'model', owned_by: model.ownedBy, created: model.created };
}

function canonicalName(name: string, known: readonly ModelSource[], aliases: Readonly<Record<string, string>>): string | null {
  const id = servedId(name, known);
  if (id !== null) return id;
  if (Object.hasOwn(aliases, name)) {
    const target = aliases[name]!;
    return servedId(target, known) ?? serverAlias(target, known);
  }
  return serverAlias(name, known);
}

function servedId(name: string, sources: readonly ModelSource[]): string | null {
  return sources.some((s) => s.modelInfo.some((m) => m.id === name)) ? name : null;
}

function serverAlias(name: string, sources: readonly ModelSource[]): string | null {
  for (const source of sources) {
    for (const m of source.modelInfo) if (m.aliases.includes(name)) return m.id;
  }
  return null;
}

function distinctIds(known: readonly ModelSource[]): string[] {
  return [...new Set(known.flatMap((s) => s.modelInfo.map((m) => m.id)))];
}

function onlyModel(known: readonly ModelSource[]): string | null {
  const ids = distinctIds(known);
  return ids.length === 1 ? ids[0]! : null;
}

function unresolved<T>(name: string | null, unseen: number, known: readonly ModelSource[], rules: ModelRules): Resolution<T> {
  if (unseen > 0) {
    const what = name === null ? 'the request names no model' : `model '${name}' is not known yet`;
    return { ok: false, code: 'no_upstream', message: `${what}: ${unseen} upstream(s) not seen ready yet` };
  }
  const what = name === null ? 'the request names no model' : `model '${name}' is not served`;
  if (rules.defaultModel !== null) {
    return { ok: false, code: 'model_not_found', message: `${what}, and defaultModel '${rules.defaultModel}' is not served either` };
  }
  const served = distinctIds(known).map((id) => `'${id}'`).join(', ');
  return { ok: false, code: 'model_not_found', message: `${what}; the fleet serves ${served || 'no models'}` };
}
