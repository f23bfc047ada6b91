// Checks a parsed body before anything walks it recursively. JSON.parse itself is iterative, but
// JSON.stringify and the canonical prompt recurse: 20k levels of nesting inside `tools` or
// `prompt` overflowed the stack (a 500 instead of a 400, issue #16), and llama-server's own
// parser (nlohmann json) recurses too. Numbers beyond double range parse to ±Infinity, which
// JSON.stringify writes as null: `temperature: -1e999` would reach llama-server as its default
// (0.8) while the response cache took it for greedy. Both are refused, iteratively, and so is a
// body of more values than the analysis can hold (MAX_JSON_VALUES).

/** Deepest nesting of arrays and objects accepted; real bodies (tool schemas included) stay far below. */
export const MAX_JSON_DEPTH = 256;

/**
 * Most values (array items and object members, at any depth) accepted. The analysis costs memory
 * per value, not per byte: 31 MiB of `"messages":[1,1,…]` (16M values) took a worker past 1 GiB,
 * and a worker that reaches its heap limit while growing one array aborts the whole process
 * instead of ending the worker (nodejs/node#47224), so the heap limit alone does not protect us.
 * 4M values analyse in about 2 s within 1 GiB; a 1M-token prompt of ids is 1M values.
 */
export const MAX_JSON_VALUES = 4_000_000;

/** Why a parsed body cannot be used, or null when it can. */
export function jsonShapeProblem(value: unknown, maxDepth: number = MAX_JSON_DEPTH, maxValues: number = MAX_JSON_VALUES): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : tooLarge;
  if (value === null || typeof value !== 'object') return null;
  // Containers only: numbers are checked where they are met, so a long array costs no pushes.
  const stack: { item: object; depth: number }[] = [{ item: value, depth: 1 }];
  let values = 0;
  while (stack.length > 0) {
    const { item, depth } = stack.pop()!;
    if (depth > maxDepth) return `request body nests arrays and objects deeper than ${maxDepth} levels`;
    const children: unknown[] = Array.isArray(item) ? item : Object.values(item);
    values += children.length;
    if (values > maxValues) return `request body holds more than ${maxValues} JSON values`;
    for (let i = 0; i < children.length; i++) {
      const child = children[i];
      if (typeof child === 'number') {
        if (!Number.isFinite(child)) return tooLarge;
      } else if (child !== null && typeof child === 'object') {
        stack.push({ item: child, depth: depth + 1 });
      }
    }
  }
  return null;
}

const tooLarge = 'request body has a number too large for a double (it would be sent as null)';
