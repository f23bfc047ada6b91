// Worker-thread entry of the overhead bench's client: runs the jobs the main thread posts, several
// at once if asked, and posts back each result (and a streams job's 'open' event) under its id.
import { parentPort } from 'node:worker_threads';
import { type ClientJob, runJob } from './client.js';

/** A message from the main thread. */
export interface JobMessage {
  id: number;
  job: ClientJob;
}

const port = parentPort;
if (port === null) throw new Error('client-worker.js runs as a worker thread');
port.on('message', ({ id, job }: JobMessage) => {
  runJob(job, (event) => port.postMessage({ id, event }))
    .then((result) => port.postMessage({ id, result }))
    .catch((err: unknown) => port.postMessage({ id, error: err instanceof Error ? err.stack : String(err) }));
});
