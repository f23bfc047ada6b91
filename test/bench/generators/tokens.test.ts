import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TOKENS_PER_WORD, approxTokens, countWords, fillTokens, truncateTokens } from '../../../bench/generators/tokens.js';

const tokens = suite('tokens');

tokens('counts word pieces the way SentencePiece splits them', () => {
  assert.is(countWords(''), 0);
  assert.is(countWords('the quick brown fox'), 4);
  // foo Bar ( x , 1 2 ); -- case changes, single digits and punctuation runs are pieces
  assert.is(countWords('fooBar(x, 12);'), 8);
  assert.is(countWords('a\n\tb    c'), 6);
  assert.is(approxTokens('the quick brown fox'), Math.round(4 * TOKENS_PER_WORD));
});

tokens('truncateTokens keeps the longest whole-word prefix within the budget', () => {
  const text = 'one two three four five six seven eight nine ten';
  assert.is(truncateTokens(text, 1000), text);
  const cut = truncateTokens(text, 5);
  assert.ok(text.startsWith(cut));
  assert.ok(approxTokens(cut) <= 5);
  assert.is(cut, 'one two three four');
  assert.is(truncateTokens(text, 0), '');
});

tokens('fillTokens never exceeds the budget and misses it by at most a word', () => {
  let i = 0;
  const piece = (): string => `line ${i++} of someText, with punctuation.`;
  for (const budget of [1, 10, 77, 1000]) {
    const text = fillTokens(budget, '\n', piece);
    const size = approxTokens(text);
    assert.ok(size <= budget, `${budget}: ${size}`);
    assert.ok(size >= budget - 2 * TOKENS_PER_WORD, `${budget}: ${size}`);
  }
});

tokens.run();
