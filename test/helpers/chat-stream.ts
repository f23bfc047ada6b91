// A chat completion stream as llama-server sends it with timings_per_token (server-task.cpp,
// to_json_oaicompat_chat and its final variant, de3ff815ea7d): for translation tests.

/** The fields every chunk of the scripted stream carries. */
export const CHUNK_HEAD = '"id":"chatcmpl-1","model":"m","object":"chat.completion.chunk"';

/** The `timings` member of a chunk after `predicted` tokens. */
export const chunkTimings = (predicted: number) => `"timings":{"cache_n":5,"prompt_n":7,"predicted_n":${predicted}}`;

/** One SSE chunk carrying `d` as its delta. */
export const chatDelta = (d: unknown, predicted: number, withTimings = true) =>
  `data: {"choices":[{"finish_reason":null,"index":0,"delta":${JSON.stringify(d)}}],${CHUNK_HEAD}${withTimings ? `,${chunkTimings(predicted)}` : ''}}\n\n`;

/** Reasoning, text, a ping and a tool call whose arguments arrive in pieces, then the end. */
export const TOOL_STREAM = [
  // The first token's partial: the role chunk, then its diff with the timings.
  chatDelta({ role: 'assistant', content: null }, 1, false),
  chatDelta({ reasoning_content: 'Let me' }, 1),
  chatDelta({ reasoning_content: ' look é.' }, 2),
  ':\n\n',
  chatDelta({ content: 'Reading.' }, 3),
  chatDelta({ tool_calls: [{ index: 0, id: 'call_9', type: 'function', function: { name: 'read_file', arguments: '' } }] }, 4),
  chatDelta({ tool_calls: [{ index: 0, function: { arguments: '{"path":' } }] }, 5),
  chatDelta({ tool_calls: [{ index: 0, function: { arguments: '"a.txt"}' } }] }, 6),
  `data: {"choices":[{"finish_reason":"tool_calls","index":0,"delta":{}}],${CHUNK_HEAD},"__verbose":{"stopping_word":""},${chunkTimings(9)}}\n\n`,
  'data: [DONE]\n\n',
].join('');
