import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeRequest } from '../../workers/analyze.js';
import { jsonShapeProblem, MAX_JSON_DEPTH, MAX_JSON_VALUES } from '../../workers/json-shape.js';

const encode = (text: string) => new TextEncoder().encode(text).buffer;
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const shape = suite('json-shape');

shape('nesting is counted without recursion, up to the limit', () => {
  assert.is(jsonShapeProblem(JSON.parse(nested(MAX_JSON_DEPTH))), null);
  assert.match(jsonShapeProblem(JSON.parse(nested(MAX_JSON_DEPTH + 1))) ?? '', 'deeper than 256');
  assert.match(jsonShapeProblem(JSON.parse(nested(100_000))) ?? '', 'deeper');
});

shape('numbers beyond double range are refused, not sent on as null', () => {
  assert.match(jsonShapeProblem(JSON.parse('{"temperature":-1e999}')) ?? '', 'too large');
  assert.match(jsonShapeProblem(JSON.parse('{"a":[{"b":[1e400]}]}')) ?? '', 'too large');
  assert.is(jsonShapeProblem(JSON.parse('{"a":[1.7e308,-5e-324,0]}')), null);
});

shape('a body of more values than the analysis can hold is refused', () => {
  assert.is(jsonShapeProblem({ messages: new Array(MAX_JSON_VALUES - 1).fill(1) }), null);
  assert.match(jsonShapeProblem({ messages: new Array(MAX_JSON_VALUES).fill(1) }) ?? '', 'more than 4000000 JSON values');
  assert.match(jsonShapeProblem({ a: new Array(3_000_000).fill({}), b: new Array(1_000_001).fill(0) }) ?? '', 'JSON values');
});

shape('analysis answers 400 for both, where it threw on 20k levels inside a field', () => {
  const cases: [string, 'chat' | 'completions'][] = [
    [`{"messages":[{"role":"user","content":"x"}],"tools":${nested(20_000)}}`, 'chat'],
    [`{"prompt":${nested(20_000)}}`, 'completions'],
    ['{"messages":[{"role":"user","content":"x"}],"temperature":-1e999}', 'chat'],
  ];
  for (const [body, route] of cases) {
    const result = analyzeRequest({ body: encode(body), route, blockChars: 64, cacheKeys: true });
    assert.is(result.ok ? 'ok' : result.code, 'invalid_json', body.slice(0, 60));
  }
});

shape.run();
