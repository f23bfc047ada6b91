// A fetch that failed because the server had closed the idle keep-alive connection undici chose
// (UND_ERR_SOCKET, before any byte of the answer): nothing reached the server, so one resend on
// a new connection is safe. llama-server (cpp-httplib) closes idle connections after a few
// seconds, and a reuse racing that close is seen now and then under load.

/** True when `err` is a fetch failure on a connection the other side had already closed. */
export function isClosedIdleSocket(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  return cause?.code === 'UND_ERR_SOCKET';
}
