// A body transform for answers that can only be translated whole (a non-streamed JSON answer or
// an upstream error): it holds the body, bounded, and writes the translation at the end.
import { Buffer } from 'node:buffer';
import type { BodyTransform } from './relay.js';

/**
 * Collects at most `limitBytes` of body, then sends `JSON.stringify(map(parsed))`; `parsed` is
 * undefined when the body was not JSON. Past the limit the response is cut.
 */
export function bufferedJson(limitBytes: number, map: (parsed: unknown) => unknown): BodyTransform {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    contentType: 'application/json; charset=utf-8',
    write(chunk) {
      size += chunk.length;
      if (size > limitBytes) return null;
      chunks.push(chunk);
      return '';
    },
    end() {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        // Not JSON (a proxy's HTML error page, say): the mapping reports it from the status alone.
        parsed = undefined;
      }
      return JSON.stringify(map(parsed));
    },
  };
}
