// Runtime smoke test: a real SIGTERM reaches the shutdown handler instead of killing the process.
import process from 'node:process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { onShutdownSignal, type ShutdownSignal } from '../../src/runtime/signals.js';

type Listener = (...args: unknown[]) => void;

// Under `uvu dist/test` every file shares this process, and other files' signal handlers (the
// llama-server rig's exit hook re-raises the signal it sees) would end the whole run. So they are
// set aside while a real signal is in flight and put back afterwards, once-wrappers included.
async function withOtherListenersAside<T>(signal: NodeJS.Signals, body: () => Promise<T>): Promise<T> {
  const others = process.rawListeners(signal) as Listener[];
  process.removeAllListeners(signal);
  try {
    return await body();
  } finally {
    for (const listener of others) process.on(signal, listener);
  }
}

const signals = suite('runtime: signals');

signals('SIGTERM calls the handler once, then unsubscribes', () => withOtherListenersAside('SIGTERM', async () => {
  const before = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: 0 };
  const received = new Promise<ShutdownSignal>((resolve) => onShutdownSignal(resolve));
  assert.is(process.listenerCount('SIGTERM'), 1);
  // On Node and Deno a signal listener does not keep the event loop alive (on Bun it does), so
  // without a pending timer the process would exit before the signal arrives. The timer also
  // bounds the wait.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('SIGTERM not delivered within 5 s')), 5000);
  });
  process.kill(process.pid, 'SIGTERM');
  try {
    assert.is(await Promise.race([received, timeout]), 'SIGTERM');
  } finally {
    clearTimeout(timer);
  }
  assert.is(process.listenerCount('SIGTERM'), before.SIGTERM);
  assert.is(process.listenerCount('SIGINT'), before.SIGINT);
}));

signals('the returned function unsubscribes without a signal', () => {
  const before = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
  const unsubscribe = onShutdownSignal(() => assert.unreachable('no signal was sent'));
  assert.is(process.listenerCount('SIGINT'), before.SIGINT + 1);
  unsubscribe();
  assert.is(process.listenerCount('SIGINT'), before.SIGINT);
  assert.is(process.listenerCount('SIGTERM'), before.SIGTERM);
});

signals.run();
