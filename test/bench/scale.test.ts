import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { estimateReplay, generateScenario } from '../../bench/generators/index.js';
import { kvBytesPerToken, presetParams } from '../../bench/rig/model.js';
import { BENCH_MODEL, SCALED_CONTEXTS, serverSetup } from '../../bench/scale.js';

const scale = suite('scale');

scale('every scenario gets fewer slots than sessions, slots that hold its largest prompt, and a RAM cache of ~1.5 contexts', () => {
  const kv = kvBytesPerToken(presetParams(BENCH_MODEL));
  for (const name of ['team', 'agent', 'shared-prefix', 'rerun']) {
    for (const quick of [true, false]) {
      const trace = generateScenario(name, { quick });
      const setup = serverSetup(trace, quick);
      const { maxPromptTokens } = estimateReplay(trace);
      const label = `${name} ${quick ? 'quick' : 'full'}`;
      assert.is(setup.servers, 1);
      if (name !== 'rerun') assert.ok(setup.slots < trace.sessions.length, `${label}: ${setup.slots} slots for ${trace.sessions.length} sessions`);
      assert.ok(setup.ctxPerSlot >= maxPromptTokens * 1.3, `${label}: slot context ${setup.ctxPerSlot} for a ${maxPromptTokens}-token prompt`);
      const contexts = (setup.scaledCacheRamMiB * 2 ** 20) / (maxPromptTokens * kv);
      assert.ok(contexts >= SCALED_CONTEXTS && contexts < SCALED_CONTEXTS + 0.5, `${label}: cache holds ${contexts.toFixed(2)} contexts`);
    }
  }
});

scale('larger contexts from overrides grow the server with them; the fleet size passes through', () => {
  const small = serverSetup(generateScenario('team', { quick: true }), true);
  const large = serverSetup(generateScenario('team', { quick: true, overrides: { contextTokens: 8000 } }), true, 3);
  assert.ok(large.ctxPerSlot > small.ctxPerSlot);
  assert.ok(large.scaledCacheRamMiB > small.scaledCacheRamMiB);
  assert.is(large.servers, 3);
});

scale.run();
