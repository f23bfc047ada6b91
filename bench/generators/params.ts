// Resolving a scenario's parameters: defaults, then the caller's overrides, checked against the
// defaults' shapes. The generators trust what comes out; overrides arrive from the command line
// and from presets, so a misspelt key or a reversed range fails here with its name.

/** A [min, max] pair, both included. */
export type Range = [number, number];

/** A parameter's value: numbers, ranges and strings only, so a trace header holds params as JSON. */
export type ParamValue = number | string | Range;

/** The model name every generated request asks for (the rig's server ignores it; reports read it). */
export const BENCH_MODEL = 'bench';

/** Defaults overlaid with `given`, each value checked against its default's shape; throws naming `scenario.key`. */
export function resolveParams<P extends object>(scenario: string, defaults: P, given: Partial<P> = {}): P {
  const base = defaults as Record<string, ParamValue>;
  const out: Record<string, ParamValue> = { ...base };
  for (const [key, value] of Object.entries(given) as [string, unknown][]) {
    if (value === undefined) continue;
    const fallback = base[key];
    const name = `${scenario}.${key}`;
    if (fallback === undefined) throw new Error(`${name}: unknown parameter (known: ${Object.keys(defaults).join(', ')})`);
    if (Array.isArray(fallback)) {
      if (!isRange(value)) throw new Error(`${name}: expected [min, max] of non-negative numbers, got ${JSON.stringify(value)}`);
      out[key] = [value[0], value[1]];
    } else if (typeof fallback === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${name}: expected a non-negative number, got ${JSON.stringify(value)}`);
      out[key] = value;
    } else {
      if (typeof value !== 'string') throw new Error(`${name}: expected a string, got ${JSON.stringify(value)}`);
      out[key] = value;
    }
  }
  return out as P;
}

/** Throws unless `params[key]` is an integer of at least `min`, for counts a generator loops over. */
export function requireCount(scenario: string, params: object, key: string, min = 1): void {
  const value = (params as Record<string, unknown>)[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`${scenario}.${key}: expected an integer of at least ${min}, got ${JSON.stringify(value)}`);
  }
}

/** Throws unless `params[key]` is one of `allowed`. */
export function requireOneOf(scenario: string, params: object, key: string, allowed: readonly string[]): void {
  const value = (params as Record<string, unknown>)[key];
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new Error(`${scenario}.${key}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
}

function isRange(value: unknown): value is Range {
  return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)
    && (value[0] as number) <= (value[1] as number);
}
