// The disk tier when conversations share a long system prompt, on a REAL llama-server: another
// conversation that shares the prompt keeps more than half of a slot's content, so llama-server
// reuses the slot as it is (f_keep >= 0.5) and never loads the first conversation's longer state
// from anywhere. slotkeeper must save what that request destroys (everything past the shared
// prompt) and restore it when the first conversation comes back (timings.cache_n proves it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { diskTierGateway, withOneSlotServer } from '../helpers/disk-tier.js';
import { complete, words } from '../helpers/llama.js';
import { metric } from '../helpers/metrics.js';

// The shared system prompt is about 60 % of each conversation's first prompt.
const SYSTEM = words('system', 240);
const A = `${SYSTEM}\n${words('alpha', 160)}`;
const B = `${SYSTEM}\n${words('bravo', 160)}`;

const test = suite('kv/shared-prefix on llama-server');

test('a conversation that only shares the system prompt takes the slot; the first one gets its whole prefix back from disk', () => withOneSlotServer(async (server, dir) => {
  // One slot and no RAM cache: what A finds in the slot after B can only come from a restore.
  const gateway = await diskTierGateway(server, { dir });
  try {
    const a1 = await complete(gateway, A);
    const b1 = await complete(gateway, B);
    // The situation under test: B reused the shared system prompt from A's slot, and that prompt
    // is more than half of what the slot held, so llama-server kept the slot rather than swap it.
    const slotHeld = a1.timings.cache_n + a1.timings.prompt_n + 2;
    assert.ok(b1.timings.cache_n * 2 >= slotHeld, `B reused ${b1.timings.cache_n} of the ${slotHeld} tokens in the slot`);
    assert.ok(b1.timings.cache_n < a1.timings.prompt_n - 100, 'B diverged from A after the system prompt');
    assert.is(await metric(gateway, 'slotkeeper_kv_saves_total', { result: 'ok' }), 1, 'A was saved before B truncated it to the shared prompt');

    const a2 = await complete(gateway, `${A} and a follow-up`);
    assert.is(await metric(gateway, 'slotkeeper_kv_restores_total', { result: 'ok' }), 1, 'A was restored');
    assert.ok(a2.timings.cache_n >= a1.timings.prompt_n - 8, `A's next turn reused ${a2.timings.cache_n} of its previous ${a1.timings.prompt_n} prompt tokens`);
    assert.is(await metric(gateway, 'slotkeeper_kv_restore_verifications_total', { result: 'reused' }), 1);
  } finally {
    await gateway.close();
  }
}));

test.run();
