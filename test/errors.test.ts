import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BodyTooLargeError,
  SlotkeeperError,
  errorFromWorker,
  renderError,
  type AnthropicErrorBody,
  type OpenAIErrorBody,
} from '../src/errors.js';

const openai = (err: unknown) => renderError(err, 'openai') as { status: number; body: OpenAIErrorBody };
const anthropic = (err: unknown) => renderError(err, 'anthropic') as { status: number; body: AnthropicErrorBody };

const classes = suite('errors: classes');

classes('SlotkeeperError carries code, status and cause', () => {
  const cause = new Error('root');
  const err = new SlotkeeperError('not_found', 'nope', { cause });
  assert.instance(err, Error);
  assert.is(err.code, 'not_found');
  assert.is(err.status, 404);
  assert.is(err.cause, cause);
  assert.is(err.message, 'nope');
});

classes('BodyTooLargeError is a 413 body_too_large with its limit', () => {
  const err = new BodyTooLargeError(64);
  assert.instance(err, SlotkeeperError);
  assert.is(err.code, 'body_too_large');
  assert.is(err.status, 413);
  assert.is(err.limitBytes, 64);
});

classes.run();

const render = suite('errors: renderError');

render('defaults to the OpenAI shape', () => {
  const { status, body } = renderError(new SlotkeeperError('invalid_json', 'bad'));
  assert.is(status, 400);
  assert.equal(body, { error: { message: 'bad', type: 'invalid_request_error', code: 'invalid_json' } });
});

render('5xx codes are server_error', () => {
  const { status, body } = openai(new SlotkeeperError('not_implemented', 'later'));
  assert.is(status, 501);
  assert.is(body.error.type, 'server_error');
  assert.is(body.error.code, 'not_implemented');
});

render('a foreign Error becomes 500 internal_error naming slotkeeper, without its text', () => {
  const { status, body } = openai(new TypeError('secret internals'));
  assert.is(status, 500);
  assert.is(body.error.code, 'internal_error');
  assert.is(body.error.type, 'server_error');
  assert.match(body.error.message, /slotkeeper/);
  assert.not.match(body.error.message, /secret/);
});

render('a thrown non-Error is handled too', () => {
  assert.is(openai('a string').status, 500);
  assert.is(openai(undefined).body.error.code, 'internal_error');
});

render('anthropic dialect', () => {
  assert.equal(anthropic(new SlotkeeperError('not_found', 'x')).body, {
    type: 'error',
    error: { type: 'not_found_error', message: 'x' },
  });
  assert.is(anthropic(new BodyTooLargeError(1)).body.error.type, 'request_too_large');
  assert.is(anthropic(new SlotkeeperError('invalid_json', 'x')).body.error.type, 'invalid_request_error');
  assert.is(anthropic(new SlotkeeperError('method_not_allowed', 'x')).body.error.type, 'invalid_request_error');
  assert.is(anthropic(new Error('x')).body.error.type, 'api_error');
  assert.is(anthropic(new Error('x')).status, 500);
});

render.run();

const worker = suite('errors: errorFromWorker');

worker('rebuilds a known code with its status', () => {
  const err = errorFromWorker({ ok: false, code: 'invalid_json', message: 'bad json' });
  assert.instance(err, SlotkeeperError);
  assert.is(err.code, 'invalid_json');
  assert.is(err.status, 400);
  assert.is(err.message, 'bad json');
});

worker('an unknown code becomes internal_error, keeping the original as cause', () => {
  const err = errorFromWorker({ ok: false, code: 'weird', message: 'what' });
  assert.is(err.code, 'internal_error');
  assert.is(err.status, 500);
  assert.match(String(err.cause), /weird: what/);
});

worker('inherited object keys are not codes', () => {
  assert.is(errorFromWorker({ ok: false, code: 'toString', message: '' }).code, 'internal_error');
});

worker("a worker's internal error reaches the client as slotkeeper's, its text only in the cause (issue #16)", () => {
  const err = errorFromWorker({ ok: false, code: 'internal_error', message: "Cannot read properties of undefined (reading 'x') at /srv/app/workers/canonical.js:12" });
  assert.is(err.code, 'internal_error');
  assert.match(String(err.cause), '/srv/app');
  const { body } = renderError(err, 'openai', 'req-1');
  assert.equal(body, { error: { message: 'slotkeeper: internal error (request req-1)', type: 'server_error', code: 'internal_error' } });
  // Even a SlotkeeperError built with internal text renders the fixed message.
  const direct = renderError(new SlotkeeperError('internal_error', 'ENOENT /home/me/.cache'), 'anthropic');
  assert.equal(direct.body, { type: 'error', error: { type: 'api_error', message: 'slotkeeper: internal error' } });
});

worker.run();
