// One entry for the cross-runtime suite, so each runtime runs it with one command:
//   node dist/test/runtime/index.js
//   npx bun dist/test/runtime/index.js
//   npx deno run -A dist/test/runtime/index.js
// (Deno needs -A: env for uvu's colours, net, read, and FFI for msgpackr's native extension.)
// No top-level await in these files: uvu starts running on a timer after the last suite's
// .run(), and an await would let it start before every file has registered.
import { exitIfStillRunningAfter } from '../helpers/watchdog.js';
import './piscina.test.js';
import './prom-client.test.js';
import './msgpackr.test.js';
import './hyperid.test.js';
import './http-server.test.js';
import './signals.test.js';

// The suite takes well under a second, but `npm test` imports every test file into one process
// before running any, so this timer also covers the whole run (about a minute on 2 busy cores).
exitIfStillRunningAfter(180_000);
