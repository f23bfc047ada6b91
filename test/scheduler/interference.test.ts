import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Interference } from '../../src/scheduler/interference.js';

const test = suite('scheduler/interference');

test('an unmeasured server assumes its neighbours share its compute', () => {
  assert.is(new Interference().factor(0), 1);
});

test('a server as fast beside a busy neighbour as alone learns they are independent (one thread each)', () => {
  const i = new Interference();
  i.record(0, { rate: 0.5, own: 0, neighbours: 0 });
  for (let n = 0; n < 12; n++) i.record(0, { rate: 0.5, own: 0, neighbours: 1 });
  assert.ok(i.factor(0) < 0.05, `factor ${i.factor(0)}`);
});

test('a server at half speed beside one busy neighbour learns they share everything', () => {
  const i = new Interference();
  i.record(0, { rate: 0.6, own: 0, neighbours: 0 });
  for (let n = 0; n < 12; n++) i.record(0, { rate: 0.3, own: 0, neighbours: 1 });
  assert.ok(Math.abs(i.factor(0) - 1) < 0.05, `factor ${i.factor(0)}`);
});

test('samples with prefills on its own server, or before any solo rate, teach nothing', () => {
  const i = new Interference();
  i.record(0, { rate: 0.1, own: 0, neighbours: 2 });
  i.record(0, { rate: 0.6, own: 1, neighbours: 0 });
  i.record(0, { rate: 0.1, own: 1, neighbours: 1 });
  assert.is(i.factor(0), 1);
  i.reset(0);
  assert.is(i.factor(0), 1);
});

test.run();
