// Finds a repeated group that itself repeats something without bound, as in `(a+)+$` or
// `(\s*x)*`: JavaScript's backtracking engine can take exponential time on such a pattern, and a
// rule that does pins a worker at 100 % CPU on one crafted message (issue #16). The config loader
// refuses these rules; other catastrophic shapes (overlapping alternatives, `(a|a)*`) are left to
// the analysis deadline (limits.analysisTimeoutMs), which ends any task that runs too long.
// A linear-time engine (RE2 as WASM) would change what rules mean (no lookaround or
// back-references), so rules stay JavaScript RegExps.

/** The first `(…)` quantifier pair whose group holds an unbounded quantifier, or null. */
export function nestedQuantifier(pattern: string): string | null {
  // One frame per open group: where it started, and whether something inside repeats unboundedly.
  const frames: { start: number; unbounded: boolean }[] = [{ start: 0, unbounded: false }];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      i = quantified(pattern, i + 2, frames);
    } else if (c === '[') {
      i = quantified(pattern, classEnd(pattern, i), frames);
    } else if (c === '(') {
      frames.push({ start: i, unbounded: false });
      i++;
    } else if (c === ')') {
      const group = frames.length > 1 ? frames.pop()! : { start: 0, unbounded: false };
      const after = quantifierAt(pattern, i + 1);
      if (group.unbounded && after !== null && after.repeats) return pattern.slice(group.start, after.end);
      const parent = frames.at(-1)!;
      parent.unbounded ||= group.unbounded || (after?.unbounded ?? false);
      i = after?.end ?? i + 1;
    } else {
      i = quantified(pattern, i + 1, frames);
    }
  }
  return null;
}

// After an atom ending before `end`: records its quantifier in the current frame, returns where the next atom starts.
function quantified(pattern: string, end: number, frames: { unbounded: boolean }[]): number {
  const q = quantifierAt(pattern, end);
  if (q === null) return end;
  if (q.unbounded) frames.at(-1)!.unbounded = true;
  return q.end;
}

interface Quantifier {
  /** Allows more than one repetition. */
  repeats: boolean;
  /** Has no upper bound. */
  unbounded: boolean;
  end: number;
}

function quantifierAt(pattern: string, i: number): Quantifier | null {
  const c = pattern[i];
  let q: Quantifier | null = null;
  if (c === '*' || c === '+') q = { repeats: true, unbounded: true, end: i + 1 };
  else if (c === '?') q = { repeats: false, unbounded: false, end: i + 1 };
  else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (m === null) return null;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    q = { repeats: max > 1, unbounded: max === Infinity, end: i + m[0].length };
  }
  // A lazy `?` after a quantifier changes order, not cost.
  if (q !== null && pattern[q.end] === '?') q.end++;
  return q;
}

// Index just past the `]` closing the class that opens at `start` (v-flag classes nest).
function classEnd(pattern: string, start: number): number {
  let depth = 0;
  for (let i = start; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i + 1;
  }
  return pattern.length;
}
