import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMetrics } from '../../bench/server-metrics.js';

const metrics = suite('server-metrics');

metrics('reads unlabelled samples and skips comments and labelled series', () => {
  const text = [
    '# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.',
    '# TYPE llamacpp:prompt_tokens_total counter',
    'llamacpp:prompt_tokens_total 1234',
    'llamacpp:prompt_seconds_total 5.5',
    'llamacpp:spec_decode_num_accepted_tokens_per_pos_total{position="0"} 7',
    'llamacpp:requests_processing 0',
    '',
  ].join('\n');
  assert.equal(parseMetrics(text), {
    'llamacpp:prompt_tokens_total': 1234,
    'llamacpp:prompt_seconds_total': 5.5,
    'llamacpp:requests_processing': 0,
  });
  assert.equal(parseMetrics(''), {});
});

metrics.run();
