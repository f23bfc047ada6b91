// HTTP requests with an exact target and headers: fetch normalises paths and adds headers of its
// own (sec-fetch-mode, a text/plain content type), which security tests must control.
import { Buffer } from 'node:buffer';
import { request } from 'node:http';

/** An answer: status, headers and the body as text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends `method target` to `base` (`http://host:port`) with exactly these headers and body. */
export function rawRequest(base: string, method: string, target: string, options: { headers?: Record<string, string>; body?: string | Uint8Array } = {}): Promise<RawAnswer> {
  const url = new URL(base);
  const headers: Record<string, string> = { ...options.headers };
  // Node's client sends a DELETE or OPTIONS body without a length, which the server reads as the next request.
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: target, headers, setHost: options.headers?.host === undefined }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}
