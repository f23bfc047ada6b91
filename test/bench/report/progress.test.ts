import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createProgress } from '../../../bench/report/progress.js';

/** A stream that keeps what is written, and a clock the test moves. */
function fake(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  let t = 1_000_000;
  return {
    stream: { isTTY, columns, write: (chunk: string) => { chunks.push(chunk); return true; } },
    now: () => t,
    advance: (ms: number) => { t += ms; },
    chunks,
    text: () => chunks.join(''),
  };
}

const progress = suite('progress');

progress('in a log, prints a plain line each tenth of the way, and one at the end', () => {
  const f = fake(false);
  const bar = createProgress({ total: 1000, label: 'replay', stream: f.stream, now: f.now });
  for (let i = 0; i < 1000; i++) {
    f.advance(10);
    bar.tick(1, `session ${i}`);
  }
  bar.done();
  bar.done();
  const lines = f.text().split('\n').filter(Boolean);
  assert.ok(lines.length <= 11, `${lines.length} lines`);
  assert.is(lines.length, 11);
  assert.not.match(f.text(), /\r|\x1b/);
  assert.is(lines[0], 'replay: 100/1000 10% 0:01 elapsed, ETA 0:09 session 99');
  assert.is(lines[9], 'replay: 1000/1000 100% 0:10 elapsed, ETA -- session 999');
  assert.is(lines[10], 'replay: done, 1000/1000 in 0:10');
});

progress('a jump past several tenths prints once', () => {
  const f = fake(false);
  const bar = createProgress({ total: 10, label: 'x', stream: f.stream, now: f.now });
  bar.tick(7);
  bar.tick(0);
  assert.is(f.chunks.length, 1);
  assert.match(f.chunks[0]!, /^x: 7\/10 70%/);
});

progress('on a terminal, redraws one line with a bar, count, elapsed and ETA', () => {
  const f = fake(true);
  const bar = createProgress({ total: 4, label: 'replay', stream: f.stream, now: f.now });
  assert.is(f.chunks[0], '\rreplay [------------------------] 0/4 0% 0:00 elapsed, ETA --\x1b[K');
  f.advance(2000);
  bar.tick(1, 's1');
  assert.is(f.chunks[1], '\rreplay [######------------------] 1/4 25% 0:02 elapsed, ETA 0:06 s1\x1b[K');
  bar.tick(); // within the redraw interval: not drawn
  assert.is(f.chunks.length, 2);
  bar.tick(2); // the last unit is always drawn
  assert.match(f.chunks[2]!, /\[#{24}\] 4\/4 100%/);
  bar.done();
  assert.ok(f.text().endsWith('\n'));
  assert.not.match(f.text().slice(0, -1), /\n/, 'one line, redrawn');
});

progress('cuts the line to the terminal width', () => {
  const f = fake(true, 30);
  createProgress({ total: 5, label: 'a long label', stream: f.stream, now: f.now });
  assert.is(f.chunks[0]!.replace('\r', '').replace('\x1b[K', '').length, 29);
});

progress('a total of 0 neither divides by zero nor stalls', () => {
  const f = fake(false);
  const bar = createProgress({ total: 0, label: 'empty', stream: f.stream, now: f.now });
  bar.tick();
  bar.done();
  assert.not.match(f.text(), /NaN|Infinity/);
  assert.match(f.text(), /empty: done, 1\/0 in 0:00/);
});

progress.run();
