// The request handler: routing, request ids, metrics and error rendering. Dependencies are
// injected so every test builds its own registry, id generator and pool.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './body-limit.js';
import { defaults } from './defaults.js';
import { BodyTooLargeError, SlotkeeperError, errorFromWorker } from './errors.js';
import type { Metrics, RouteLabel } from './metrics.js';
import type { RequestIds } from './request-id.js';
import { sendError, sendJson } from './respond.js';
import type { RequestHandler } from './runtime/http-server.js';
import type { WorkerPool } from './worker-pool.js';

/** What the app needs from the outside. */
export interface AppDeps {
  metrics: Metrics;
  ids: RequestIds;
  pool: WorkerPool;
  /** Largest request body accepted (default: defaults.bodyLimitBytes). */
  bodyLimitBytes?: number;
  /** Told about unexpected failures (internal_error), which clients only see as a code. */
  onError?: (err: unknown, requestId: string) => void;
}

interface Route {
  name: RouteLabel;
  method: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Creates the gateway's request handler. */
export function createApp(deps: AppDeps): RequestHandler {
  const { metrics, ids, pool } = deps;
  const bodyLimitBytes = deps.bodyLimitBytes ?? defaults.bodyLimitBytes;

  const routes = new Map<string, Route>([
    ['/health', {
      name: 'health',
      method: 'GET',
      async handle(_req, res) {
        sendJson(res, 200, { status: 'ok' });
      },
    }],
    ['/metrics', {
      name: 'metrics',
      method: 'GET',
      async handle(_req, res) {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
    }],
    ['/v1/chat/completions', {
      name: 'chat_completions',
      method: 'POST',
      async handle(req, res) {
        let body: ArrayBuffer;
        try {
          body = await readBody(req, { limitBytes: bodyLimitBytes, declaredLength: contentLength(req) });
        } catch (err) {
          // The rest of the body is unread; keep-alive would make Node read it to reuse the socket.
          if (err instanceof BodyTooLargeError) res.setHeader('connection', 'close');
          throw err;
        }
        // No abort signal here: piscina cancels a running task by terminating its worker, which
        // costs more than letting a parse finish.
        const result = await pool.analyze(body);
        if (!result.ok) throw errorFromWorker(result);
        // Placeholder until forwarding to llama-server lands.
        throw new SlotkeeperError('not_implemented', 'forwarding arrives with the gateway core');
      },
    }],
  ]);

  return async (req, res) => {
    const requestId = ids.next();
    res.setHeader('x-request-id', requestId);
    const path = pathOf(req.url);
    const route = routes.get(path);
    const label: RouteLabel = route?.name ?? 'other';
    // 'finish' means the response was handed to the OS; requests the client abandoned first are
    // not counted, since their status never reached anyone.
    res.once('finish', () => metrics.httpRequests.inc({ route: label, status: String(res.statusCode) }));

    try {
      if (route === undefined) throw new SlotkeeperError('not_found', `no route for ${req.method} ${path}`);
      if (req.method !== route.method) {
        res.setHeader('allow', route.method);
        throw new SlotkeeperError('method_not_allowed', `${path} accepts ${route.method} only`);
      }
      await route.handle(req, res);
    } catch (err) {
      if (!(err instanceof SlotkeeperError) || err.code === 'internal_error') deps.onError?.(err, requestId);
      sendError(res, err);
    }
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function contentLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}
