// Worker task: decode and parse a request body off the main thread, and report the few facts
// the gateway routes on. It never throws across the boundary: failures come back as data.

/** The task: the raw request body, transferred (not copied) from the main thread. */
export interface AnalyzeTask {
  body: ArrayBuffer;
}

/** What the gateway learns from a chat-completions body. */
export interface AnalyzeSuccess {
  ok: true;
  /** The requested model, or null when absent or not a string. */
  model: string | null;
  /** True only when the body says `"stream": true`. */
  stream: boolean;
  /** Body size in bytes. */
  bytes: number;
}

/** A body the gateway cannot use; `code` is an ErrorCode from src/errors.ts. */
export interface AnalyzeFailure {
  ok: false;
  code: 'invalid_json' | 'invalid_request' | 'internal_error';
  message: string;
}

/** The worker's answer. */
export type AnalyzeResult = AnalyzeSuccess | AnalyzeFailure;

// fatal: JSON text must be UTF-8 (RFC 8259 §8.1); silently substituting U+FFFD would change
// the prompt the client sent.
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses a request body and extracts model and stream. */
export default function analyze(task: AnalyzeTask): AnalyzeResult {
  try {
    const bytes = task.body.byteLength;
    let text: string;
    try {
      text = decoder.decode(task.body);
    } catch {
      return { ok: false, code: 'invalid_json', message: 'request body is not valid UTF-8' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return { ok: false, code: 'invalid_json', message: `request body is not valid JSON: ${messageOf(err)}` };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, code: 'invalid_request', message: 'request body must be a JSON object' };
    }
    const { model, stream } = parsed as { model?: unknown; stream?: unknown };
    return { ok: true, model: typeof model === 'string' ? model : null, stream: stream === true, bytes };
  } catch (err) {
    // A throw would reach the main side as an Error class piscina re-creates; keep the contract.
    return { ok: false, code: 'internal_error', message: messageOf(err) };
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
