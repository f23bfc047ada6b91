// The gateway's own token check. OpenAI clients send `Authorization: Bearer`, Anthropic clients
// `x-api-key`; either carrying the token lets a request in.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Headers that may carry the gateway's token; the proxy strips them before forwarding when auth is on. */
export const AUTH_HEADERS = ['authorization', 'x-api-key'] as const;

// RFC 7235: the scheme is case-insensitive; RFC 6750: one or more spaces before the token.
const bearer = /^bearer +(\S+)$/i;

/** Returns a check that is true when `token` is null or the headers carry it. */
export function createAuthCheck(token: string | null): (headers: IncomingHttpHeaders) => boolean {
  if (token === null) return () => true;
  const expected = sha256(token);
  // Comparing digests in constant time hides both the content and the length of the token.
  const matches = (candidate: string | undefined) =>
    candidate !== undefined && timingSafeEqual(sha256(candidate), expected);
  return (headers) =>
    matches(single(headers.authorization)?.match(bearer)?.[1]) || matches(single(headers['x-api-key']));
}

// Node joins a repeated unknown header with ", " but a caller may pass an array; more than one
// credential is ambiguous, so it counts as none.
function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
