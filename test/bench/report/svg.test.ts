import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { escapeXml, niceTicks } from '../../../bench/report/line-plot.js';
import { latencyCdfSvg, requestOrder, tokensPerRequestSvg } from '../../../bench/report/svg.js';
import { config, record, twoConfigs } from './fixtures.js';

/** A tiny well-formedness check: tags nest and close, attributes are quoted, & and < only start markup or entities. */
function assertWellFormed(xml: string): void {
  // Plain Errors rather than uvu assertions, so assert.throws can test the checker itself.
  const check = (ok: boolean, message: string) => { if (!ok) throw new Error(message); };
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  const stack: string[] = [];
  let roots = 0;
  for (let i = 0; i < body.length;) {
    if (body[i] === '<') {
      tag.lastIndex = i;
      const m = tag.exec(body);
      check(m !== null, `malformed tag at ${i}: ${body.slice(i, i + 60)}`);
      const [whole, closing, name, , selfClosing] = m!;
      if (closing) check(stack.pop() === name, `</${name}> closes the wrong element`);
      else {
        if (stack.length === 0) roots++;
        if (!selfClosing) stack.push(name!);
      }
      i += whole.length;
    } else {
      if (body[i] === '&') check(/^&(amp|lt|gt|quot|apos);/.test(body.slice(i, i + 8)), `bare & at ${i}`);
      check(stack.length > 0 || /\s/.test(body[i]!), `text outside the root at ${i}`);
      i++;
    }
  }
  check(stack.length === 0, `unclosed: ${stack.join(' ')}`);
  check(roots === 1, `${roots} root elements`);
}

function assertClean(svg: string): void {
  assertWellFormed(svg);
  assert.not.match(svg, /NaN|undefined|Infinity|null/);
  assert.match(svg, /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
}

const paths = (svg: string) => svg.match(/<path /g)?.length ?? 0;

const svg = suite('svg');

svg('the checker catches what it should', () => {
  assert.throws(() => assertWellFormed('<svg><g></svg>'));
  assert.throws(() => assertWellFormed('<svg><text>a & b</text></svg>'));
  assert.throws(() => assertWellFormed('<svg x=1></svg>'));
  assert.throws(() => assertWellFormed('<svg></svg><svg></svg>'));
  assertWellFormed('<?xml version="1.0"?>\n<svg a="1"><g/><text>&lt;ok&gt;</text></svg>\n');
});

svg('ticks run from 0 to a round top in 1-2-5 steps', () => {
  assert.equal(niceTicks(9.3), [0, 2, 4, 6, 8, 10]);
  assert.equal(niceTicks(1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(niceTicks(12_500), [0, 5000, 10_000, 15_000]);
  assert.equal(niceTicks(0), niceTicks(1), 'no data: 0 to 1');
  assert.equal(niceTicks(1, true), [0, 1]);
  assert.equal(niceTicks(0.3), [0, 0.1, 0.2, 0.3], 'no float drift');
});

svg('escapes text for XML', () => {
  assert.is(escapeXml(`<a & "b" 'c'>`), '&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;');
});

svg('latency CDF: one step line per configuration, a legend, ticks, a title', () => {
  const out = latencyCdfSvg(twoConfigs());
  assertClean(out);
  assert.is(paths(out), 2);
  assert.ok(out.includes('llama-server alone, --cache-ram default'));
  assert.ok(out.includes('llama-server alone, --cache-ram 64'));
  assert.ok(out.includes('#0072b2') && out.includes('#d55e00'), 'palette colours');
  assert.match(out, />Latency CDF</);
  assert.match(out, />0\.8</, 'y tick label');
  // The failed request never arrives: the second curve tops out at 3/4.
  const second = out.match(/<path[^>]*stroke="#d55e00"/)![0];
  const ys = [...second.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
  const y = (f: number) => 44 + 320 - f * 320;
  assert.is(Math.min(...ys), y(0.75));
});

svg('tokens per request: one line per configuration plus a dashed oracle', () => {
  const out = tokensPerRequestSvg(twoConfigs());
  assertClean(out);
  assert.is(paths(out), 3);
  assert.is(out.match(/<path[^>]*stroke-dasharray/g)?.length, 1);
  assert.match(out, /oracle/);
  assert.match(out, />500</, 'y ticks reach the largest count');
  // The failed request has no promptN: the 64 line breaks into two segments.
  const second = out.match(/<path[^>]*stroke="#d55e00"[^>]*>/)![0];
  assert.is(second.match(/M/g)?.length, 2);
});

svg('requests are matched across configurations by pass, session and step', () => {
  const a = config('a', [record({ session: 'x', startMs: 0 }), record({ session: 'y', startMs: 5 })]);
  const b = config('b', [record({ session: 'y', startMs: 0 }), record({ session: 'x', startMs: 5 }), record({ session: 'z', startMs: 1 })]);
  assert.equal(requestOrder([a, b]).map((k) => JSON.parse(k)[1]), ['x', 'y', 'z']);
});

svg('empty inputs still make clean documents', () => {
  for (const results of [[], [config('nothing', [])], [config('a & <b>', []), config('c', [])]]) {
    for (const out of [latencyCdfSvg(results), tokensPerRequestSvg(results)]) {
      assertClean(out);
      assert.is(paths(out), 0);
      assert.match(out, /no data/);
    }
  }
  assert.ok(latencyCdfSvg([config('a & <b>', [])]).includes('a &amp; &lt;b&gt;'));
});

svg('a single request draws a visible dot, not NaN', () => {
  for (const r of [record(), record({ totalMs: 0, promptN: 0, oracleN: 0 })]) {
    const results = [config('one', [r])];
    const cdf = latencyCdfSvg(results);
    const tokens = tokensPerRequestSvg(results);
    assertClean(cdf);
    assertClean(tokens);
    assert.is(paths(cdf), 1);
    assert.is(paths(tokens), 2);
  }
});

svg.run();
