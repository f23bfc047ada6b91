import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ModelRules, type ModelSource, type ServedModel, listModels, resolveModel } from '../../src/fleet/models.js';
import type { UpstreamState } from '../../src/fleet/upstream.js';

// --- helpers -------------------------------------------------------------------------------

interface Source extends ModelSource {
  name: string;
}

function model(id: string, aliases: string[] = [id], ownedBy = 'llamacpp'): ServedModel {
  return { id, aliases, ownedBy, created: 100 };
}

/** An upstream seen ready once (generation 1) that serves `models`. */
function source(name: string, state: UpstreamState, models: ServedModel[]): Source {
  return { name, state, generation: 1, modelInfo: models };
}

/** An upstream never seen ready: its models are not known. */
function unseen(name: string, state: UpstreamState = 'down'): Source {
  return { name, state, generation: 0, modelInfo: [] };
}

function rules(over: Partial<ModelRules> = {}): ModelRules {
  return { aliases: {}, defaultModel: null, ...over };
}

/** The outcome as `model@names` or the error code. */
function outcome(requested: string | null, sources: Source[], r: ModelRules = rules()): string {
  const res = resolveModel(requested, sources, r);
  return res.ok ? `${res.model}@${res.upstreams.map((s) => s.name).join(',')}` : res.code;
}

const qwen = model('qwen');
const llama = model('llama');
const one = [source('A', 'ready', [qwen]), source('B', 'ready', [qwen])];
const two = [source('A', 'ready', [qwen]), source('B', 'ready', [llama])];

// --- suites ----------------------------------------------------------------------------------

const resolution = suite('models: resolution');

// [name, requested, sources, rules, expected]
const table: Array<[string, string | null, Source[], ModelRules, string]> = [
  ['exact id, two servers serve it', 'qwen', one, rules(), 'qwen@A,B'],
  ['exact id in a two-model fleet', 'llama', two, rules(), 'llama@B'],
  ['config alias to an id', 'gpt-4o', two, rules({ aliases: { 'gpt-4o': 'llama' } }), 'llama@B'],
  ['config alias to a server-side alias', 'gpt-4o', [source('A', 'ready', [model('q', ['q', 'qwen-7b'])]), source('B', 'ready', [llama])],
    rules({ aliases: { 'gpt-4o': 'qwen-7b' } }), 'q@A'],
  ['server-side alias (--alias a,b)', 'tinyB', [source('A', 'ready', [model('tinyA', ['tinyA', 'tinyB'])]), source('B', 'ready', [llama])],
    rules(), 'tinyA@A'],
  ['a served id wins over a config alias of the same name', 'qwen', two, rules({ aliases: { qwen: 'llama' } }), 'qwen@A'],
  ['a config alias wins over a server-side alias', 'x', [source('A', 'ready', [model('q', ['q', 'x'])]), source('B', 'ready', [llama])],
    rules({ aliases: { x: 'llama' } }), 'llama@B'],
  ['single-model fleet: any name goes to its model', 'gpt-4o', one, rules(), 'qwen@A,B'],
  ['single-model fleet: no model goes to its model', null, one, rules(), 'qwen@A,B'],
  ['single-model fleet: empty model string', '', one, rules(), 'qwen@A,B'],
  ['defaultModel: unknown name goes there', 'gpt-4o', two, rules({ defaultModel: 'llama' }), 'llama@B'],
  ['defaultModel: no model goes there', null, two, rules({ defaultModel: 'llama' }), 'llama@B'],
  ['defaultModel may be an alias', null, two, rules({ defaultModel: 'fast', aliases: { fast: 'qwen' } }), 'qwen@A'],
  ['defaultModel does not override an exact id', 'qwen', two, rules({ defaultModel: 'llama' }), 'qwen@A'],
  ['config alias to an unserved id falls back like any unknown name', 'gpt-4o', one, rules({ aliases: { 'gpt-4o': 'gone' } }), 'qwen@A,B'],
  ['unknown name, two models, no default: 404', 'gpt-4o', two, rules(), 'model_not_found'],
  ['no model, two models, no default: 404', null, two, rules(), 'model_not_found'],
  ['defaultModel nobody serves: 404', 'x', two, rules({ defaultModel: 'mistral' }), 'model_not_found'],
  ['served, but every server of it is draining: 503', 'llama', [source('A', 'ready', [qwen]), source('B', 'draining', [llama])], rules(), 'no_upstream'],
  ['served, but its only server is down: 503', 'llama', [source('A', 'ready', [qwen]), source('B', 'down', [llama])], rules(), 'no_upstream'],
  ['only ready servers are returned', 'qwen', [source('A', 'draining', [qwen]), source('B', 'ready', [qwen]), source('C', 'down', [qwen])], rules(), 'qwen@B'],
  ['single model, all down: 503, not 404', 'anything', [source('A', 'down', [qwen])], rules(), 'no_upstream'],
  ['unknown name while a server was never seen: 503', 'llama', [source('A', 'ready', [qwen]), source('B', 'ready', [model('m')]), unseen('C')], rules(), 'no_upstream'],
  ['no server ever seen: 503', 'qwen', [unseen('A'), unseen('B', 'probing')], rules(), 'no_upstream'],
  ['no upstreams at all: 404', 'qwen', [], rules(), 'model_not_found'],
  ['a known model is routed even while another server is unseen', 'qwen', [source('A', 'ready', [qwen]), unseen('B')], rules(), 'qwen@A'],
  ['llama-swap: one URL, many models', 'llama', [source('swap', 'ready', [qwen, llama, model('mistral')])], rules(), 'llama@swap'],
  ['llama-swap: unknown name is 404', 'gpt-4o', [source('swap', 'ready', [qwen, llama])], rules(), 'model_not_found'],
  ['a down server keeps its last known models for the single-model rule', 'x', [source('A', 'ready', [qwen]), source('B', 'down', [llama])], rules(), 'model_not_found'],
];

for (const [name, requested, sources, r, expected] of table) {
  resolution(name, () => assert.is(outcome(requested, sources, r), expected));
}

resolution('error messages name what was asked and what is served', () => {
  const notFound = resolveModel('gpt-4o', two, rules());
  assert.ok(!notFound.ok);
  if (!notFound.ok) {
    assert.match(notFound.message, "model 'gpt-4o' is not served");
    assert.match(notFound.message, "'qwen', 'llama'");
  }
  const down = resolveModel('llama', [source('B', 'down', [llama]), source('A', 'ready', [qwen])], rules());
  assert.ok(!down.ok);
  if (!down.ok) assert.match(down.message, "no upstream serving model 'llama' is ready (down)");
});

const listing = suite('models: list');

listing('merges ready upstreams, each id once, in fleet order', () => {
  const list = listModels([source('A', 'ready', [qwen]), source('B', 'ready', [llama, qwen])], {});
  assert.equal(list, {
    object: 'list',
    data: [
      { id: 'qwen', object: 'model', owned_by: 'llamacpp', created: 100 },
      { id: 'llama', object: 'model', owned_by: 'llamacpp', created: 100 },
    ],
  });
});

listing('leaves out models of upstreams that are not ready', () => {
  const list = listModels([source('A', 'ready', [qwen]), source('B', 'draining', [llama]), unseen('C')], {});
  assert.equal(list.data.map((m) => m.id), ['qwen']);
});

listing('adds one entry per alias whose target is listed, owned like its target', () => {
  const list = listModels(
    [source('A', 'ready', [model('qwen', ['qwen', 'q7'], 'llama-swap')]), source('B', 'down', [llama])],
    { 'gpt-4o': 'qwen', small: 'q7', gone: 'llama', qwen: 'llama' },
  );
  assert.equal(list.data, [
    { id: 'qwen', object: 'model', owned_by: 'llama-swap', created: 100 },
    { id: 'gpt-4o', object: 'model', owned_by: 'llama-swap', created: 100 },
    { id: 'small', object: 'model', owned_by: 'llama-swap', created: 100 },
  ]);
});

listing('an empty fleet lists nothing', () => {
  assert.equal(listModels([], { a: 'b' }), { object: 'list', data: [] });
});

resolution.run();
listing.run();
