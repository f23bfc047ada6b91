// Save and restore decisions: tables of situations.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RestoreQuestion, type SaveQuestion, type TierRates, decideRestore, decideSave, restoreMs, restoreVerified, saveMs } from '../../src/kv/decisions.js';
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
  // A prompt the entry covers entirely still evaluates its last token: gain is capped at prompt - 1.
  const whole = decideRestore(restore({ promptTokens: 100, matchedTokens: 4000, entryBlocks: 2, matchedBlocks: 2 }));
  assert.is(whole.savedMs, 99 / 0.25);
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

test.run();
