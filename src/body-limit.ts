// Reading a request body whole, within a byte limit. The chat-completions body has to be parsed
// before we can route it, so this is the one place the request path buffers, and it is bounded.
import type { Readable } from 'node:stream';
import { BodyTooLargeError, SlotkeeperError } from './errors.js';

/** Options for {@link readBody}. */
export interface ReadBodyOptions {
  /** Largest body accepted, in bytes. */
  limitBytes: number;
  /** The Content-Length the client declared, if any: lets us refuse before reading a byte. */
  declaredLength?: number | undefined;
}

/**
 * Reads a stream to its end into one fresh ArrayBuffer. Rejects with BodyTooLargeError as soon
 * as the limit is passed, and then stops reading: the stream is paused and left unconsumed, so
 * the caller should answer with `connection: close`.
 */
export function readBody(source: Readable, options: ReadBodyOptions): Promise<ArrayBuffer> {
  const { limitBytes, declaredLength } = options;
  return new Promise((resolve, reject) => {
    if (declaredLength !== undefined && declaredLength > limitBytes) {
      giveUp();
      reject(new BodyTooLargeError(limitBytes));
      return;
    }
    const chunks: Uint8Array[] = [];
    let received = 0;

    const onData = (chunk: Uint8Array) => {
      received += chunk.byteLength;
      if (received > limitBytes) {
        cleanup();
        giveUp();
        reject(new BodyTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(concat(chunks, received));
    };
    const onAbort = (err?: Error) => {
      cleanup();
      reject(new SlotkeeperError('client_closed_request', 'client closed the connection before sending the whole body', { cause: err }));
    };
    // 'close' before 'end' means the client went away mid-body; after 'end' we are unsubscribed.
    const onClose = () => onAbort();
    const cleanup = () => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onAbort);
      source.off('close', onClose);
    };
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onAbort);
    source.on('close', onClose);
  });

  function giveUp() {
    source.pause();
    // Once we stop reading, a reset from the client is expected and already answered (413);
    // without a listener that late 'error' would be an uncaught exception.
    source.on('error', ignoreLateError);
  }
}

function ignoreLateError(): void {}

// A fresh buffer rather than Buffer.concat: small Buffers share Node's 8 KiB pool, and
// transferring a pooled buffer's ArrayBuffer to a worker would detach unrelated data.
function concat(chunks: readonly Uint8Array[], length: number): ArrayBuffer {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out.buffer;
}
