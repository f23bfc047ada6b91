import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PrefixTrie, llamaServerTokenizer, oracleCounts } from '../../bench/oracle.js';
import type { LlamaServer } from '../../bench/rig/server.js';
import { withServerLog } from '../../bench/rig/server.js';
import { postJson, rigServer } from '../helpers/llama.js';
import { setup } from '../helpers/setup.js';

const pure = suite('oracle');

pure('counts what no earlier prompt shares as a prefix', () => {
  assert.equal(oracleCounts([
    [1, 2, 3, 4],       // nothing before: all 4
    [1, 2, 3, 4, 5, 6], // extends the first: 2 new
    [1, 2, 9],          // diverges after 2: 1 new
    [7, 8],             // unrelated: 2
    [1, 2, 3, 4, 5, 6], // exact repeat: the 1 token llama-server always evaluates
    [1, 2],             // a prefix of earlier prompts: 1
  ]), [4, 2, 1, 2, 1, 1]);
});

pure('the longest shared prefix is over all earlier prompts, not just the last', () => {
  const trie = new PrefixTrie();
  assert.is(trie.insert([5, 6, 7, 8]), 0);
  assert.is(trie.insert([9, 9]), 0);
  assert.is(trie.insert([5, 6, 7, 1]), 3);
  assert.is(trie.insert([]), 0);
});

pure.run();

// On the real server: the oracle tokenizes a prompt to exactly the tokens llama-server evaluates.
let server: LlamaServer | undefined;
const exact = suite('oracle on llama-server');
setup(exact, async () => { server = await rigServer({ slots: 1, cacheRamMiB: 0 }); });
exact.after(async () => { await server?.stop(); });

exact('an OpenAI chat prompt has as many tokens as the server processed', withServerLog(() => server, async () => {
  const body = {
    messages: [{ role: 'system', content: 'You review code.' }, { role: 'user', content: 'Is `let x = 1;` fine?' }],
    max_tokens: 2, temperature: 0,
  };
  const tokens = await llamaServerTokenizer(server!.url).tokens('openai', body);
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
  const tokens = await llamaServerTokenizer(server!.url).tokens('anthropic', body);
  const res = await postJson<{ usage: { input_tokens: number; cache_read_input_tokens: number } }>(`${server!.url}/v1/messages`, body);
  assert.is(tokens.length, res.usage.input_tokens + res.usage.cache_read_input_tokens);
}));

exact.run();
