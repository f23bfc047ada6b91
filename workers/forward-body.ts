// The body forwarded upstream, laid out so the main thread can splice in the gateway's own
// `"id_slot":N,"cache_prompt":B` without parsing or copying the JSON again: it writes
// forward[0, insertAt) + the keys + (emptyObject ? '' : ',') + forward[insertAt, end).

/** The bytes to forward and where the gateway's keys go. */
export interface ForwardBody {
  /** The client's own buffer when nothing had to change, else a re-serialized body. */
  forward: ArrayBuffer;
  /** Byte offset just after the top-level '{'. */
  insertAt: number;
  /** The forwarded object has no keys, so the spliced keys need no trailing comma. */
  emptyObject: boolean;
}

// The keys slotkeeper sets on every forwarded request. llama-server parses bodies with nlohmann
// json, which resolves duplicate keys last-wins; a client's copy left beside ours would either
// override the gateway's slot choice or be overridden silently, so the client's copies go.
const gatewayKeys = ['id_slot', 'cache_prompt'] as const;

const encoder = new TextEncoder();

/**
 * Chooses the forwarded bytes for a parsed body. `changed` says normalization rewrote `parsed`;
 * the client's `id_slot` and `cache_prompt` are deleted from `parsed` when present.
 */
export function forwardBody(body: ArrayBuffer, parsed: Record<string, unknown>, changed: boolean): ForwardBody {
  let rewrite = changed;
  for (const key of gatewayKeys) {
    if (Object.hasOwn(parsed, key)) {
      delete parsed[key];
      rewrite = true;
    }
  }
  const emptyObject = Object.keys(parsed).length === 0;
  if (!rewrite) return { forward: body, insertAt: objectStart(new Uint8Array(body)) + 1, emptyObject };
  // Re-serializing is lossy only where JSON.parse already was: integers beyond 2^53 (a huge
  // `seed`) are rounded and `1.0` becomes `1`. Only bodies that had to change pay that.
  const bytes = encoder.encode(JSON.stringify(parsed));
  // The buffer itself is transferred, so it must hold exactly these bytes.
  const forward =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
  return { forward, insertAt: 1, emptyObject };
}

// Offset of the top-level '{': after an optional UTF-8 byte order mark and JSON whitespace
// (RFC 8259 §2: space, tab, LF, CR). The body already parsed as an object, so '{' is next.
function objectStart(bytes: Uint8Array): number {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (;;) {
    const byte = bytes[i];
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) i++;
    else if (byte === 0x7b) return i;
    else throw new Error(`forward-body: expected '{' at byte ${i}, found ${String(byte)}`);
  }
}
