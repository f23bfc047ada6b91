import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenarios } from '../../../bench/generators/index.js';
import { approxTokens } from '../../../bench/generators/random.js';
import { SHARED_PREFIX_DEFAULTS, generate } from '../../../bench/generators/shared-prefix.js';
import { traceFromJsonl, traceToJsonl } from '../../../bench/trace.js';
import { textOf } from './replay.js';

const shared = suite('shared-prefix');

shared('the same seed gives byte-identical JSONL, another seed a different trace', () => {
  assert.is(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 42)));
  assert.is.not(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 43)));
  assert.equal(generate({ users: 2 }, 7).header, { scenario: 'shared-prefix', seed: 7, params: { ...SHARED_PREFIX_DEFAULTS, users: 2 } });
});

shared('every session opens with the same system prompt of sharedTokens, then private messages', () => {
  for (const params of [{}, scenarios['shared-prefix'].quick, scenarios['shared-prefix'].full]) {
    const p = { ...SHARED_PREFIX_DEFAULTS, ...params };
    const trace = generate(params, 1);
    assert.is(trace.sessions.length, p.users);
    const first = trace.sessions[0]!.steps[0]!.messages[0]!;
    assert.is(first.role, 'system');
    const size = approxTokens(textOf(first));
    assert.ok(Math.abs(size - p.sharedTokens) <= p.sharedTokens * 0.02, `shared prompt ${size}`);
    const privates = new Set<string>();
    for (const session of trace.sessions) {
      assert.is(session.steps.length, p.turns);
      assert.is(JSON.stringify(session.steps[0]!.messages[0]), JSON.stringify(first));
      session.steps.forEach((step, i) => {
        assert.equal(step.params, { model: 'bench', max_tokens: p.answerTokens, temperature: 0 });
        const user = step.messages[i === 0 ? 1 : 0]!;
        assert.is(step.messages.length, i === 0 ? 2 : 1);
        assert.is(user.role, 'user');
        assert.ok(approxTokens(textOf(user)) <= p.privateTokens);
        privates.add(textOf(user));
      });
    }
    assert.is(privates.size, p.users * p.turns, 'private messages differ');
  }
});

shared('think times fall in their ranges', () => {
  for (const session of generate({}, 2).sessions) {
    session.steps.forEach((step, i) => {
      const [min, max] = i === 0 ? SHARED_PREFIX_DEFAULTS.startMs : SHARED_PREFIX_DEFAULTS.thinkMs;
      assert.ok(step.thinkMs >= min && step.thinkMs <= max);
    });
  }
});

shared('adding a user leaves the others as they were', () => {
  assert.equal(generate({ users: 4 }, 3).sessions.slice(0, 3), generate({ users: 3 }, 3).sessions);
});

shared('JSONL round trip', () => {
  const trace = generate({}, 4);
  assert.equal(traceFromJsonl(traceToJsonl(trace)), trace);
});

shared.run();
