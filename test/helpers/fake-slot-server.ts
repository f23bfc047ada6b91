// A stand-in for llama-server's slot actions (POST /slots/{id}?action=save|restore|erase), for
// the disk tier's unit tests: the answer shapes of llama.cpp de3ff815ea7d (see
// src/kv/slot-actions.ts), files really written to a directory on save so GC and reconciliation
// have something to see, every request recorded, and failures on demand.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** One slot action as the fake received it. */
export interface SlotRequest {
  method: string;
  /** Path without the query. */
  path: string;
  action: string | null;
  /** ?model= on the URL, if any. */
  queryModel: string | null;
  body: Record<string, unknown>;
  authorization: string | undefined;
}

/** How the fake behaves; every field may be changed while it runs. */
export interface FakeSlotOptions {
  /** Where saves write their file; null: saves write nothing (a server whose directory slotkeeper cannot see). */
  dir: string | null;
  /** false: every action answers 501, as llama-server without --slot-save-path. */
  enabled: boolean;
  /** Tokens a save reports (n_saved); bytes are tokens × bytesPerToken. */
  tokens: number;
  bytesPerToken: number;
  /** Answer this status instead of doing the action. */
  failSave?: number;
  failRestore?: number;
  /** Never answer a save (for timeouts). */
  hangSave?: boolean;
  /** What GET /slots answers (llama-server's shape: id, is_processing, n_prompt_tokens); undefined: 404. */
  slots?: { id: number; is_processing: boolean; n_prompt_tokens?: number }[];
}

/** A running fake. */
export interface FakeSlotServer {
  readonly url: string;
  readonly options: FakeSlotOptions;
  readonly requests: SlotRequest[];
  /** Requests of one action; `probe` ones (slot id `x`) apart. */
  actions(action: string, options?: { probes?: boolean }): SlotRequest[];
  close(): Promise<void>;
}

/** Starts the fake on a free port. */
export async function startFakeSlotServer(options: Partial<FakeSlotOptions> = {}): Promise<FakeSlotServer> {
  const opts: FakeSlotOptions = { dir: null, enabled: true, tokens: 1000, bytesPerToken: 10, ...options };
  const requests: SlotRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const saved = new Map<string, number>();
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse, text: string) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let body: Record<string, unknown> = {};
    try {
      body = text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
    } catch {
      return send(res, 400, { error: { code: 400, message: 'bad json' } });
    }
    const request: SlotRequest = {
      method: req.method ?? '', path: url.pathname, action: url.searchParams.get('action'), queryModel: url.searchParams.get('model'),
      body, authorization: req.headers.authorization,
    };
    requests.push(request);
    if (req.method === 'GET' && url.pathname === '/slots' && opts.slots !== undefined) return send(res, 200, opts.slots);
    const m = /\/slots\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || m === null) return send(res, 404, { error: { code: 404, message: 'File Not Found' } });
    if (!opts.enabled) return send(res, 501, { error: { code: 501, message: 'This server does not support slots action.', type: 'not_supported_error' } });
    const id = Number(m[1]);
    if (!Number.isInteger(id)) return send(res, 400, { error: { code: 400, message: 'Invalid slot ID', type: 'invalid_request_error' } });
    const filename = String(body.filename ?? '');
    if (request.action === 'save') {
      if (opts.hangSave) return void hanging.add(res);
      if (opts.failSave !== undefined) return send(res, opts.failSave, { error: { code: opts.failSave, message: 'failed to save slot' } });
      const bytes = opts.tokens * opts.bytesPerToken;
      if (opts.dir !== null) writeFileSync(join(opts.dir, filename), Buffer.alloc(bytes));
      saved.set(filename, bytes);
      return send(res, 200, { id_slot: id, filename, n_saved: opts.tokens, n_written: bytes, timings: { save_ms: 2 } });
    }
    if (request.action === 'restore') {
      if (opts.failRestore !== undefined) return send(res, opts.failRestore, { error: { code: opts.failRestore, message: 'failed to restore slot' } });
      const path = opts.dir === null ? null : join(opts.dir, filename);
      const bytes = path !== null ? (existsSync(path) ? statSync(path).size : undefined) : saved.get(filename);
      if (bytes === undefined) return send(res, 400, { error: { code: 400, message: 'failed to restore slot' } });
      return send(res, 200, { id_slot: id, filename, n_restored: bytes / opts.bytesPerToken, n_read: bytes, timings: { restore_ms: 1 } });
    }
    if (request.action === 'erase') return send(res, 200, { id_slot: id, n_erased: 0 });
    return send(res, 400, { error: { code: 400, message: 'Invalid action' } });
  };
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => handle(req, res, text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    options: opts,
    requests,
    actions: (action, o = {}) => requests.filter((r) => r.action === action && (o.probes ?? false) === r.path.endsWith('/slots/x')),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
