// Save and restore decisions: tables of situations.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RestoreQuestion, type SaveQuestion, type TierRates, decideRestore, decideSave, lostTokens, restoreMs, restoreVerified, saveMs } from '../../src/kv/decisions.js';
import { RestoreTrust } from '../../src/kv/restore-trust.js';

// The bench model: ~12.3 KB per token, save ~460 MB/s, restore ~3 GB/s, prefill ~0.25 tokens/ms.
const rates: TierRates = { bytesPerToken: 12_288, saveBytesPerMs: 460_000, restoreBytesPerMs: 3_000_000, actionOverheadMs: 5 };
const save = (over: Partial<SaveQuestion>): SaveQuestion => ({
  tokens: 4000, idleMs: 0, reuseHalfLifeMs: 600_000, promptTokensPerMs: 0.25, alreadySaved: false, minTokens: 256, rates, ...over,
});
const restore = (over: Partial<RestoreQuestion>): RestoreQuestion => ({
  promptTokens: 4100, currentReuseTokens: 0, entryTokens: 4000, entryBlocks: 60, matchedBlocks: 60, matchedTokens: 4000,
  bytes: 4000 * 12_288, promptTokensPerMs: 0.25, rates, ...over,
});

const test = suite('kv/decisions');

test('cost arithmetic', () => {
  assert.is(saveMs(0, rates), 5);
  assert.ok(Math.abs(saveMs(4000, rates) - (5 + 4000 * 12_288 / 460_000)) < 1e-9);
  assert.is(restoreMs(3_000_000, rates), 6);
});

test('save: a long fresh context is worth it; short, stale, or already saved ones are not', () => {
  assert.equal(decideSave(save({})).reason, 'worth_it');
  assert.equal(decideSave(save({ tokens: 100 })).reason, 'too_short');
  assert.equal(decideSave(save({ alreadySaved: true })).reason, 'saved_already');
  // Ten half-lives idle: the value is a thousandth, below the ~112 ms cost.
  assert.equal(decideSave(save({ idleMs: 6_000_000 })).reason, 'not_worth_it');
  // A server that prefills as fast as it saves gains nothing from a save.
  assert.equal(decideSave(save({ promptTokensPerMs: 1000 })).reason, 'not_worth_it');
  const a = decideSave(save({}));
  assert.ok(a.save && a.valueMs > a.costMs);
});

test('restore: faster than recomputing the gain; refused when no gain, too little kept, or slower', () => {
  assert.equal(decideRestore(restore({})).reason, 'faster');
  assert.equal(decideRestore(restore({ currentReuseTokens: 4000 })).reason, 'no_gain');
  assert.equal(decideRestore(restore({ matchedBlocks: 29, matchedTokens: 1900 })).reason, 'kept_too_little');
  assert.equal(decideRestore(restore({ matchedBlocks: 30, matchedTokens: 2000 })).reason, 'faster');
  assert.equal(decideRestore(restore({ promptTokensPerMs: 1000 })).reason, 'slower');
  // Reuse expected from the RAM cache is a guess: its measured miss chance makes a cheap
  // restore worth it, unless prefill is so fast that the expected loss is smaller than the restore.
  assert.equal(decideRestore(restore({ currentReuseTokens: 4000, currentMissChance: 0 })).reason, 'no_gain');
  const insured = decideRestore(restore({ currentReuseTokens: 4000, currentMissChance: 0.1 }));
  assert.equal(insured.reason, 'faster');
  assert.is(Math.round(insured.savedMs), 1600, '10 % of 4,000 tokens at 0.25 tokens per ms');
  assert.equal(decideRestore(restore({ currentReuseTokens: 4000, currentMissChance: 0.01, promptTokensPerMs: 10 })).reason, 'slower');
  // A prompt the entry covers entirely still evaluates its last token: gain is capped at prompt - 1.
  const whole = decideRestore(restore({ promptTokens: 100, matchedTokens: 4000, entryBlocks: 2, matchedBlocks: 2 }));
  assert.is(whole.savedMs, 99 / 0.25);
});

test('lost tokens: an extension loses nothing; a shared prefix keeps only itself, whatever llama-server keeps', () => {
  const content = { tokens: 3000, blocks: 40 };
  const rows: [string, number, number][] = [
    // [situation, shared blocks, tokens lost] at 64 tokens per block
    ['the next turn of the same conversation', 40, 0],
    ['a retry of the same prompt', 40, 0],
    ['another conversation with the same 2,368-token system prompt (f_keep > 0.5: llama-server keeps the slot)', 37, 3000 - 37 * 64],
    ['a request sharing a quarter (llama-server replaces the slot)', 10, 3000 - 10 * 64],
    ['nothing in common', 0, 3000],
  ];
  for (const [what, shared, lost] of rows) assert.is(lostTokens(content, shared, 64), lost, what);
  assert.is(lostTokens({ tokens: 0, blocks: 0 }, 0, 64), 0, 'an empty slot');
  assert.is(lostTokens({ tokens: 100, blocks: 2 }, 1, 64), 36, 'a block estimate above the content is capped');
  assert.is(lostTokens({ tokens: 100, blocks: 2 }, 1, 200), 0);
});

test('save: only the tokens past a shared prefix count; a slot whose whole content is kept is not saved', () => {
  // A 3,000-token conversation whose first 2,400 tokens are a system prompt the next request
  // shares: a restore would give back 600 tokens (2.4 s of prefill) for a ~17 ms read of the file.
  const shared = decideSave(save({ tokens: 3000, keptTokens: 2400 }));
  assert.is(shared.reason, 'worth_it');
  assert.ok(Math.abs(shared.valueMs - (600 / 0.25 - restoreMs(3000 * 12_288, rates))) < 1e-9);
  assert.ok(shared.valueMs < decideSave(save({ tokens: 3000 })).valueMs, 'less value than losing it all');
  assert.is(decideSave(save({ tokens: 3000, keptTokens: 3000 })).reason, 'nothing_lost');
  assert.is(decideSave(save({ tokens: 3000, keptTokens: 5000 })).reason, 'nothing_lost');
  // Losing a few tokens is not worth writing 37 MB: their prefill (20 ms) is below the save (~85 ms).
  assert.is(decideSave(save({ tokens: 3000, keptTokens: 2995 })).reason, 'not_worth_it');
  // Without keptTokens the whole content counts, as before.
  assert.is(decideSave(save({ tokens: 3000 })).valueMs, decideSave(save({ tokens: 3000, keptTokens: 0 })).valueMs);
});

test('restore: a slot holding another conversation that shares only a prefix is a restore opportunity', () => {
  // The request continues conversation A (its previous prompt: 3,000 tokens in 46 blocks, saved);
  // the slot holds conversation B, which shares A's 2,400-token system prompt. Without a restore
  // the request prefills 3,100 - 2,400 = 700 tokens; with it, 100 after a ~17 ms restore.
  const q = restore({ promptTokens: 3100, currentReuseTokens: 2400, entryTokens: 3000, entryBlocks: 46, matchedBlocks: 46, matchedTokens: 3000, bytes: 3000 * 12_288 });
  const a = decideRestore(q);
  assert.is(a.reason, 'faster');
  assert.is(a.savedMs, 600 / 0.25);
  // The same when the entry matches only up to the shared prefix (B's own save): no gain.
  assert.is(decideRestore({ ...q, matchedBlocks: 37, matchedTokens: 2368 }).reason, 'no_gain');
  // A slot of A's own, already holding all of it: nothing to restore.
  assert.is(decideRestore({ ...q, currentReuseTokens: 3000 }).reason, 'no_gain');
});

test('verification: cache_n of at least half the restored tokens confirms a restore', () => {
  assert.ok(restoreVerified(1000, 500));
  assert.ok(restoreVerified(1000, 1000));
  assert.not.ok(restoreVerified(1000, 499));
  assert.not.ok(restoreVerified(1000, 0));
});

test('trust: restores stop on a server/model after `limit` unconfirmed in a row; a confirmation resets', () => {
  const trust = new RestoreTrust(3);
  assert.ok(trust.allowed('s', 'm'));
  assert.is(trust.record('s', 'm', false), null);
  assert.is(trust.record('s', 'm', false), null);
  assert.is(trust.record('s', 'm', true), null);
  assert.is(trust.record('s', 'm', false), null);
  assert.is(trust.record('s', 'm', false), null);
  assert.is(trust.record('s', 'm', false), 'disabled');
  assert.not.ok(trust.allowed('s', 'm'));
  assert.ok(trust.allowed('s', 'other'));
  assert.ok(trust.allowed('t', 'm'));
  assert.is(trust.record('s', 'm', false), null, 'reported once');
  trust.resetServer('s');
  assert.ok(trust.allowed('s', 'm'));
});

test('a restore gain is counted in blocks when token estimates of both sides hit their caps', () => {
  // The slot holds another conversation sharing a 52-block system prompt; the entry is this
  // conversation's own last turn, 4 blocks more. Both token estimates cap at ~3,256.
  const q = {
    promptTokens: 3_500, currentReuseTokens: 3_256, entryTokens: 3_256, entryBlocks: 56, matchedBlocks: 56, matchedTokens: 3_256,
    bytes: 3_256 * 12_288, promptTokensPerMs: 0.6, rates: { bytesPerToken: 12_288, saveBytesPerMs: 230_000, restoreBytesPerMs: 1_500_000, actionOverheadMs: 5 },
  };
  assert.is(decideRestore(q).reason, 'no_gain', 'by tokens alone the caps hide it');
  const answer = decideRestore({ ...q, currentReuseBlocks: 52, tokensPerBlock: 60 });
  assert.is(answer.reason, 'faster');
  assert.ok(Math.abs(answer.savedMs - 240 / 0.6) < 1, `saved ${answer.savedMs}`);
});

test.run();
