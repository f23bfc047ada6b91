// The request target as the gateway routes on it and forwards it. HTTP/1.1 allows an absolute
// URL or `*` as a target, and a path's dot-segments (also spelled %2e) can normalise to one that
// starts with `//`, which URL resolution reads as a network-path reference (`//host:port/x`):
// forwarded as it was, such a path made the gateway call any host it could reach (issue #16).
// Only an origin-form target that stays a path after normalisation and decoding gets through.

/** A request target the gateway accepts. */
export interface RequestTarget {
  /** The normalised path as it is forwarded: percent-encoding kept, dot-segments removed, one leading `/`. */
  path: string;
  /** The query string with its `?`, or ''. */
  search: string;
  /**
   * The path percent-decoded, as llama-server (cpp-httplib decodes the path before it matches
   * routes) and llama-swap see it: routes are looked up on this, so `/v1/%63hat/completions`
   * cannot reach llama-server's completions past the scheduled route.
   */
  route: string;
}

// Any syntactically valid host works: it only has to be ours, so a target that names another
// (`/\evil/x`, which WHATWG URL reads as `//evil/x` on http) is seen to change it.
const BASE = 'http://gateway.invalid';

/** Parses a request's target; null when it is not a plain origin-form path (400 for the caller). */
export function parseRequestTarget(raw: string | undefined): RequestTarget | null {
  if (raw === undefined || raw === '') return { path: '/', search: '', route: '/' };
  if (!raw.startsWith('/') || raw.startsWith('//')) return null;
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return null;
  }
  if (url.origin !== BASE || !isSinglePath(url.pathname)) return null;
  let route: string;
  try {
    route = decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
  // Decoding must not make another path: %2F, %5C or %2e segments would be read as separators
  // or dot-segments by whatever decodes it next.
  if (!isSinglePath(route) || route.includes('\\') || /(^|\/)\.\.?(\/|$)/.test(route) || /[\0-\x1f\x7f]/.test(route)) return null;
  return { path: url.pathname, search: url.search, route };
}

function isSinglePath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//');
}
