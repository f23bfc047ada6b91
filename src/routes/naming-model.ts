// llama-swap and llama.cpp's router mode pick a server by the body's `model`, so a request that
// named a slotkeeper alias, or no model (defaultModel), must reach them under the model it
// resolved to: the alias is unknown there (400).
import { Buffer } from 'node:buffer';

/** The forwarded body as the route splices it: bytes, where the gateway's keys go, whether it is `{}`. */
export interface ForwardLayout {
  bytes: Uint8Array;
  insertAt: number;
  emptyObject: boolean;
}

/**
 * The forwarded body with `model` set to `model`. Re-serialized on the main thread: only requests
 * that name an alias, or no model, of an upstream that routes by model pay for it.
 */
export function namingModel(forward: ArrayBuffer, model: string): ForwardLayout {
  const body = JSON.parse(Buffer.from(forward).toString('utf8')) as Record<string, unknown>;
  body.model = model;
  return { bytes: Buffer.from(JSON.stringify(body)), insertAt: 1, emptyObject: false };
}
