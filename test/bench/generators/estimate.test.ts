import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MESSAGE_OVERHEAD_TOKENS as M, estimateReplay, sentTokens, sessionPromptTokens } from '../../../bench/generators/estimate.js';
import { approxTokens as t } from '../../../bench/generators/random.js';
import type { Trace, TraceStep } from '../../../bench/trace.js';

const step = (kind: TraceStep['kind'], messages: string[], extra: Partial<TraceStep> = {}): TraceStep =>
  ({ kind, dialect: 'openai', thinkMs: 0, messages: messages.map((content) => ({ role: 'user', content })), params: { max_tokens: 10 }, ...extra });

const estimate = suite('estimate');

estimate('follows the replay rules: turns grow the history, sides leave it, rewrites replace it', () => {
  const a = 'a system prompt of some words', b = 'first question', c = 'make a title', d = 'second question', e = 'summary so far', f = 'third';
  const session = { id: 's', steps: [step('turn', [a, b]), step('side', [c]), step('turn', [d]), step('rewrite', [e]), step('turn', [f])] };
  const answer = M + 10;
  const first = 2 * M + t(a) + t(b);
  const second = first + answer + M + t(d);
  const rewritten = M + t(e);
  assert.equal(sessionPromptTokens(session), [first, M + t(c), second, rewritten, rewritten + answer + M + t(f)]);
});

estimate('counts the system and tools params, tool calls and tool results', () => {
  const system = [{ type: 'text', text: 'be brief' }];
  const tools = [{ name: 'Read', description: 'reads', input_schema: { type: 'object' } }];
  const use = { type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: '/x' } };
  const params = { max_tokens: 4, system, tools };
  const session = { id: 's', steps: [
    { kind: 'turn' as const, dialect: 'anthropic' as const, thinkMs: 0, messages: [{ role: 'user', content: [{ type: 'text', text: 'go' }] }], params },
    { kind: 'turn' as const, dialect: 'anthropic' as const, thinkMs: 0, assistantAppend: [use], messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'file body' }] }], params },
  ] };
  const fixed = M + t('be brief') + M + t(JSON.stringify(tools));
  const call = t(JSON.stringify({ name: 'Read', arguments: JSON.stringify(use.input) }));
  const first = fixed + M + t('go');
  assert.equal(sessionPromptTokens(session), [first, first + M + 4 + call + M + M + t('file body')]);
});

estimate('a trace estimate sums sessions and multiplies by passes', () => {
  const trace: Trace = { header: { scenario: 'x', seed: 1, params: {} }, sessions: [
    { id: 'a', steps: [step('turn', ['one two three'])] },
    { id: 'b', steps: [step('turn', ['four']), step('turn', ['five six'])] },
  ] };
  const one = sessionPromptTokens(trace.sessions[0]!)[0]!;
  const two = sessionPromptTokens(trace.sessions[1]!);
  const once = one + two[0]! + two[1]!;
  assert.equal(estimateReplay(trace), { requests: 3, sentTokens: once, maxPromptTokens: Math.max(one, ...two), answerTokens: 30 });
  trace.header.passes = 2;
  assert.is(sentTokens(trace), 2 * once);
  assert.is(estimateReplay(trace).requests, 6);
});

estimate.run();
