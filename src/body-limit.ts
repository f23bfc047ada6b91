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
  /** The request's share of the gateway-wide budget of buffered bodies, charged as bytes arrive. */
  hold?: BodyHold;
}

/**
 * The bytes of request bodies all requests hold at once (limits.bufferedBodyBytes). Without it,
 * a dozen clients that stall just before the end of a 31 MiB body each hold it for as long as
 * the server lets them send (+348 MiB measured in issue #16).
 */
export class BodyBudget {
  private used = 0;
  private readonly limitBytes: number;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** Bytes held now. */
  held(): number {
    return this.used;
  }

  /** A hold for one request; its bytes go back when it is released (the response closed). */
  hold(): BodyHold {
    let mine = 0;
    return {
      take: (bytes) => {
        if (this.used + bytes > this.limitBytes) return false;
        this.used += bytes;
        mine += bytes;
        return true;
      },
      release: () => {
        this.used -= mine;
        mine = 0;
      },
    };
  }
}

/** One request's share of a {@link BodyBudget}. */
export interface BodyHold {
  /** Charges `bytes`; false (and nothing charged) when the budget has no room. */
  take(bytes: number): boolean;
  /** Gives back everything taken. */
  release(): void;
}

function overloaded(): SlotkeeperError {
  return new SlotkeeperError('overloaded', 'slotkeeper: too many request bodies are being received at once (limits.bufferedBodyBytes)', {
    headers: { 'retry-after': '1' },
  });
}

/**
 * Reads a stream to its end into one fresh ArrayBuffer. Rejects with BodyTooLargeError as soon
 * as the limit is passed, and then stops reading: the stream is paused and left unconsumed, so
 * the caller should answer with `connection: close`.
 */
export function readBody(source: Readable, options: ReadBodyOptions): Promise<ArrayBuffer> {
  const { limitBytes, declaredLength, hold } = options;
  return new Promise((resolve, reject) => {
    if (declaredLength !== undefined && declaredLength > limitBytes) {
      giveUp();
      reject(new BodyTooLargeError(limitBytes));
      return;
    }
    // A declared length is charged whole before reading, so a body that cannot fit is not started.
    if (declaredLength !== undefined && hold !== undefined && !hold.take(declaredLength)) {
      giveUp();
      reject(overloaded());
      return;
    }
    let charged = declaredLength !== undefined && hold !== undefined ? declaredLength : 0;
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
      if (hold !== undefined && received > charged) {
        if (!hold.take(received - charged)) {
          cleanup();
          giveUp();
          reject(overloaded());
          return;
        }
        charged = received;
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
