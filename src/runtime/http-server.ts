// The one seam for serving HTTP. node:http is implemented by Node, Bun and Deno alike, so the
// rest of src/ only ever sees IncomingMessage/ServerResponse and never asks which runtime it is.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Handles one request; must answer it or destroy it, including when it fails. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Where to listen (port 0 picks a free port), and whom to tell when a handler fails. */
export interface ListenOptions {
  host: string;
  port: number;
  /**
   * Bounds on what clients can make the server hold: open connections, and the time to receive
   * a whole request (Node's default is 300 s, during which a stalled body stays buffered).
   */
  limits?: { maxConnections: number; bodyTimeoutMs: number };
  /** Told when a handler throws instead of answering: a bug, since handlers render their errors. */
  onError?: (err: unknown) => void;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8081`. */
  readonly url: string;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Stops listening and drops every connection; resolves once the server is closed. */
  close(): Promise<void>;
}

/** Starts an HTTP server for `handler` and resolves once it is listening. */
export function listen(handler: RequestHandler, options: ListenOptions): Promise<RunningServer> {
  const limits = options.limits;
  // Node checks request timeouts every connectionsCheckingInterval (30 s by default): a check at
  // least twice per timeout keeps the bound near what is configured.
  const serverOptions = limits ? {
    requestTimeout: limits.bodyTimeoutMs,
    // Node requires headersTimeout <= requestTimeout; its default is 60 s.
    headersTimeout: Math.min(60_000, limits.bodyTimeoutMs),
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(limits.bodyTimeoutMs / 2))),
  } : {};
  const server = createServer(serverOptions, (req, res) => {
    // The handler renders its own errors; reaching here means it could not, so the only honest
    // thing left is to drop the connection rather than leave the client waiting.
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (!res.writableEnded) res.destroy();
        options.onError?.(err);
      });
  });
  // Connections past the limit are closed as they arrive.
  if (limits) server.maxConnections = limits.maxConnections;

  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      const { port } = server.address() as AddressInfo;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${formatHost(options.host)}:${port}`,
        port,
        close() {
          closing ??= new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // close() only stops accepting: idle keep-alive sockets and requests still in flight
            // would hold the server (and the process) open. Node 20, Bun and Deno all have this.
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
