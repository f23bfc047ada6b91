// The floor of any Node gateway: a pass-through proxy on node:http with a keep-alive agent, no
// analysis, no scheduling. Like slotkeeper it reads the whole body before forwarding (slotkeeper
// must, to hash the prompt) and relays the answer as it arrives. Measured beside slotkeeper, it
// splits the added latency into the extra HTTP hop, which any proxy pays, and slotkeeper's own work.
import { Buffer } from 'node:buffer';
import { Agent, createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running bare proxy. */
export interface BareProxy {
  url: string;
  close(): Promise<void>;
}

/** Starts the bare proxy in front of `upstream` (a base URL) on 127.0.0.1. */
export async function startBareProxy(upstream: string): Promise<BareProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const send = (retry: boolean) => {
        const up = request(`${upstream}${req.url ?? '/'}`, { method: req.method, headers: forwardHeaders(req.headers), agent }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        up.on('error', () => {
          // llama-server closes a kept-alive socket after a stream without saying so: send again, once.
          if (retry && up.reusedSocket) send(false);
          else if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
        up.end(body);
      };
      send(true);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    }),
  };
}

function forwardHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { host: _host, connection: _connection, 'keep-alive': _keepAlive, ...rest } = headers;
  return rest;
}
