// Seeded randomness and text for the workload generators. Every stream is named by the trace
// seed and a path ("session/3"), never by how many numbers were drawn before it: adding a session,
// or drawing one more number in a session, leaves every other stream as it was.
export { approxTokens, truncateTokens, TOKENS_PER_WORD } from './tokens.js';
import { countWords, fillTokens as fill, TOKENS_PER_WORD } from './tokens.js';
import { ADJECTIVES, CODE_VERBS, CONNECTIVES, EXTENSIONS, FOLDERS, IDENT_PARTS, NOUNS, PREPOSITIONS, VERBS } from './words.js';

/** What toolOutput can look like. */
export type ToolOutputKind = 'listing' | 'tests' | 'json' | 'grep' | 'file';

const TOOL_OUTPUT_KINDS: readonly ToolOutputKind[] = ['listing', 'tests', 'json', 'grep', 'file'];
const HEX = '0123456789abcdef';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// cyrb128: spreads a string over 128 bits to seed sfc32; public domain (bryc/code, jshash).
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  return [h1 >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

/** A seeded sfc32 stream with the helpers and text makers the generators need. */
export class Rng {
  /** The trace seed this stream descends from. */
  readonly seed: number;
  /** The stream's name under the seed, e.g. "root/session/3". */
  readonly path: string;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number, path = 'root') {
    this.seed = seed;
    this.path = path;
    [this.#a, this.#b, this.#c, this.#d] = cyrb128(`${seed}:${path}`);
    // sfc32's first outputs still echo the seed bits; burn them.
    for (let i = 0; i < 15; i++) this.next();
  }

  /** An independent stream named `label` under this one; drawing from either never moves the other. */
  child(label: string | number): Rng {
    return new Rng(this.seed, `${this.path}/${label}`);
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** An integer in a [min, max] pair, both included. */
  between(range: readonly [number, number]): number {
    return this.int(range[0], range[1]);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick: empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** `n` lowercase hex digits. */
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += HEX[this.int(0, 15)];
    return s;
  }

  /** `n` base62 characters (tool_use ids and the like). */
  base62(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += BASE62[this.int(0, 61)];
    return s;
  }

  /** English prose of about `tokens` tokens (never more), in paragraphs. */
  prose(tokens: number): string {
    let sentences = 0;
    return fill(tokens, '\n\n', () => {
      const paragraph: string[] = [];
      const size = this.int(3, 6);
      for (let i = 0; i < size; i++) paragraph.push(this.#sentence(sentences++ === 0));
      return paragraph.join(' ');
    });
  }

  /** TypeScript-like source of about `tokens` tokens (never more). */
  code(tokens: number): string {
    return fill(tokens, '\n\n', () => this.#codeBlock());
  }

  /** Output of a developer tool (a file listing, a test log, JSON, grep hits, a numbered file) of about `tokens` tokens (never more). */
  toolOutput(tokens: number, kind: ToolOutputKind = this.pick(TOOL_OUTPUT_KINDS)): string {
    let line = 0;
    const next = (): string => {
      line++;
      switch (kind) {
        case 'listing': return `${this.pick(['-rw-r--r--', '-rw-r--r--', 'drwxr-xr-x'])}  1 dev  staff  ${this.int(96, 48000)} ${this.#date()} ${this.filePath()}`;
        case 'tests': return this.#testLine(line);
        case 'json': return this.#jsonRecord();
        case 'grep': return `${this.filePath()}:${this.int(1, 900)}:${this.#codeLine()}`;
        case 'file': return `${String(line).padStart(6)}\t${this.#codeLine()}`;
      }
    };
    if (kind !== 'json') return fill(tokens, '\n', next);
    const wrap = (items: string): string => `{\n  "status": "ok",\n  "count": ${line},\n  "items": [\n${items}\n  ]\n}`;
    // Budget the envelope as if the count had 4 digits; small budgets get a bare list.
    const envelope = countWords(wrap('').replace(/\d+/, '9999')) * TOKENS_PER_WORD;
    if (tokens < envelope * 2) return fill(tokens, '\n', next);
    return wrap(fill(tokens - envelope, '\n', next).replace(/,$/, ''));
  }

  /** A repository-relative file path, e.g. "src/cache/slot-queue.ts". */
  filePath(): string {
    return `${this.pick(FOLDERS)}/${this.pick(IDENT_PARTS)}-${this.pick(IDENT_PARTS)}.${this.pick(EXTENSIONS)}`;
  }

  /** A camelCase identifier of one to three parts. */
  ident(): string {
    const parts = [this.pick(IDENT_PARTS)];
    while (parts.length < 3 && this.chance(0.5)) parts.push(this.pick(IDENT_PARTS));
    return parts.map((p, i) => (i === 0 ? p : capitalize(p))).join('');
  }

  /** One English sentence. */
  sentence(): string {
    return this.#sentence(false);
  }

  #sentence(first: boolean): string {
    const noun = (): string => this.pick(NOUNS);
    const nouns = (): string => plural(this.pick(NOUNS));
    const adj = (): string => this.pick(ADJECTIVES);
    const verb = (): string => this.pick(VERBS);
    const verbs = (): string => thirdPerson(this.pick(VERBS));
    const prep = (): string => this.pick(PREPOSITIONS);
    const lead = !first && this.chance(0.25) ? `${this.pick(CONNECTIVES)}, ` : '';
    const body = this.pick([
      () => `the ${adj()} ${noun()} ${verbs()} the ${noun()} ${prep()} the ${adj()} ${noun()}`,
      () => `we ${verb()} the ${noun()} ${prep()} ${this.int(2, 40)} ${nouns()} and ${verb()} the ${adj()} ${noun()}`,
      () => `each ${noun()} should ${verb()} ${withArticle(adj())} ${noun()}, so the ${noun()} ${verbs()} ${prep()} the ${noun()}`,
      () => `the ${noun()} ${prep()} the ${adj()} ${noun()} is ${adj()}, but the ${noun()} is not`,
      () => `our ${nouns()} ${verb()} ${this.int(5, 95)} percent of the ${noun()} ${prep()} the ${adj()} ${noun()}`,
    ])();
    const text = lead + body;
    return `${capitalize(text)}${this.chance(0.1) ? '?' : '.'}`;
  }

  #codeLine(): string {
    const id = (): string => this.ident();
    return this.pick([
      () => `const ${id()} = ${id()}.${this.pick(CODE_VERBS)}(${id()}, ${this.int(0, 512)});`,
      () => `  if (${id()}.${id()} > ${id()}) return ${id()};`,
      () => `  ${id()}.${this.pick(CODE_VERBS)}(${id()});`,
      () => `export function ${this.pick(CODE_VERBS)}${capitalize(id())}(${id()}: ${capitalize(id())}): ${this.pick(['number', 'string', 'boolean', 'void'])} {`,
      () => `import { ${capitalize(id())} } from './${this.pick(IDENT_PARTS)}-${this.pick(IDENT_PARTS)}.js';`,
      () => `  // ${this.pick(VERBS)} the ${this.pick(NOUNS)} before the ${this.pick(NOUNS)} is ${this.pick(ADJECTIVES)}`,
      () => '}',
    ])();
  }

  #codeBlock(): string {
    const name = `${this.pick(CODE_VERBS)}${capitalize(this.ident())}`;
    const lines = [`/** ${capitalize(thirdPerson(this.pick(VERBS)))} the ${this.pick(ADJECTIVES)} ${this.pick(NOUNS)}. */`];
    lines.push(`export function ${name}(${this.ident()}: ${capitalize(this.ident())}, ${this.ident()} = ${this.int(1, 64)}): ${capitalize(this.ident())} {`);
    const size = this.int(3, 9);
    for (let i = 0; i < size; i++) {
      const id = this.ident();
      lines.push(this.pick([
        `  const ${id} = ${this.ident()}.${this.pick(CODE_VERBS)}(${this.ident()});`,
        `  if (${id} === undefined) throw new Error('${this.pick(NOUNS)} not ${this.pick(ADJECTIVES)}');`,
        `  for (const ${id} of ${this.ident()}) ${this.ident()}.push(${id}.${this.ident()});`,
        `  // ${capitalize(this.pick(VERBS))} the ${this.pick(NOUNS)} first: the ${this.pick(NOUNS)} may be ${this.pick(ADJECTIVES)}.`,
        `  ${id} += ${this.ident()}.length * ${this.int(2, 16)};`,
      ]));
    }
    lines.push(`  return { ${this.ident()}, ${this.ident()}: ${this.ident()} };`, '}');
    return lines.join('\n');
  }

  #testLine(n: number): string {
    const name = `${this.pick(IDENT_PARTS)} ${thirdPerson(this.pick(VERBS))} the ${this.pick(ADJECTIVES)} ${this.pick(NOUNS)}`;
    if (this.chance(0.06)) return `not ok ${n} - ${name}\n  # expected ${this.int(0, 99)} to equal ${this.int(0, 99)} at ${this.filePath()}:${this.int(1, 400)}`;
    return `ok ${n} - ${name} (${this.int(1, 250)} ms)`;
  }

  #jsonRecord(): string {
    return `    {"id": "${this.hex(8)}", "name": "${this.ident()}", "path": "${this.filePath()}", "size": ${this.int(10, 90000)}, "status": "${this.pick(['active', 'idle', 'done', 'failed'])}"},`;
  }

  #date(): string {
    return `${this.pick(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'])} ${String(this.int(1, 28)).padStart(2)} ${String(this.int(0, 23)).padStart(2, '0')}:${String(this.int(0, 59)).padStart(2, '0')}`;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Misspelt words ("processs") tokenize into odd pieces, so the few English rules the lists need.
function plural(noun: string): string {
  if (/(s|sh|ch|x)$/.test(noun)) return `${noun}es`;
  if (/[^aeiou]y$/.test(noun)) return `${noun.slice(0, -1)}ies`;
  return `${noun}s`;
}

function thirdPerson(verb: string): string {
  return plural(verb);
}

function withArticle(word: string): string {
  return `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;
}
