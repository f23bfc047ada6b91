import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { nestedQuantifier } from '../../workers/nested-quantifier.js';

const nested = suite('nested-quantifier');

nested('finds a repeated group that repeats without bound inside', () => {
  const cases: [string, string][] = [
    ['(a+)+$', '(a+)+'], ['^(\\s*x)*y', '(\\s*x)*'], ['((ab)*c)+', '((ab)*c)+'], ['(?:[a-z]+\\.)*com', '(?:[a-z]+\\.)*'],
    ['(a{2,})+', '(a{2,})+'], ['(x(a+))*', '(x(a+))*'], ['(.*?,){3,}', '(.*?,){3,}'], ['(a+){2,100}', '(a+){2,100}'],
  ];
  for (const [pattern, part] of cases) assert.is(nestedQuantifier(pattern), part, pattern);
});

nested('passes linear patterns, escapes and classes', () => {
  for (const pattern of ['a+b+', '(ab)+', '(a+)?', '(a+){1}', '\\(a+\\)+', '[(a+)]+', 'x-anthropic-billing-header: [^\\n]*', '(\\d{4})-(\\d{2})',
    '[\\]+]+', '(?<year>\\d+)-x', '^Today is \\w+ \\d+, \\d{4}\\.$', '(a|b)*c']) {
    assert.is(nestedQuantifier(pattern), null, pattern);
  }
});

nested.run();
