import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenarios } from '../../../bench/generators/index.js';
import { approxTokens } from '../../../bench/generators/random.js';
import { RERUN_DEFAULTS, generate } from '../../../bench/generators/rerun.js';
import { traceFromJsonl, traceToJsonl } from '../../../bench/trace.js';
import { textOf } from './replay.js';

const rerun = suite('rerun');

rerun('the same seed gives byte-identical JSONL, another seed a different trace', () => {
  assert.is(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 42)));
  assert.is.not(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 43)));
});

rerun('two passes of independent single-request tasks at temperature 0', () => {
  for (const params of [{}, scenarios.rerun.quick, scenarios.rerun.full]) {
    const p = { ...RERUN_DEFAULTS, ...params };
    const trace = generate(params, 1);
    assert.equal(trace.header, { scenario: 'rerun', seed: 1, params: p, passes: 2 });
    assert.is(trace.sessions.length, p.tasks);
    const prompts = new Set<string>();
    for (const session of trace.sessions) {
      assert.is(session.steps.length, 1);
      const [step] = session.steps;
      assert.is(step!.kind, 'turn');
      assert.is(step!.thinkMs, 0);
      assert.equal(step!.params, { model: 'bench', max_tokens: p.answerTokens, temperature: 0 });
      const [system, user] = step!.messages;
      assert.is(system!.role, 'system');
      assert.is(user!.role, 'user');
      assert.match(textOf(user), /Answer:$/);
      const size = approxTokens(textOf(system)) + approxTokens(textOf(user));
      assert.ok(Math.abs(size - p.promptTokens) <= p.promptTokens * 0.05, `prompt ${size}`);
      prompts.add(textOf(user));
    }
    assert.is(prompts.size, p.tasks, 'tasks differ');
  }
});

rerun('adding a task leaves the others as they were', () => {
  assert.equal(generate({ tasks: 5 }, 3).sessions.slice(0, 4), generate({ tasks: 4 }, 3).sessions);
});

rerun('JSONL round trip keeps passes', () => {
  const trace = generate({}, 4);
  const back = traceFromJsonl(traceToJsonl(trace));
  assert.equal(back, trace);
  assert.is(back.header.passes, 2);
});

rerun.run();
