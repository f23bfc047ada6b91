// Writing responses: JSON bodies and rendered errors, the same way on every route.
import { Buffer } from 'node:buffer';
import type { ServerResponse } from 'node:http';
import { renderError, type ErrorDialect } from './errors.js';

/** Sends `body` as JSON with the given status. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Sends any error in the client's dialect; if the response already started, drops it. */
export function sendError(res: ServerResponse, err: unknown, dialect: ErrorDialect = 'openai', requestId?: string): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    // Mid-stream there is no status left to set; cutting the connection is the only signal.
    res.destroy();
    return;
  }
  const { status, headers, body } = renderError(err, dialect, requestId);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, status, body);
}
