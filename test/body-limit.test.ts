import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readBody } from '../src/body-limit.js';
import { BodyTooLargeError, SlotkeeperError } from '../src/errors.js';

const bytes = (text: string) => new TextEncoder().encode(text);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const body = suite('readBody');

body('reads every chunk into one exact-size ArrayBuffer', async () => {
  const source = Readable.from([bytes('{"a":'), bytes('1}')]);
  const buffer = await readBody(source, { limitBytes: 100 });
  assert.instance(buffer, ArrayBuffer);
  // Exact size proves the buffer is ours alone, not a slice of Node's shared pool.
  assert.is(buffer.byteLength, 7);
  assert.is(new TextDecoder().decode(buffer), '{"a":1}');
});

body('a body exactly at the limit is accepted', async () => {
  const buffer = await readBody(Readable.from([bytes('12345')]), { limitBytes: 5 });
  assert.is(buffer.byteLength, 5);
});

body('an empty body is an empty buffer', async () => {
  const buffer = await readBody(Readable.from([]), { limitBytes: 5 });
  assert.is(buffer.byteLength, 0);
});

body('passing the limit rejects and stops reading', async () => {
  const source = Readable.from([bytes('1234'), bytes('5678'), bytes('9')]);
  const err = await rejection(readBody(source, { limitBytes: 6 }));
  assert.instance(err, BodyTooLargeError);
  assert.is((err as BodyTooLargeError).code, 'body_too_large');
  assert.ok(source.isPaused());
  assert.not.ok(source.readableEnded);
});

body('a declared length over the limit rejects before reading', async () => {
  const source = Readable.from([bytes('12')]);
  const err = await rejection(readBody(source, { limitBytes: 6, declaredLength: 7 }));
  assert.instance(err, BodyTooLargeError);
  assert.is(source.readableFlowing, false);
});

body('a stream closed before its end is client_closed_request', async () => {
  const source = new Readable({ read() {} });
  const pending = readBody(source, { limitBytes: 100 });
  source.push(bytes('partial'));
  source.destroy();
  const err = await rejection(pending);
  assert.instance(err, SlotkeeperError);
  assert.is((err as SlotkeeperError).code, 'client_closed_request');
});

body('a stream error is client_closed_request with the error as cause', async () => {
  const source = new Readable({ read() {} });
  const pending = readBody(source, { limitBytes: 100 });
  const reset = new Error('ECONNRESET');
  source.destroy(reset);
  const err = (await rejection(pending)) as SlotkeeperError;
  assert.is(err.code, 'client_closed_request');
  assert.is(err.cause, reset);
});

body.run();
