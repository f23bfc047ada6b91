// Proves the rig: a real llama-server reuses a slot's prefix, saves and restores slot KV, and
// round-trips text through the model's tokenizer. Every later cache feature relies on these.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../../../bench/rig/server.js';
import { withServerLog } from '../../../bench/rig/server.js';
import { postJson, rigServer } from '../../helpers/llama.js';
import { setup } from '../../helpers/setup.js';

/** Some hundreds of tokens of ordinary text, different for each seed. */
function text(seed: number, words = 300): string {
  const vocab = ['cache', 'slot', 'prefix', 'token', 'server', 'model', 'prompt', 'reuse', 'restore', 'the', 'a', 'of', 'quick', 'brown', 'fox', 'llama'];
  const out: string[] = [];
  let x = seed;
  for (let i = 0; i < words; i++) { x = (x * 1103515245 + 12345) % 2147483648; out.push(vocab[x % vocab.length]!); }
  return out.join(' ');
}

interface Completion { content: string; timings: { cache_n: number; prompt_n: number }; tokens_evaluated: number }
const complete = (s: LlamaServer, prompt: string) =>
  postJson<Completion>(`${s.url}/completion`, { prompt, n_predict: 2, temperature: 0, id_slot: 0, cache_prompt: true });
const slotAction = (s: LlamaServer, action: string, filename?: string) =>
  postJson<Record<string, number | string>>(`${s.url}/slots/0?action=${action}`, filename ? { filename } : {});

// One slot and no host-RAM prompt cache: whatever a request reuses must come from the slot itself
// (or from a restored file), so these tests cannot pass by accident.
let server: LlamaServer | undefined;
const rig = suite('llama-server rig');
setup(rig, async () => { server = await rigServer({ slots: 1, cacheRamMiB: 0 }); });
rig.after(async () => { await server?.stop(); });
const withLog = (body: () => Promise<void>) => withServerLog(() => server, body);

rig('a second request on the same slot reuses the prefix (timings.cache_n)', withLog(async () => {
  const base = text(1);
  const first = await complete(server!, base);
  assert.ok(first.timings.prompt_n > 200, `prompt of ${first.timings.prompt_n} tokens is long enough to matter`);
  const second = await complete(server!, `${base} and one more sentence at the end`);
  assert.ok(second.timings.cache_n >= first.timings.prompt_n - 2, `reused ${second.timings.cache_n} of ${first.timings.prompt_n}`);
  assert.ok(second.timings.prompt_n < 20, `only the new tail is evaluated (${second.timings.prompt_n})`);
  const unrelated = await complete(server!, text(2));
  assert.ok(unrelated.timings.cache_n < 5, `an unrelated prompt reuses (almost) nothing: ${unrelated.timings.cache_n}`);
}));

rig('save, erase and restore a slot: the next request reuses the restored tokens', withLog(async () => {
  const prompt = text(3);
  const first = await complete(server!, prompt);
  const saved = await slotAction(server!, 'save', 'rig-test.bin');
  assert.ok(Number(saved.n_saved) >= first.timings.prompt_n, `saved ${saved.n_saved} tokens`);
  const file = join(server!.slotSavePath!, 'rig-test.bin');
  assert.ok(existsSync(file) && statSync(file).size > 0, 'the save wrote a file');

  // Control: after an erase the same prompt is evaluated from scratch.
  await slotAction(server!, 'erase');
  const afterErase = await complete(server!, prompt);
  assert.ok(afterErase.timings.cache_n < 5, `erase emptied the slot (cache_n ${afterErase.timings.cache_n})`);

  await slotAction(server!, 'erase');
  const restored = await slotAction(server!, 'restore', 'rig-test.bin');
  assert.is(Number(restored.n_restored), Number(saved.n_saved));
  const afterRestore = await complete(server!, prompt);
  assert.ok(afterRestore.timings.cache_n >= first.timings.prompt_n - 2,
    `restored tokens reused: ${afterRestore.timings.cache_n} of ${first.timings.prompt_n}`);
}));

rig('the tokenizer round-trips text through /tokenize and /detokenize', withLog(async () => {
  const samples = ['Hello world', 'Ünïcödé — 日本語のテキスト 🙂', 'function f(x) {\n\treturn x * 2; // twice\n}', '  leading spaces and trailing  '];
  for (const content of samples) {
    const { tokens } = await postJson<{ tokens: number[] }>(`${server!.url}/tokenize`, { content, add_special: false });
    assert.ok(tokens.length > 0);
    const back = await postJson<{ content: string }>(`${server!.url}/detokenize`, { tokens });
    // SentencePiece (llama-spm) prepends a space to the text it encodes, and /detokenize keeps it.
    assert.is(back.content, ` ${content}`);
  }
  // A real vocabulary merges common words: far fewer tokens than characters.
  const { tokens } = await postJson<{ tokens: number[] }>(`${server!.url}/tokenize`, { content: text(4, 100), add_special: false });
  assert.ok(tokens.length < 200, `${tokens.length} tokens for 100 words`);
}));

rig('the chat template renders roles, content parts, tools and tool calls', withLog(async () => {
  const { prompt } = await postJson<{ prompt: string }>(`${server!.url}/apply-template`, {
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'list files' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'ls', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'a.txt' },
    ],
    tools: [{ type: 'function', function: { name: 'ls', description: 'list files', parameters: { type: 'object', properties: {} } } }],
  });
  assert.match(prompt, /^<\|system\|>\nTools:\n\{.*"name":\s*"ls".*\}\n<\|end\|>\n/);
  assert.ok(prompt.includes('<|system|>\nbe brief<|end|>\n<|user|>\nlist files<|end|>\n'), prompt);
  assert.match(prompt, /<\|assistant\|>\n\n<\|tool_call\|>\{.*"name":\s*"ls".*\}<\|end\|>\n<\|tool\|>\na\.txt<\|end\|>\n<\|assistant\|>\n$/);
}));

rig.run();
