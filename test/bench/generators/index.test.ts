import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_SEED, estimateReplay, generateScenario, scenarios, sentTokens } from '../../../bench/generators/index.js';
import { traceToJsonl } from '../../../bench/trace.js';

/** The prefill rate of the 2-core rig with the bench model, tokens/s, that the presets are sized for. */
const PREFILL_PER_S = 700;
const QUICK_MAX = 70_000;
const FULL_RANGE = [150_000, 250_000] as const;
const names = Object.keys(scenarios);

const index = suite('generators');

index('registers the four scenarios with presets and a description', () => {
  assert.equal(names, ['team', 'agent', 'shared-prefix', 'rerun', 'fleet']);
  for (const scenario of Object.values(scenarios)) {
    assert.type(scenario.generate, 'function');
    assert.type(scenario.quick, 'object');
    assert.type(scenario.full, 'object');
    assert.ok(scenario.description.length > 20);
  }
});

index('generateScenario applies the preset, then overrides; full and the default seed unless told', () => {
  const trace = generateScenario('team', { quick: true, seed: 3, overrides: { turns: 2 } });
  assert.is(trace.header.seed, 3);
  assert.equal(trace.header.params.users, scenarios.team.quick.users);
  assert.is(trace.header.params.turns, 2);
  const full = generateScenario('rerun');
  assert.is(full.header.seed, DEFAULT_SEED);
  assert.is(full.header.params.tasks, scenarios.rerun.full.tasks);
  assert.is(traceToJsonl(generateScenario('agent', { quick: true })), traceToJsonl(generateScenario('agent', { quick: true, seed: DEFAULT_SEED })));
});

index('unknown names and parameters fail with their names', () => {
  assert.throws(() => generateScenario('chat'), /unknown scenario "chat" \(known: team, agent, shared-prefix, rerun, fleet\)/);
  assert.throws(() => generateScenario('team', { overrides: { userz: 2 } }), /team\.userz: unknown parameter/);
});

index('generators never touch Math.random', () => {
  const original = Math.random;
  Math.random = () => { throw new Error('Math.random called'); };
  try {
    for (const name of names) for (const quick of [true, false]) generateScenario(name, { quick });
  } finally {
    Math.random = original;
  }
});

index('quick replays within ~2-3 minutes and full within 10-20 minutes of uncached prefill', () => {
  for (const name of names) {
    for (const seed of [1, 2, 3]) {
      const quick = estimateReplay(generateScenario(name, { quick: true, seed }));
      const full = estimateReplay(generateScenario(name, { seed }));
      if (seed === 1) {
        const min = (n: number): string => (n / PREFILL_PER_S / 60).toFixed(1);
        console.log(`  ${name}: quick ${quick.sentTokens} tokens (${min(quick.sentTokens)} min, ${quick.requests} requests, largest prompt ${quick.maxPromptTokens}); `
          + `full ${full.sentTokens} tokens (${min(full.sentTokens)} min, ${full.requests} requests, largest prompt ${full.maxPromptTokens})`);
      }
      assert.ok(quick.sentTokens <= QUICK_MAX, `${name} quick seed ${seed}: ${quick.sentTokens}`);
      assert.ok(full.sentTokens >= FULL_RANGE[0] && full.sentTokens <= FULL_RANGE[1], `${name} full seed ${seed}: ${full.sentTokens}`);
    }
  }
});

index('sentTokens is the estimate of the whole replay', () => {
  const trace = generateScenario('rerun', { quick: true });
  assert.is(sentTokens(trace), estimateReplay(trace).sentTokens);
});

index.run();
