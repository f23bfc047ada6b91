// Clients that stall just before the end of a large body (issue #16's probe): how much the gateway
// holds, how many it refuses, and when it cuts the rest. A gateway with default limits and a fake
// llama-server run in this process, so RSS is the gateway's.
//   npx tsc -p . && node dist/bench/stalled-bodies.js [clients] [MiB]
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import process from 'node:process';
import { withDefaults } from '../src/config/config.js';
import { startGateway } from '../src/gateway.js';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';

const clients = Number(process.argv[2] ?? 12);
const size = Number(process.argv[3] ?? 31) * 1024 * 1024;
const fake = await startFakeUpstream({ record: false });
const gateway = await startGateway(withDefaults({ port: 0, upstreams: [{ url: fake.url }] }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
const port = Number(new URL(gateway.url).port);
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const chunk = Buffer.alloc(1024 * 1024, 0x61);

interface Outcome { status: string; closedMs: number }

function stall(): Promise<{ sent: Promise<void>; outcome: Promise<Outcome> }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (data) => (answer += data.toString()));
    socket.on('error', () => {});
    const outcome = new Promise<Outcome>((done) => socket.on('close', () => done({ status: answer.split('\r\n')[0] || '(no answer)', closedMs: performance.now() - started })));
    socket.once('connect', () => {
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
      // All but the last MiB, then silence.
      const sent = (async () => {
        for (let n = 0; n < size - chunk.length && !socket.destroyed; n += chunk.length) {
          if (!socket.write(chunk)) await drainedOrClosed(socket);
        }
      })();
      resolve({ sent, outcome });
    });
  });
}

function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((go) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      go();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

const all = await Promise.all(Array.from({ length: clients }, stall));
await Promise.all(all.map((c) => c.sent));
await new Promise((resolve) => setTimeout(resolve, 1000));
console.log(`${clients} clients, ${size / 2 ** 20} MiB bodies stalled 1 MiB before the end: RSS +${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(0)} MiB`);
for (const { status, closedMs } of await Promise.all(all.map((c) => c.outcome))) console.log(`${status} after ${(closedMs / 1000).toFixed(1)} s`);
await gateway.close();
await fake.close();
