import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scenarios } from '../../../bench/generators/index.js';
import { approxTokens } from '../../../bench/generators/random.js';
import { TEAM_DEFAULTS, generate } from '../../../bench/generators/team.js';
import { traceFromJsonl, traceToJsonl } from '../../../bench/trace.js';
import { requestsOf, textOf } from './replay.js';

const within = (value: number, [min, max]: [number, number]): boolean => Number.isInteger(value) && value >= min && value <= max;

const team = suite('team');

team('the same seed gives byte-identical JSONL, another seed a different trace', () => {
  assert.is(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 42)));
  assert.is.not(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 43)));
});

team('the header names the scenario, the seed and every resolved parameter', () => {
  const trace = generate({ users: 3 }, 9);
  assert.equal(trace.header, { scenario: 'team', seed: 9, params: { ...TEAM_DEFAULTS, users: 3 } });
  assert.is(trace.sessions.length, 3);
});

team('more users than slots in both presets (2 slots quick, 4 full)', () => {
  assert.ok(generate(scenarios.team.quick, 1).sessions.length > 2);
  assert.ok(generate(scenarios.team.full, 1).sessions.length > 4);
});

team('each user opens with a private context of contextTokens, then adds turnTokens a turn', () => {
  const trace = generate({}, 1);
  const systems = new Set<string>();
  for (const session of trace.sessions) {
    const turns = session.steps.filter((s) => s.kind === 'turn');
    assert.is(turns.length, TEAM_DEFAULTS.turns);
    const [system, user] = turns[0]!.messages;
    assert.is(system?.role, 'system');
    assert.is(user?.role, 'user');
    systems.add(textOf(system).slice(0, 60));
    const context = approxTokens(textOf(system)) + approxTokens(textOf(user));
    assert.ok(Math.abs(context - TEAM_DEFAULTS.contextTokens) <= TEAM_DEFAULTS.contextTokens * 0.05, `context ${context}`);
    for (const later of turns.slice(1)) {
      assert.is(later.messages.length, 1);
      assert.is(later.messages[0]?.role, 'user');
      assert.ok(approxTokens(textOf(later.messages[0])) <= TEAM_DEFAULTS.turnTokens);
    }
    for (const step of session.steps) {
      assert.is(step.dialect, 'openai');
      assert.equal(step.params, { model: 'bench', max_tokens: step.kind === 'side' ? TEAM_DEFAULTS.sideAnswerTokens : TEAM_DEFAULTS.answerTokens, temperature: 0 });
    }
  }
  assert.is(systems.size, trace.sessions.length, 'contexts are private');
});

team('side requests stand apart: the history goes on as if they were not there', () => {
  const trace = generate(scenarios.team.quick, 1);
  let sides = 0;
  for (const session of trace.sessions) {
    const requests = requestsOf(session);
    let previousTurn: number | null = null;
    session.steps.forEach((step, i) => {
      if (step.kind === 'side') {
        sides++;
        assert.is(step.messages.length, 1);
        assert.match(textOf(step.messages[0]), /^(Write a 5-word title|Summarize the user's request)/);
        assert.ok(approxTokens(textOf(step.messages[0])) <= 230);
        return;
      }
      if (previousTurn !== null) {
        // This turn's request is the previous turn's plus its answer and the new user message.
        const before = requests[previousTurn]!;
        assert.equal(requests[i]!.slice(0, before.length), before);
        assert.is(requests[i]!.length, before.length + 2);
      }
      previousTurn = i;
    });
  }
  assert.ok(sides > 0, 'the quick preset has side requests');
});

team('think times fall in their ranges', () => {
  const p = { ...TEAM_DEFAULTS, sideChance: 0.5 };
  for (const session of generate(p, 5).sessions) {
    session.steps.forEach((step, i) => {
      const range = step.kind === 'side' ? p.sideThinkMs : i === 0 ? p.startMs : p.thinkMs;
      assert.ok(within(step.thinkMs, range), `${step.kind} ${step.thinkMs}`);
    });
  }
});

team('adding a user leaves the others as they were', () => {
  const three = generate({ users: 3 }, 11);
  const four = generate({ users: 4 }, 11);
  assert.equal(four.sessions.slice(0, 3), three.sessions);
});

team('JSONL round trip', () => {
  const trace = generate(scenarios.team.quick, 3);
  assert.equal(traceFromJsonl(traceToJsonl(trace)), trace);
});

team('rejects bad parameters', () => {
  assert.throws(() => generate({ users: 0 }, 1), /team\.users: expected an integer of at least 1/);
  assert.throws(() => generate({ thinkMs: [9, 1] }, 1), /team\.thinkMs/);
});

team.run();
