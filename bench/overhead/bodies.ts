// Request bodies of a given size for the overhead bench: a chat completion whose system prompt
// starts with the request's number and goes on with filler text. The number comes first so no two
// prompts share a prefix: the gateway then has no cached slot to wait for, and what is measured is
// its overhead, not its scheduling. The filler is built once and every request writes the same
// buffer, so the client never copies a megabyte per request.
import { Buffer } from 'node:buffer';

/** What to send: about `bytes` of JSON, streamed or not, and how many tokens to ask for (-1: no limit). */
export interface BodySpec {
  bytes: number;
  stream: boolean;
  maxTokens: number;
}

/** A body in parts: its own start, then the filler and the end every request shares. */
export interface Body {
  parts(n: number): Buffer[];
}

const WORDS = ['the', 'slot', 'cache', 'prompt', 'token', 'server', 'gateway', 'request', 'prefix', 'model', 'answer', 'context'];

/** Builds a chat completion body of about `spec.bytes` bytes (within a few bytes). */
export function buildBody(spec: BodySpec): Body {
  const head = (n: number) => `{"model":"bench","messages":[{"role":"system","content":"request ${n}: `;
  const tail = `"},{"role":"user","content":"Answer."}],"max_tokens":${spec.maxTokens},"stream":${spec.stream}}`;
  const shared = Buffer.from(filler(Math.max(0, spec.bytes - head(100000).length - tail.length)) + tail);
  return { parts: (n) => [Buffer.from(head(n)), shared] };
}

/** Words, deterministic, ASCII only (so chars = bytes), `length` characters. */
function filler(length: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < length; i++) {
    const word = `${WORDS[(i * 7 + (i >> 3)) % WORDS.length]} `;
    parts.push(word);
    size += word.length;
  }
  return parts.join('').slice(0, length);
}
