import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeRequest } from '../../workers/analyze.js';
import { BILLING_RULE, createNormalizer, defaultNormalizeConfig, type NormalizeConfig, type NormalizeRuleConfig } from '../../workers/normalize.js';

const HEADER = 'x-anthropic-billing-header: cc_version=2.1.63.a43; cc_entrypoint=sdk-cli; cch=e2224;';
const FIXED = 'x-anthropic-billing-header: cc_version=0; cc_entrypoint=0; cch=0;';

const rule = (fields: Partial<NormalizeRuleConfig> & Pick<NormalizeRuleConfig, 'pattern'>): NormalizeRuleConfig => ({
  name: 'r', target: 'system', flags: '', replacement: '', enabled: true, ...fields,
});
const config = (over: Partial<NormalizeConfig> = {}): NormalizeConfig => ({ ...defaultNormalizeConfig, ...over });
const anthropicBody = (system: unknown) => ({ model: 'm', system, messages: [{ role: 'user', content: 'hi' }] });

const billing = suite('workers/normalize: claude-code-billing-header');

billing('system as blocks: the first text block\'s fields become the fixed value, nothing else changes', () => {
  const body = anthropicBody([{ type: 'text', text: HEADER }, { type: 'text', text: 'You are Claude Code.' }]);
  const applied = createNormalizer(config()).normalize(body, 'messages');
  assert.equal(body.system, [{ type: 'text', text: FIXED }, { type: 'text', text: 'You are Claude Code.' }]);
  assert.equal(applied, [{ rule: BILLING_RULE, bytes: '2.1.63.a43sdk-clie2224'.length }]);
});

billing('two requests that differ only in the header normalize to the same body', () => {
  const a = anthropicBody(`${HEADER}\nYou are Claude Code.`);
  const b = anthropicBody(`${HEADER.replace('a43', '9f1').replace('e2224', '0b7c1')}\nYou are Claude Code.`);
  const n = createNormalizer(config());
  n.normalize(a, 'messages');
  n.normalize(b, 'messages');
  assert.equal(a, b);
  assert.is(a.system, `${FIXED}\nYou are Claude Code.`);
});

billing('an extra field such as cc_workload is fixed too, and the line ends where its fields do', () => {
  const body = anthropicBody(`${HEADER} cc_workload=batch;You are`);
  createNormalizer(config()).normalize(body, 'messages');
  assert.is(body.system, `${FIXED} cc_workload=0;You are`);
});

billing('remove mode drops the line and its line break, and only that', () => {
  const body = anthropicBody(`${HEADER}\nYou are Claude Code.\nx-anthropic-billing-header: cch=1;`);
  const applied = createNormalizer(config({ billingHeader: 'remove' })).normalize(body, 'messages');
  assert.is(body.system, 'You are Claude Code.\nx-anthropic-billing-header: cch=1;');
  assert.is(applied[0]?.bytes, HEADER.length + 1);
});

billing('a header that is not at the very start, or in a later block, or in a message is left alone', () => {
  const n = createNormalizer(config());
  const cases = [
    anthropicBody(` ${HEADER}`),
    anthropicBody([{ type: 'text', text: 'You are' }, { type: 'text', text: HEADER }]),
    { system: 'plain', messages: [{ role: 'user', content: HEADER }] },
    anthropicBody('no header at all'),
    { messages: [{ role: 'user', content: 'no system prompt' }] },
  ];
  for (const body of cases) {
    const before = JSON.stringify(body);
    assert.equal(n.normalize(body, 'messages'), []);
    assert.is(JSON.stringify(body), before);
  }
});

billing('JSON escapes cannot hide it: the rule sees decoded strings', () => {
  // The client escaped every character of the header prefix and put quotes and a newline after it.
  const escaped = [...'x-anthropic-billing-header:'].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const text = `{"model":"m","system":"${escaped} cc_version=1.a; cch=abcde;\\n\\"quoted\\" rest","messages":[{"role":"user","content":"hi"}]}`;
  const result = analyzeRequest({ body: new TextEncoder().encode(text).buffer, route: 'count_tokens', blockChars: 16 }, createNormalizer(config()));
  assert.ok(result.ok);
  const forwarded = JSON.parse(new TextDecoder().decode(result.ok ? result.forward : new ArrayBuffer(0)));
  assert.is(forwarded.system, 'x-anthropic-billing-header: cc_version=0; cch=0;\n"quoted" rest');
});

billing('OpenAI form: the first system message, as a string or its first text part', () => {
  const n = createNormalizer(config());
  const a = { messages: [{ role: 'system', content: `${HEADER}\nrest` }, { role: 'user', content: HEADER }] };
  n.normalize(a, 'chat');
  assert.equal(a.messages, [{ role: 'system', content: `${FIXED}\nrest` }, { role: 'user', content: HEADER }]);
  const b = { messages: [{ role: 'system', content: [{ type: 'text', text: HEADER }] }] };
  n.normalize(b, 'chat');
  assert.equal(b.messages[0]?.content, [{ type: 'text', text: FIXED }]);
});

billing('off: nothing changes; an already fixed header counts as no change', () => {
  const body = anthropicBody(HEADER);
  assert.equal(createNormalizer(config({ billingHeader: 'off' })).normalize(body, 'messages'), []);
  assert.is(body.system, HEADER);
  const fixed = anthropicBody(FIXED);
  assert.equal(createNormalizer(config()).normalize(fixed, 'messages'), []);
});

billing('a very large prompt: one anchored match, the rest untouched', () => {
  const rest = 'x'.repeat(4_000_000);
  const body = anthropicBody(`${HEADER}\n${rest}`);
  const applied = createNormalizer(config()).normalize(body, 'messages');
  assert.is(body.system, `${FIXED}\n${rest}`);
  assert.equal(applied, [{ rule: BILLING_RULE, bytes: '2.1.63.a43sdk-clie2224'.length }]);
});

billing('samples: the first 200 bytes before and after, only when asked', () => {
  const body = anthropicBody(`${HEADER}\n${'y'.repeat(500)}`);
  const [applied] = createNormalizer(config()).normalize(body, 'messages', true);
  assert.is(applied?.before, `${HEADER}\n${'y'.repeat(500)}`.slice(0, 200));
  assert.is(applied?.after, `${FIXED}\n${'y'.repeat(500)}`.slice(0, 200));
  const [quiet] = createNormalizer(config()).normalize(anthropicBody(HEADER), 'messages');
  assert.is(quiet?.before, undefined);
});

billing.run();

const user = suite('workers/normalize: user rules');

user('each target reaches its strings only, in both dialects', () => {
  const date = (target: NormalizeRuleConfig['target']) =>
    createNormalizer(config({ rules: [rule({ name: 'date', target, pattern: '\\d{4}-\\d{2}-\\d{2}', replacement: 'DATE' })] }));
  const anthropic = () => ({
    system: [{ type: 'text', text: 'today 2026-11-22' }],
    messages: [
      { role: 'user', content: 'on 2026-11-22' },
      { role: 'assistant', content: [{ type: 'text', text: 'at 2026-11-22' }, { type: 'tool_use', id: 't', name: 'date', input: { d: '2026-11-22' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: '2026-11-22' }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'now 2026-11-22' }] }] },
    ],
  });
  const sys = anthropic();
  date('system').normalize(sys, 'messages');
  assert.match(JSON.stringify(sys.system), 'DATE');
  assert.is(JSON.stringify(sys.messages).includes('DATE'), false);
  const msgs = anthropic();
  date('messages').normalize(msgs, 'messages');
  assert.is(JSON.stringify(msgs.messages).match(/DATE/g)?.length, 2);
  assert.is((msgs.messages[1]?.content as { input?: unknown }[])[1]?.input !== undefined, true);
  assert.match(JSON.stringify(msgs.messages[1]), '"d":"2026-11-22"');
  const tools = anthropic();
  date('tool_results').normalize(tools, 'messages');
  assert.is(JSON.stringify(tools.messages).match(/DATE/g)?.length, 2);
  assert.match(JSON.stringify(tools.system), '2026-11-22');

  const openai = () => ({ messages: [
    { role: 'system', content: 'today 2026-11-22' },
    { role: 'user', content: [{ type: 'text', text: 'on 2026-11-22' }] },
    { role: 'tool', tool_call_id: 't', content: '2026-11-22' },
  ] });
  for (const [target, index] of [['system', 0], ['messages', 1], ['tool_results', 2]] as const) {
    const body = openai();
    date(target).normalize(body, 'chat');
    const changed = body.messages.map((m) => JSON.stringify(m).includes('DATE'));
    assert.equal(changed, [0, 1, 2].map((i) => i === index), target);
  }
});

user('replacement groups, counted bytes, and a disabled rule', () => {
  const n = createNormalizer(config({ rules: [
    rule({ name: 'session', target: 'messages', pattern: 'session=(?<id>[0-9a-f]+)', replacement: 'session=<$1>' }),
    rule({ name: 'off', target: 'messages', pattern: 'keep', replacement: 'gone', enabled: false }),
  ] }));
  const body = { messages: [{ role: 'user', content: 'keep session=abc1 and session=ff' }] };
  const applied = n.normalize(body, 'chat');
  assert.is(body.messages[0]?.content, 'keep session=<abc1> and session=<ff>');
  assert.equal(applied, [{ rule: 'session', bytes: 'session=abc1session=ff'.length }]);
});

user('rules run in order after the built-in one; raw completions are never touched', () => {
  const n = createNormalizer(config({ rules: [rule({ name: 'after', pattern: 'cc_version=0', replacement: 'V' })] }));
  const body = anthropicBody(HEADER);
  assert.equal(n.normalize(body, 'messages').map((a) => a.rule), [BILLING_RULE, 'after']);
  assert.is(body.system, 'x-anthropic-billing-header: V; cc_entrypoint=0; cch=0;');
  const completion = { prompt: HEADER };
  assert.equal(n.normalize(completion, 'completions'), []);
});

user.run();
