import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PrefixTrie, llamaServerTokenizer, oracleCounts } from '../../bench/oracle.js';
import type { LlamaServer } from '../../bench/rig/server.js';
import { withServerLog } from '../../bench/rig/server.js';
import { postJson, rigServer } from '../helpers/llama.js';
import { setup } from '../helpers/setup.js';

const pure = suite('oracle');

const only = (prompt: number[]) => ({ prompt, processed: prompt });

pure('counts what no earlier prompt shares as a prefix', () => {
  assert.equal(oracleCounts([
    only([1, 2, 3, 4]),       // nothing before: all 4
    only([1, 2, 3, 4, 5, 6]), // extends the first: 2 new
    only([1, 2, 9]),          // diverges after 2: 1 new
    only([7, 8]),             // unrelated: 2
    only([1, 2, 3, 4, 5, 6]), // exact repeat: the 1 token llama-server always evaluates
    only([1, 2]),             // a prefix of earlier prompts: 1
  ]), [4, 2, 1, 2, 1, 1]);
});

pure('an earlier answer counts as cached: the next turn repeats it after the prompt', () => {
  assert.equal(oracleCounts([
    { prompt: [1, 2], processed: [1, 2, 30, 31] },      // answered 30 31
    { prompt: [1, 2, 30, 31, 4], processed: [1, 2, 30, 31, 4] }, // next turn: only 4 is new
    { prompt: [1, 2, 30, 99], processed: [1, 2, 30, 99] },       // diverges inside the answer
  ]), [2, 1, 1]);
});

pure('the longest shared prefix is over all earlier sequences, not just the last', () => {
  const trie = new PrefixTrie();
  trie.add([5, 6, 7, 8]);
  trie.add([9, 9]);
  assert.is(trie.match([5, 6, 7, 1]), 3);
  assert.is(trie.match([9, 9, 9]), 2);
  assert.is(trie.match([]), 0);
  assert.is(trie.match([4]), 0);
});

pure.run();

// On the real server: the oracle tokenizes a prompt to exactly the tokens llama-server evaluates.
let server: LlamaServer | undefined;
const exact = suite('oracle on llama-server');
setup(exact, async () => { server = await rigServer({ slots: 1, cacheRamMiB: 0 }); });
exact.after(async () => { await server?.stop(); });

exact('prompt plus answer tokenizes to what the slot holds, which the next turn reuses', withServerLog(() => server, async () => {
  const tokenizer = llamaServerTokenizer(server!.url);
  const first = { messages: [{ role: 'user', content: 'Describe the cache.' }], max_tokens: 8, temperature: 0 };
  const res = await postJson<{ choices: [{ message: { content: string } }] }>(`${server!.url}/v1/chat/completions`, first);
  const answer = res.choices[0].message.content;
  const { prompt, processed } = await tokenizer.tokens('openai', first, answer);
  const next = { messages: [...first.messages, { role: 'assistant', content: answer }, { role: 'user', content: 'More.' }], max_tokens: 1, temperature: 0 };
  const { prompt: nextTokens } = await tokenizer.tokens('openai', next);
  const [, oracle] = oracleCounts([{ prompt, processed }, { prompt: nextTokens, processed: nextTokens }]);
  const [, promptsOnly] = oracleCounts([{ prompt, processed: prompt }, { prompt: nextTokens, processed: nextTokens }]);
  assert.ok(answer.length > 0 && oracle! < promptsOnly!, `the answer counts as cached (${oracle} < ${promptsOnly})`);
  const again = await postJson<{ timings: { prompt_n: number; cache_n: number } }>(`${server!.url}/v1/chat/completions`, next);
  // The slot held prompt + generated tokens; the server can do no better than the oracle.
  assert.ok(again.timings.prompt_n >= oracle!, `evaluated ${again.timings.prompt_n}, oracle ${oracle}`);
}));

exact('an OpenAI chat prompt has as many tokens as the server processed', withServerLog(() => server, async () => {
  const body = {
    messages: [{ role: 'system', content: 'You review code.' }, { role: 'user', content: 'Is `let x = 1;` fine?' }],
    max_tokens: 2, temperature: 0,
  };
  const { prompt: tokens } = await llamaServerTokenizer(server!.url).tokens('openai', body);
  const res = await postJson<{ timings: { prompt_n: number; cache_n: number } }>(`${server!.url}/v1/chat/completions`, body);
  assert.is(tokens.length, res.timings.prompt_n + res.timings.cache_n);
}));

exact('an Anthropic prompt too, billing header and tool blocks included', withServerLog(() => server, async () => {
  const body = {
    model: 'x', max_tokens: 2, temperature: 0,
    system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.63.a43; cc_entrypoint=cli; cch=e2224;\nYou are an agent.' }],
    tools: [{ name: 'Bash', description: 'run a command', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }],
    messages: [
      { role: 'user', content: 'list the files' },
      { role: 'assistant', content: [{ type: 'text', text: 'Listing.' }, { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt\nb.txt' }] },
    ],
  };
  const { prompt: tokens } = await llamaServerTokenizer(server!.url).tokens('anthropic', body);
  const res = await postJson<{ usage: { input_tokens: number; cache_read_input_tokens: number } }>(`${server!.url}/v1/messages`, body);
  assert.is(tokens.length, res.usage.input_tokens + res.usage.cache_read_input_tokens);
}));

exact.run();
