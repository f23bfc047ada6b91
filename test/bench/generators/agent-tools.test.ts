import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TOOLS, toolCall } from '../../../bench/generators/agent-tools.js';
import { Rng, approxTokens } from '../../../bench/generators/random.js';

const tools = suite('agent-tools');

tools('six Anthropic tool definitions with object schemas naming their required keys', () => {
  assert.equal(TOOLS.map((t) => t.name), ['Bash', 'Read', 'Edit', 'Grep', 'Glob', 'Write']);
  for (const tool of TOOLS) {
    assert.ok(tool.description.length > 40);
    const schema = tool.input_schema as { type: string; properties: Record<string, unknown>; required: string[] };
    assert.is(schema.type, 'object');
    for (const key of schema.required) assert.ok(key in schema.properties, `${tool.name}.${key}`);
  }
});

tools('calls carry the required inputs of their tool and results within the budget', () => {
  const rng = new Rng(1);
  const names = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const call = toolCall(rng, '/home/dev/demo', 400);
    names.add(call.name);
    const tool = TOOLS.find((t) => t.name === call.name);
    assert.ok(tool, call.name);
    for (const key of (tool.input_schema as { required: string[] }).required) assert.ok(key in call.input, `${call.name} lacks ${key}`);
    assert.ok(approxTokens(call.output) <= 400, `${call.name}: ${approxTokens(call.output)}`);
    assert.ok(call.output.length > 0);
  }
  assert.is(names.size, TOOLS.length, 'every tool gets called');
});

tools.run();
