import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isError, metricDelta, percentile, summarize, turnReuse } from '../../../bench/report/stats.js';
import { config, record, twoConfigs } from './fixtures.js';

const stats = suite('stats');

stats('percentile is nearest-rank: always one of the values', () => {
  const ten = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
  assert.is(percentile(ten, 50), 5);
  assert.is(percentile(ten, 95), 10);
  assert.is(percentile(ten, 90), 9);
  assert.is(percentile(ten, 0), 1);
  assert.is(percentile(ten, 100), 10);
  assert.is(percentile([1, 2, 3, 4], 50), 2);
  assert.is(percentile([1, 2, 3, 4], 51), 3);
  assert.is(percentile([7], 95), 7);
  assert.is(percentile([], 50), null);
  assert.equal(ten, [10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 'input left unsorted');
});

stats('reuse per turn: cache_n over the previous turn\'s prompt, within a session, skipping rewrites and errors, capped at 1', () => {
  const records = [
    record({ session: 'a', step: 2, promptN: 5, cacheN: 150 }),
    record({ session: 'a', step: 0, promptN: 100, cacheN: 0 }),
    record({ session: 'a', step: 1, promptN: 10, cacheN: 99 }),
    record({ session: 'b', step: 0, promptN: 50, cacheN: 0 }),
    record({ session: 'b', step: 1, kind: 'rewrite', promptN: 60, cacheN: 0 }),
    record({ session: 'b', step: 2, promptN: 5, cacheN: 60 }),
    record({ session: 'b', step: 3, status: 500, promptN: null, cacheN: null }),
  ];
  assert.equal(turnReuse(records), [0.99, 1]);
});

stats('a request is an error without a 2xx status or with an error recorded', () => {
  assert.not(isError(record({ status: 200 })));
  assert.not(isError(record({ status: 204 })));
  assert.ok(isError(record({ status: 0 })));
  assert.ok(isError(record({ status: 503 })));
  assert.ok(isError(record({ status: 200, error: 'stream cut' })));
});

stats('sums per-request tokens and takes percentiles of successful requests', () => {
  const s = summarize(twoConfigs()[0]!);
  assert.equal(s, {
    name: 'llama-server alone, --cache-ram default',
    requests: 4, upstreamCalls: 4, errors: 0,
    promptEvaluated: 650, promptSource: 'records',
    cached: 170, cachedSource: 'records',
    oracle: 190, ratio: 650 / 190,
    ttfbP50: 300, ttfbP95: 500, totalP50: 1500, totalP95: 12_500,
    wallMs: 17_000, prefillSeconds: 2.5,
    // s0's second turn found 90 of the first's 100 tokens, s1's none of its 100.
    turnReuseP50: 0, turnReuseMean: 0.45,
  });
});

stats('falls back to /metrics when a request lacks timings, and says so', () => {
  const s = summarize(twoConfigs()[1]!);
  assert.is(s.errors, 1);
  assert.is(s.promptEvaluated, 190);
  assert.is(s.promptSource, 'metrics');
  assert.is(s.cached, 300);
  assert.is(s.cachedSource, 'metrics');
  assert.is(s.ratio, 1);
  assert.is(s.ttfbP50, 180, 'the failed request (ttfb 0) is left out');
  assert.is(s.totalP95, 1200);
  assert.is(s.prefillSeconds, 0.75);
});

stats('no timings and no counters: totals unknown, not zero', () => {
  const s = summarize(config('bare', [record({ promptN: null, cacheN: null, oracleN: null })]));
  assert.is(s.promptEvaluated, null);
  assert.is(s.promptSource, null);
  assert.is(s.oracle, null);
  assert.is(s.ratio, null);
  assert.is(s.prefillSeconds, null);
});

stats('no ratio when the oracle is 0 or partly missing', () => {
  assert.is(summarize(config('zero', [record({ promptN: 5, oracleN: 0 })])).ratio, null);
  const partial = summarize(config('partial', [record({ oracleN: 10 }), record({ step: 1, oracleN: null })]));
  assert.is(partial.oracle, null);
  assert.is(partial.ratio, null);
});

stats('answers the response cache gave are not upstream calls', () => {
  const s = summarize(config('rerun', [
    record({ cache: 'MISS' }), record({ step: 1, cache: 'HIT' }), record({ step: 2, cache: 'COALESCED' }),
    record({ step: 3, cache: 'HIT-NORM' }), record({ step: 4, cache: 'BYPASS' }), record({ step: 5 }),
  ]));
  assert.is(s.requests, 6);
  assert.is(s.upstreamCalls, 3);
});

stats('an empty run summarizes without NaN', () => {
  const s = summarize(config('empty', []));
  assert.is(s.requests, 0);
  assert.is(s.promptEvaluated, 0);
  assert.is(s.oracle, null);
  assert.is(s.ttfbP50, null);
  assert.not.match(JSON.stringify(s), /NaN/);
});

stats('metricDelta needs both snapshots', () => {
  const r = config('m', [], { metricsBefore: { a: 2 }, metricsAfter: { a: 5, b: 1 } });
  assert.is(metricDelta(r, 'a'), 3);
  assert.is(metricDelta(r, 'b'), null);
  assert.is(metricDelta(r, 'c'), null);
});

stats.run();
