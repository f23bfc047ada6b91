import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AGENT_DEFAULTS, generate } from '../../../bench/generators/agent.js';
import { scenarios } from '../../../bench/generators/index.js';
import { approxTokens } from '../../../bench/generators/random.js';
import { type TraceStep, traceFromJsonl, traceToJsonl } from '../../../bench/trace.js';
import { requestsOf, textOf } from './replay.js';

const HEADER = /^x-anthropic-billing-header: cc_version=(\d+\.\d+\.\d+)\.([0-9a-f]{3}); cc_entrypoint=cli; cch=([0-9a-f]{5});/;
type Block = { type: string; [key: string]: unknown };
const blocks = (content: unknown): Block[] => (Array.isArray(content) ? content as Block[] : []);
const header = (step: TraceStep): RegExpExecArray => {
  const first = blocks(step.params.system)[0];
  const match = HEADER.exec(typeof first?.text === 'string' ? first.text : '');
  assert.ok(match, `no billing header in ${JSON.stringify(first)}`);
  return match;
};
const full = generate(scenarios.agent.full, 1);
const allSteps = full.sessions.flatMap((s) => s.steps);

const agent = suite('agent');

agent('the same seed gives byte-identical JSONL, another seed a different trace', () => {
  assert.is(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 42)));
  assert.is.not(traceToJsonl(generate({}, 42)), traceToJsonl(generate({}, 43)));
  assert.equal(generate({}, 7).header, { scenario: 'agent', seed: 7, params: { ...AGENT_DEFAULTS } });
});

agent('every request starts its system prompt with a billing header; cch never repeats in the trace', () => {
  const seen = new Set<string>();
  for (const step of allSteps) {
    const [, version, , cch] = header(step);
    assert.is(version, AGENT_DEFAULTS.ccVersion);
    assert.ok(!seen.has(cch!), `cch ${cch} repeats`);
    seen.add(cch!);
  }
  assert.is(seen.size, allSteps.length);
});

agent('the version suffix changes on every request, or per conversation when asked', () => {
  for (const session of full.sessions) {
    const suffixes = session.steps.map((s) => header(s)[2]);
    for (let i = 1; i < suffixes.length; i++) assert.is.not(suffixes[i], suffixes[i - 1]);
  }
  const perConversation = generate({ ...scenarios.agent.quick, versionSuffix: 'conversation' }, 1);
  for (const session of perConversation.sessions) {
    session.steps.forEach((step, i) => {
      if (i === 0) return;
      const same = header(step)[2] === header(session.steps[i - 1]!)[2];
      assert.is(same, step.kind !== 'rewrite', `step ${i} (${step.kind})`);
    });
  }
});

agent('system blocks, tools and params are Claude-Code-shaped', () => {
  for (const step of allSteps) {
    assert.is(step.dialect, 'anthropic');
    const { model, max_tokens, temperature, system, tools } = step.params as Record<string, unknown>;
    assert.equal([model, max_tokens, temperature], ['bench', AGENT_DEFAULTS.answerTokens, 0]);
    const sys = blocks(system);
    assert.is(sys.length, 3);
    assert.ok(sys.every((b) => b.type === 'text' && typeof b.text === 'string'));
    assert.match(String(sys[1]!.text), /^You are Claude Code/);
    assert.equal((tools as { name: string }[]).map((t) => t.name), ['Bash', 'Read', 'Edit', 'Grep', 'Glob', 'Write']);
  }
  const size = approxTokens(blocks(allSteps[0]!.params.system).map((b) => String(b.text)).join(''));
  assert.ok(Math.abs(size - AGENT_DEFAULTS.systemTokens) < AGENT_DEFAULTS.systemTokens * 0.05, `system ${size}`);
});

agent('each turn answers exactly the tool calls appended to the previous answer', () => {
  const ids = new Set<string>();
  for (const session of full.sessions) {
    const [first, ...rest] = session.steps;
    assert.is(first!.kind, 'turn');
    assert.is(first!.assistantAppend, undefined);
    assert.ok(blocks(first!.messages[0]!.content).every((b) => b.type === 'text'));
    for (const step of rest.filter((s) => s.kind === 'turn')) {
      const uses = blocks(step.assistantAppend);
      assert.ok(uses.length === 1 || uses.length === 2);
      assert.ok(uses.every((u) => u.type === 'tool_use' && typeof u.name === 'string' && typeof u.input === 'object'));
      assert.is(step.messages.length, 1);
      assert.is(step.messages[0]!.role, 'user');
      const results = blocks(step.messages[0]!.content);
      assert.ok(results.every((r) => r.type === 'tool_result' && typeof r.content === 'string'));
      assert.equal(results.map((r) => r.tool_use_id), uses.map((u) => u.id));
      for (const u of uses) {
        assert.match(String(u.id), /^toolu_01[0-9A-Za-z]{22}$/);
        assert.ok(!ids.has(String(u.id)), 'tool_use ids are unique');
        ids.add(String(u.id));
      }
    }
  }
});

agent('the replayed history pairs every tool_use with its tool_result', () => {
  for (const session of full.sessions) {
    const requests = requestsOf(session);
    requests.forEach((messages) => {
      messages.forEach((m, i) => {
        const uses = blocks(m.content).filter((b) => b.type === 'tool_use').map((b) => b.id);
        if (uses.length === 0) return;
        assert.is(m.role, 'assistant');
        assert.equal(blocks(messages[i + 1]?.content).map((b) => b.tool_use_id), uses);
      });
    });
  }
});

agent('the full preset compacts: rewrites replace the history with a summary', () => {
  const rewrites = allSteps.filter((s) => s.kind === 'rewrite');
  assert.ok(rewrites.length > 0);
  for (const step of rewrites) {
    assert.is(step.messages.length, 1);
    assert.is(step.messages[0]!.role, 'user');
    assert.match(textOf(step.messages[0]), /^Summary of the conversation so far: /);
    assert.ok(approxTokens(textOf(step.messages[0])) <= AGENT_DEFAULTS.summaryTokens + 20);
  }
});

agent('tool outputs stay within toolOutputTokens, mostly small, some near the limit', () => {
  const limit = scenarios.agent.full.toolOutputTokens ?? AGENT_DEFAULTS.toolOutputTokens;
  // A distribution needs a sample: a longer trace than the full preset, with the same limit.
  const sample = generate({ ...scenarios.agent.full, sessions: 8, minTurns: 20, maxTurns: 30 }, 1).sessions.flatMap((s) => s.steps);
  const sizes = sample.flatMap((s) => s.kind === 'turn' ? blocks(s.messages[0]!.content).filter((b) => b.type === 'tool_result').map((b) => approxTokens(String(b.content))) : []);
  assert.ok(sizes.every((n) => n <= limit), `largest ${Math.max(...sizes)}`);
  assert.ok(Math.max(...sizes) >= limit * 0.8, `largest ${Math.max(...sizes)}`);
  const small = sizes.filter((n) => n <= limit * 0.1).length;
  assert.ok(small >= sizes.length * 0.3, `${small} small of ${sizes.length}`);
});

agent('turn counts and think times fall in their ranges', () => {
  const p = { ...AGENT_DEFAULTS, ...scenarios.agent.full };
  for (const session of full.sessions) {
    const turns = session.steps.filter((s) => s.kind === 'turn').length;
    assert.ok(turns >= p.minTurns && turns <= p.maxTurns, `${turns} turns`);
    session.steps.forEach((step, i) => {
      const [min, max] = i === 0 ? p.startMs : p.thinkMs;
      assert.ok(Number.isInteger(step.thinkMs) && step.thinkMs >= min && step.thinkMs <= max);
    });
  }
});

agent('adding a session leaves the others as they were', () => {
  const two = generate({ sessions: 2 }, 5);
  const three = generate({ sessions: 3 }, 5);
  assert.equal(three.sessions.slice(0, 2), two.sessions);
});

agent('JSONL round trip', () => {
  assert.equal(traceFromJsonl(traceToJsonl(full)), full);
});

agent('rejects bad parameters', () => {
  assert.throws(() => generate({ minTurns: 9, maxTurns: 3 }, 1), /agent\.maxTurns: expected an integer of at least 9/);
  assert.throws(() => generate({ ccVersion: '2.1' }, 1), /agent\.ccVersion: expected x\.y\.z/);
  assert.throws(() => generate({ toolOutputTokens: 50 }, 1), /agent\.toolOutputTokens/);
  assert.throws(() => generate({ versionSuffix: 'never' as 'request' }, 1), /agent\.versionSuffix: expected one of request, conversation/);
});

agent.run();
