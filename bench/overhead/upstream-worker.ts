// Worker-thread entry that runs the fake llama-server, so its work stays off the event loop of
// the gateway under test (which runs on the bench's main thread). Posts `{ url }` once listening;
// closes on the message 'close' and answers 'closed'.
import { parentPort, workerData } from 'node:worker_threads';
import { type FakeUpstreamOptions, startFakeUpstream } from '../../test/helpers/fake-upstream.js';

const port = parentPort;
if (port === null) throw new Error('upstream-worker.js runs as a worker thread');
const fake = await startFakeUpstream({ ...(workerData as FakeUpstreamOptions), record: false });
port.on('message', (message: unknown) => {
  if (message === 'close') void fake.close().then(() => port.postMessage('closed'));
});
port.postMessage({ url: fake.url });
