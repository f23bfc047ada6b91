import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { normalizeRequest, normalizeRules } from '../../workers/normalize.js';

const normalize = suite('workers/normalize');

// When the first rule lands, its tests go here; until then the hook must be a no-op.
normalize('no rules yet: nothing changes and the answer is false', () => {
  assert.is(normalizeRules.length, 0);
  const body = { model: 'm', messages: [{ role: 'system', content: 'x-anthropic-billing-header: cc_version=1' }] };
  const before = JSON.stringify(body);
  assert.is(normalizeRequest(body, 'chat'), false);
  assert.is(normalizeRequest(body, 'completions'), false);
  assert.is(JSON.stringify(body), before);
});

normalize.run();
