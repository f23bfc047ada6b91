// What keeps a web page from driving the gateway. On a loopback bind with no token every local
// connection is trusted, including those a browser makes for any page it shows: a page can send
// "simple" cross-origin POSTs (text/plain, form encodings: no preflight), and through DNS
// rebinding (its own name re-pointed at 127.0.0.1) read the answers as same-origin. A request is
// refused when its Host is not ours (rebinding), when it carries an Origin we were not told to
// trust, or when a browser sends a body that is not JSON. curl and SDKs send no Origin and pass,
// whatever their content type: curl -d says form encoding, Node's fetch text/plain for a string,
// llama-server's transcriptions take multipart, and llama-server reads them all.
import type { IncomingHttpHeaders } from 'node:http';
import { isLoopbackHost } from './config/load.js';
import { SlotkeeperError } from './errors.js';

/** The guard's settings (config `allowedHosts`, `allowedOrigins`, `host`). */
export interface GuardSettings {
  /** The address the gateway listens on. */
  bindHost: string;
  /** Host names (as in the Host header, without port) accepted beside loopback ones: a reverse proxy's. */
  allowedHosts: readonly string[];
  /** Origins (`https://app.example`) whose pages may call the gateway. */
  allowedOrigins: readonly string[];
}

/** Returns a check that throws the refusal for a request, or returns when it may go on. */
export function createRequestGuard(settings: GuardSettings): (method: string, headers: IncomingHttpHeaders) => void {
  const hosts = new Set(settings.allowedHosts.map((h) => h.toLowerCase()));
  const origins = new Set(settings.allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  // A loopback bind can only be reached under a loopback name; any other Host is a rebinding.
  // Elsewhere the Host is whatever clients use, unless an allow-list says which.
  const checkHost = isLoopbackHost(settings.bindHost) || hosts.size > 0;
  return (method, headers) => {
    const host = hostnameOf(headers.host);
    if (checkHost && host !== undefined && !(isLoopbackName(host) || hosts.has(host))) {
      throw new SlotkeeperError('forbidden', `slotkeeper: Host ${JSON.stringify(headers.host)} is not this gateway's (add it to allowedHosts if a proxy forwards it)`);
    }
    const origin = headers.origin;
    if (origin !== undefined && !origins.has(origin.toLowerCase()) && !sameOrigin(origin, headers.host)) {
      throw new SlotkeeperError('forbidden', `slotkeeper: requests from web pages of ${JSON.stringify(origin)} are refused (allowedOrigins)`);
    }
    // Browsers send Sec-Fetch-Site on every request (Chrome 76, Firefox 90, Safari 16.4) and
    // Origin on every POST; a body they send without a preflight is never application/json.
    const browser = origin !== undefined || headers['sec-fetch-site'] !== undefined;
    if (browser && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
      if (mediaType(headers['content-type']) !== 'application/json') {
        throw new SlotkeeperError('unsupported_media_type', `slotkeeper: a request body must be application/json, got ${JSON.stringify(headers['content-type'] ?? 'none')}`);
      }
    }
  };
}

function mediaType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.split(';', 1)[0]!.trim().toLowerCase();
}

/** The Host header's name without port or IPv6 brackets; undefined when absent or unparsable. */
function hostnameOf(host: string | undefined): string | undefined {
  if (host === undefined || host === '') return undefined;
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  } catch {
    return '';
  }
}

// RFC 6761: browsers resolve *.localhost to loopback themselves, so a page cannot rebind it.
function isLoopbackName(host: string): boolean {
  return host.endsWith('.localhost') || isLoopbackHost(host);
}

// A page the gateway itself serves (llama-server's web UI through passthrough) calls it under its own origin.
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}
