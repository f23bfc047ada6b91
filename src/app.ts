// The request handler: routing, auth, request ids, the client's abort signal, metrics and the one
// place errors become responses. Dependencies are injected so each test builds its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorDialect, SlotkeeperError } from './errors.js';
import type { RouteLabel } from './metrics.js';
import type { RequestIds } from './request-id.js';
import { completionAliases, isAdminRoute } from './admin-routes.js';
import { createAuthCheck } from './auth.js';
import { BodyBudget } from './body-limit.js';
import { createRequestGuard } from './request-guard.js';
import { parseRequestTarget } from './request-target.js';
import type { ResponseCache } from './response-cache/layer.js';
import { sendError, sendJson } from './respond.js';
import type { Router } from './router.js';
import { type CompletionsDeps, handleCompletions } from './routes/completions.js';
import type { RequestContext, RouteDeps } from './routes/context.js';
import { createCountTokens } from './routes/count-tokens.js';
import { createPassthrough } from './routes/passthrough.js';
import type { RequestHandler } from './runtime/http-server.js';
import type { WorkerPool } from './worker-pool.js';

/** What the app needs from the outside. */
export interface AppDeps extends RouteDeps {
  ids: RequestIds;
  pool: WorkerPool;
  router: Router;
  cache: ResponseCache;
  /** Says whether a request carries the gateway's token (src/auth.ts). */
  authorized: (req: IncomingMessage) => boolean;
  /** Says whether a request carries the admin token; by default config.adminToken's check (never, when null). */
  admin?: (req: IncomingMessage) => boolean;
  /** Refuses requests a web page could have made; by default src/request-guard.ts with the config's settings. */
  guard?: (method: string, headers: IncomingMessage['headers']) => void;
  /** Told about unexpected failures (internal_error), which clients only see as a code. */
  onError?: (err: unknown, requestId: string) => void;
}

interface Route {
  name: RouteLabel;
  method: string;
  /** Answered without the gateway token (load balancers probe it). */
  open?: boolean;
  /** The error shape its clients expect; OpenAI's unless said. */
  dialect?: ErrorDialect;
  handle(ctx: RequestContext, declaredLength: number | undefined): Promise<void>;
}

/** Creates the gateway's request handler. */
export function createApp(deps: AppDeps): RequestHandler {
  const { metrics, ids, config } = deps;
  const completions: CompletionsDeps = deps;
  const adminCheck = config.adminToken === null ? null : createAuthCheck(config.adminToken);
  const isAdmin = deps.admin ?? ((req: IncomingMessage) => adminCheck !== null && adminCheck(req.headers));
  const budget = new BodyBudget(config.limits.bufferedBodyBytes);
  const guard = deps.guard ?? createRequestGuard({ bindHost: config.host, allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins });

  const routes = new Map<string, Route>([
    ['/health', {
      name: 'health', method: 'GET', open: true,
      async handle(ctx) {
        // Every worker busy past the analysis deadline with bodies waiting: nothing new would be served.
        if (deps.pool.stalled?.() === true) sendJson(ctx.res, 503, { status: 'stalled', reason: 'worker pool' });
        else sendJson(ctx.res, 200, { status: 'ok' });
      },
    }],
    ['/metrics', {
      name: 'metrics', method: 'GET',
      async handle(ctx) {
        const text = await metrics.registry.metrics();
        ctx.res.writeHead(200, { 'content-type': metrics.registry.contentType });
        ctx.res.end(text);
      },
    }],
    ['/v1/models', {
      name: 'models', method: 'GET',
      async handle(ctx) {
        sendJson(ctx.res, 200, deps.fleet.modelList());
      },
    }],
    ['/v1/chat/completions', {
      name: 'chat_completions', method: 'POST',
      handle: (ctx, length) => handleCompletions('chat', ctx, completions, length),
    }],
    ['/v1/completions', {
      name: 'completions', method: 'POST',
      handle: (ctx, length) => handleCompletions('completions', ctx, completions, length),
    }],
  ]);
  const passthrough: Route = { name: 'passthrough', method: '*', handle: createPassthrough(deps) };
  if (deps.config.anthropic === 'translate') {
    routes.set('/v1/messages', {
      name: 'messages', method: 'POST', dialect: 'anthropic',
      handle: (ctx, length) => handleCompletions('messages', ctx, completions, length),
    });
    routes.set('/v1/messages/count_tokens', { name: 'count_tokens', method: 'POST', dialect: 'anthropic', handle: createCountTokens(deps) });
  } else {
    // Forwarded untouched (no slot pinning, no normalization); errors of the gateway's own still
    // reach these clients in their shape.
    routes.set('/v1/messages', { ...passthrough, dialect: 'anthropic' });
    routes.set('/v1/messages/count_tokens', { ...passthrough, dialect: 'anthropic' });
  }

  return async (req, res) => {
    const id = ids.next();
    res.setHeader('x-request-id', id);
    const target = parseRequestTarget(req.url) ?? { path: '/', search: '', route: '' };
    const path = target.route;
    const alias = Object.hasOwn(completionAliases, path) ? completionAliases[path] : undefined;
    const route = routes.get(alias ?? path) ?? passthrough;
    const abort = new AbortController();
    const hold = budget.hold();
    const ctx: RequestContext = { req, res, id, target, hold, receivedMs: performance.now(), signal: abort.signal, model: 'none' };
    // 'close' before the response finished means the client went away: cancel its queue wait,
    // its upstream call and the relay, which releases its lease.
    res.once('close', () => {
      // The body is no longer the client's to make us hold (a cached or relayed answer keeps its own copy).
      hold.release();
      if (!res.writableFinished) abort.abort(new SlotkeeperError('client_closed_request', 'client closed the request'));
    });
    // 'finish' means the response was handed to the OS; requests the client abandoned first are
    // not counted, since their status never reached anyone.
    res.once('finish', () => {
      metrics.httpRequests.inc({ route: route.name, model: ctx.model, status: String(res.statusCode) });
      if (deps.config.verbose) deps.log?.(`${id} ${req.method} ${path} ${ctx.model} ${res.statusCode} ${(performance.now() - ctx.receivedMs).toFixed(1)}ms`);
    });

    try {
      // Before auth: a page must not learn from a 401 either, and a refused body is never read.
      guard(req.method ?? 'GET', req.headers);
      if (path === '') throw new SlotkeeperError('invalid_request', 'slotkeeper: the request target must be a path starting with a single /, without dot-segments that leave it');
      const admin = isAdmin(req);
      if (!route.open && !admin && !deps.authorized(req)) {
        throw new SlotkeeperError('unauthorized', 'missing or wrong gateway token (Authorization: Bearer … or x-api-key)', {
          headers: { 'www-authenticate': 'Bearer' },
        });
      }
      if (route === passthrough && isAdminRoute(req.method ?? 'GET', path) && !admin) {
        throw new SlotkeeperError('forbidden', `slotkeeper: ${path} administers the upstream; it needs the admin token (adminToken)`);
      }
      if (alias === null) {
        throw new SlotkeeperError('not_found', `slotkeeper: ${path} would run a completion past the gateway's scheduling; use /v1/chat/completions or /v1/completions`);
      }
      if (route.method !== '*' && req.method !== route.method) {
        res.setHeader('allow', route.method);
        throw new SlotkeeperError('method_not_allowed', `${path} accepts ${route.method} only`);
      }
      await route.handle(ctx, contentLength(req));
    } catch (err) {
      if (!(err instanceof SlotkeeperError) || err.code === 'internal_error') deps.onError?.(err, id);
      // The rest of a refused body is unread; keep-alive would make Node read it to reuse the socket.
      if (err instanceof SlotkeeperError && (err.code === 'body_too_large' || err.code === 'overloaded')) res.setHeader('connection', 'close');
      sendError(res, err, route.dialect, id);
    }
  };
}

function contentLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}
