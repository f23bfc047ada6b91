// Coded errors and the one place that turns any error into a client-facing error body.
// Clients and tests tell errors apart by `code`, never by message text.

/** Every stable error code slotkeeper emits, with the HTTP status it maps to. */
export const errorStatus = {
  invalid_json: 400,
  invalid_request: 400,
  unauthorized: 401,
  // An admin route without the admin token, or a request from a web page or Host not allowed (src/request-guard.ts).
  forbidden: 403,
  not_found: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  body_too_large: 413,
  // A body that is not JSON from a browser (src/request-guard.ts).
  unsupported_media_type: 415,
  // Every waiter slot is taken: come back later (Retry-After says when).
  queue_full: 429,
  // nginx's convention for "client closed request"; never seen by that client, but logged.
  client_closed_request: 499,
  internal_error: 500,
  not_implemented: 501,
  // An upstream could not be reached or broke the connection: the failure is slotkeeper's view of it.
  upstream_unreachable: 502,
  // No server of the fleet is ready for the request's model.
  no_upstream: 503,
  // The request waited longer than limits.queueTimeoutMs for a slot.
  queue_timeout: 503,
  // Too much is held for clients already (limits.bufferedBodyBytes, limits.workerQueueLength): come back later.
  overloaded: 503,
  // A body's analysis ran past limits.analysisTimeoutMs (a slow normalization rule on this input).
  analysis_timeout: 503,
  upstream_timeout: 504,
  // x-slotkeeper-cache: only, and the response cache holds no answer (RFC 9111 §5.2.1.7: 504).
  cache_miss: 504,
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof errorStatus;

/** The error shape a client expects: OpenAI's or Anthropic's. */
export type ErrorDialect = 'openai' | 'anthropic';

/** What a worker returns instead of throwing: classes do not survive structured clone. */
export interface WorkerFailure {
  ok: false;
  code: string;
  message: string;
}

/** Base class of every error slotkeeper raises on purpose. */
export class SlotkeeperError extends Error {
  /** Stable, machine-readable code. */
  readonly code: ErrorCode;
  /** HTTP status the code maps to. */
  readonly status: number;
  /** Extra response headers the error calls for (Retry-After on 429, WWW-Authenticate on 401). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(message, options);
    this.name = 'SlotkeeperError';
    this.code = code;
    this.status = errorStatus[code];
    this.headers = options?.headers ?? {};
  }
}

/** The request body passed the configured limit. */
export class BodyTooLargeError extends SlotkeeperError {
  /** The limit that was passed, in bytes. */
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super('body_too_large', `request body exceeds the limit of ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
    this.limitBytes = limitBytes;
  }
}

/** True when `code` is one slotkeeper knows. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorStatus, code);
}

/** Rebuilds the error a worker reported as `{ ok: false, code, message }`. */
export function errorFromWorker(failure: WorkerFailure): SlotkeeperError {
  if (isErrorCode(failure.code) && failure.code !== 'internal_error') return new SlotkeeperError(failure.code, failure.message);
  // An unknown code is a bug in the worker, not the client's fault: keep its text as the cause.
  return new SlotkeeperError('internal_error', 'slotkeeper: a worker failed', {
    cause: new Error(`${failure.code}: ${failure.message}`),
  });
}

/** OpenAI's error body. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string };
}

/** Anthropic's error body. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

/** A rendered error: the status to send, extra headers and the JSON body. */
export interface ErrorResponse {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: OpenAIErrorBody | AnthropicErrorBody;
}

/**
 * Turns any thrown value into a client response. Errors that are not SlotkeeperErrors become
 * 500 internal_error with a message naming slotkeeper, so a client can tell a gateway failure
 * from an upstream one; their own text is not sent (it may carry internals), the caller logs it.
 */
export function renderError(err: unknown, dialect: ErrorDialect = 'openai', requestId?: string): ErrorResponse {
  // An internal error's own text may carry internals (a worker's exception, a path): the log has it.
  const known = err instanceof SlotkeeperError && err.code !== 'internal_error'
    ? err
    : new SlotkeeperError('internal_error', `slotkeeper: internal error${requestId === undefined ? '' : ` (request ${requestId})`}`, {
      cause: err, headers: err instanceof SlotkeeperError ? { ...err.headers } : {},
    });
  const body = dialect === 'anthropic' ? renderAnthropic(known) : renderOpenAI(known);
  return { status: known.status, headers: known.headers, body };
}

function renderOpenAI(err: SlotkeeperError): OpenAIErrorBody {
  const type = err.status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message: err.message, type, code: err.code } };
}

// Anthropic's documented error types, by HTTP status; anything else falls back by class.
const anthropicTypes: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  529: 'overloaded_error',
};

/** Anthropic's error type for an HTTP status (slotkeeper's own errors and upstream refusals alike). */
export function anthropicErrorType(status: number): string {
  return anthropicTypes[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

function renderAnthropic(err: SlotkeeperError): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(err.status), message: err.message } };
}
