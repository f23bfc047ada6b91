// A stand-in for llama-swap (mostlygeek/llama-swap, a Go binary that cannot be installed here):
// a small node:http server in front of real llama-servers from the rig, with the routes and the
// behaviour slotkeeper relies on, in llama-swap's shapes (proxy/proxymanager.go):
//
//   GET  /health                       "OK"
//   GET  /v1/models                    {"object":"list","data":[{"id","object":"model","created","owned_by":"llama-swap"}]}, sorted by id
//   GET  /running                      {"running":[{"model","state":"ready","cmd","proxy","ttl","name","description"}]}: ready processes only
//   ANY  /upstream/{model}/{path}      {path} (query included) forwarded to that model's server, loading it first
//   POST /v1/chat/completions, /v1/completions   routed by the body's `model` (400 without one), loading it first
//
// One swap group (llama-swap's `swap: true`): one model loaded at a time. A request for another
// model waits for the requests in flight on the loaded one, stops its llama-server process (its
// slots and RAM prompt cache are gone, as in a real swap) and starts the other. Every model's
// server gets the same --slot-save-path, so saved slot files survive swaps.
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLlamaServer } from '../../bench/rig/llama-cpp.js';
import { type ModelParams, PRESETS, ensureModel } from '../../bench/rig/model.js';
import { type LlamaServer, type ServerOptions, startLlamaServer } from '../../bench/rig/server.js';

/** One model the stand-in serves: a rig preset, or its params (another seed is another model). */
export interface StandInModel {
  id: string;
  model: string | ModelParams;
}

/** How to start the stand-in. */
export interface StandInOptions {
  models: StandInModel[];
  /** llama-server options every model's server gets (slots, cacheRamMiB, ctx...). */
  server?: Partial<Omit<ServerOptions, 'binary' | 'model' | 'slotSavePath'>>;
  /** The shared --slot-save-path; a temp dir (removed on stop) when absent. */
  slotSavePath?: string;
}

/** A running stand-in. */
export interface LlamaSwapStandIn {
  url: string;
  /** The --slot-save-path every model's server shares. */
  slotSavePath: string;
  /** The loaded model, or null. */
  loaded(): string | null;
  /** Models started so far, in order (the first load counts). */
  readonly loads: string[];
  /** Stops the loaded server and the stand-in. Idempotent. */
  stop(): Promise<void>;
}

interface Loaded {
  id: string;
  server: LlamaServer;
  inFlight: number;
  drained: Array<() => void>;
}

const quiet = () => {};

/** Starts the stand-in with no model loaded (as llama-swap starts). */
export async function startLlamaSwapStandIn(options: StandInOptions): Promise<LlamaSwapStandIn> {
  const binary = await ensureLlamaServer(quiet);
  const paths = new Map<string, string>();
  for (const m of options.models) paths.set(m.id, await ensureModel(typeof m.model === 'string' ? m.model : m.model, quiet));
  const ownDir = options.slotSavePath === undefined;
  const slotSavePath = options.slotSavePath ?? mkdtempSync(join(tmpdir(), 'slotkeeper-swap-'));
  const loads: string[] = [];
  let current: Loaded | null = null;
  let ready = false;
  // Swaps happen one at a time, in arrival order, like llama-swap's process-group lock.
  let turn: Promise<unknown> = Promise.resolve();
  let stopped = false;

  const acquire = (id: string): Promise<Loaded> => {
    const next = turn.then(async () => {
      if (stopped) throw new Error('stand-in stopped');
      if (current?.id !== id) {
        const old = current;
        if (old !== null) {
          ready = false;
          if (old.inFlight > 0) await new Promise<void>((resolve) => old.drained.push(resolve));
          await old.server.stop();
          current = null;
        }
        const server = await startLlamaServer({ ...options.server, binary, model: paths.get(id)!, slotSavePath });
        loads.push(id);
        current = { id, server, inFlight: 0, drained: [] };
        ready = true;
      }
      current.inFlight += 1;
      return current;
    });
    turn = next.catch(() => {});
    return next;
  };
  const release = (loaded: Loaded) => {
    loaded.inFlight -= 1;
    if (loaded.inFlight === 0) for (const resolve of loaded.drained.splice(0)) resolve();
  };

  const forward = async (req: IncomingMessage, res: ServerResponse, id: string, path: string, body: Buffer | null) => {
    const loaded = await acquire(id);
    let released = false;
    const done = () => { if (!released) { released = true; release(loaded); } };
    res.once('close', done);
    const headers = { ...req.headers, host: new URL(loaded.server.url).host };
    if (body !== null) headers['content-length'] = String(body.length);
    delete headers['transfer-encoding'];
    const upstream = httpRequest(`${loaded.server.url}${path}`, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) sendText(res, 502, `error proxying request: ${err.message}`);
      else res.destroy(err);
      done();
    });
    if (body !== null) upstream.end(body);
    else req.pipe(upstream);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/health') return sendText(res, 200, 'OK');
    if (req.method === 'GET' && path === '/v1/models') {
      const created = Math.floor(Date.now() / 1000);
      const data = [...paths.keys()].sort().map((id) => ({ id, object: 'model', created, owned_by: 'llama-swap' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    if (req.method === 'GET' && path === '/running') {
      const running = current !== null && ready
        ? [{ model: current.id, state: 'ready', cmd: `llama-server --model ${paths.get(current.id)}`, proxy: current.server.url, ttl: 0, name: '', description: '' }]
        : [];
      return sendJson(res, 200, { running });
    }
    const upstream = /^\/upstream\/([^/]+)(\/.*)$/.exec(path);
    if (upstream) {
      const id = decodeURIComponent(upstream[1]!);
      if (!paths.has(id)) return sendText(res, 400, 'model id required in path');
      return forward(req, res, id, `${upstream[2]}${url.search}`, null);
    }
    if (req.method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/completions')) {
      const body = await readAll(req);
      let model: unknown;
      try {
        model = (JSON.parse(body.toString('utf8')) as { model?: unknown }).model;
      } catch {
        model = undefined;
      }
      if (typeof model !== 'string' || model === '') return sendText(res, 400, "missing or invalid 'model' key");
      if (!paths.has(model)) return sendText(res, 400, `could not find suitable inference handler for ${model}`);
      return forward(req, res, model, `${path}${url.search}`, body);
    }
    return sendText(res, 404, '404 page not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `error swapping process group: ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    slotSavePath,
    loaded: () => (ready ? current?.id ?? null : null),
    loads,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        await turn;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await current?.server.stop();
        current = null;
        if (ownDir) rmSync(slotSavePath, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** A tiny-preset model that differs from `tiny` by its seed: another "model" for the stand-in. */
export function tinyVariant(seed: number): ModelParams {
  return { ...PRESETS.tiny!, seed };
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
