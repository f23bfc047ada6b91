// Normalization: rewrites a parsed request before it is canonicalized, hashed and forwarded, for
// clients that put volatile text where it defeats prefix caching. Rules work on decoded strings
// (the parsed JSON), so escapes in the client's bytes cannot hide or split a match, and each rule
// touches only the strings its target names.
//
// A rule that changes a body makes the worker re-serialize it, so the upstream sees exactly what
// was hashed. Rules must be deterministic: the same body always normalizes to the same body.

import { Buffer } from 'node:buffer';

/** The endpoint a body came to: OpenAI chat or completions, Anthropic messages or count_tokens. */
export type NormalizeRoute = 'chat' | 'completions' | 'messages' | 'count_tokens';

/** Where a user rule looks: system text, conversation text, or tool results. */
export type RuleTarget = 'system' | 'messages' | 'tool_results';

/** A user rule as configured (`normalize.rules[]`). */
export interface NormalizeRuleConfig {
  name: string;
  target: RuleTarget;
  /** A JavaScript regular expression, without slashes. */
  pattern: string;
  /** RegExp flags; `g` is implied. */
  flags: string;
  /** Replacement text; `$1`, `$<name>` and `$&` refer to the match. */
  replacement: string;
  enabled: boolean;
}

/** What the built-in Claude Code rule does to the billing header line. */
export type BillingHeaderMode = 'fixed' | 'remove' | 'off';

/** The `normalize` section of the config; the worker pool hands it to every worker. */
export interface NormalizeConfig {
  billingHeader: BillingHeaderMode;
  /** In 'fixed' mode every `key=value;` field of the header line gets this value. */
  billingHeaderValue: string;
  rules: NormalizeRuleConfig[];
}

/** Name of the built-in rule, as it appears in metrics and logs. */
export const BILLING_RULE = 'claude-code-billing-header';

/** The request's dialect, as rules see it: where system text, messages and tool results live. */
export type Dialect = 'openai' | 'anthropic';

/** What one rule did to one request. */
export interface RuleApplied {
  rule: string;
  /** UTF-8 bytes of client text the rule replaced or removed. */
  bytes: number;
  /** First 200 bytes of the first changed string, before and after; only when samples were asked for. */
  before?: string;
  after?: string;
}

/** Rewrites strings: returns the new string and the UTF-8 bytes of text it replaced, or null when unchanged. */
type Rewrite = (text: string) => { text: string; bytes: number } | null;

interface CompiledRule {
  name: string;
  /** Rewrites the body's strings it targets; reports each change. */
  apply(body: Record<string, unknown>, dialect: Dialect, edit: Edit): void;
}

/** The compiled rule list of one config. */
export interface Normalizer {
  /** Applies every rule to `body` in place; lists what each rule that changed something did. */
  normalize(body: Record<string, unknown>, route: NormalizeRoute, samples?: boolean): RuleApplied[];
}

/** Turns a rule's pattern into its RegExp; throws SyntaxError with the engine's message when invalid. */
export function compilePattern(rule: Pick<NormalizeRuleConfig, 'pattern' | 'flags'>): RegExp {
  const flags = rule.flags.includes('g') ? rule.flags : `${rule.flags}g`;
  return new RegExp(rule.pattern, flags);
}

/** Builds the normalizer of a config. Patterns are assumed valid (the config loader checks them). */
export function createNormalizer(config: NormalizeConfig): Normalizer {
  const rules: CompiledRule[] = [];
  if (config.billingHeader !== 'off') rules.push(billingRule(config.billingHeader, config.billingHeaderValue));
  for (const rule of config.rules) {
    if (rule.enabled) rules.push(userRule(rule));
  }
  return {
    normalize(body, route, samples = false) {
      // Raw completions have no roles; the rules have nothing to aim at there.
      if (route === 'completions' || rules.length === 0) return [];
      const dialect: Dialect = route === 'messages' || route === 'count_tokens' ? 'anthropic' : 'openai';
      const applied: RuleApplied[] = [];
      for (const rule of rules) {
        const record: RuleApplied = { rule: rule.name, bytes: 0 };
        let changed = false;
        rule.apply(body, dialect, (before, after, bytes) => {
          changed = true;
          record.bytes += bytes;
          if (samples && record.before === undefined) {
            record.before = head(before);
            record.after = head(after);
          }
        });
        if (changed) applied.push(record);
      }
      return applied;
    },
  };
}

/** The config every worker uses unless told otherwise: the built-in rule on, no user rules. */
export const defaultNormalizeConfig: NormalizeConfig = { billingHeader: 'fixed', billingHeaderValue: '0', rules: [] };

// ---- The built-in rule: Claude Code's billing header ----

// Claude Code (2.1.x) starts the system prompt with
//   x-anthropic-billing-header: cc_version=2.1.63.a43; cc_entrypoint=sdk-cli; cch=e2224;
// whose values change per request, so every turn's prompt diverges at about token 33. The rule
// matches the line's `key=value;` fields and nothing after them. llama-server (de3ff815ea7d) only
// rewrites `cch`, and only on its own /v1/messages.
const BILLING = /^x-anthropic-billing-header:((?:[ \t]*[A-Za-z0-9_.-]+=[^;\n]*;)+)[ \t]*(\r?\n)?/;
const FIELD = /([ \t]*)([A-Za-z0-9_.-]+)=([^;\n]*);/g;

function billingRule(mode: 'fixed' | 'remove', value: string): CompiledRule {
  const rewrite: Rewrite = (text) => {
    const match = BILLING.exec(text);
    if (match === null) return null;
    const fields = match[1] ?? '';
    if (mode === 'remove') {
      // The whole line goes, with its line break, so the prompt starts with what followed it.
      return { text: text.slice(match[0].length), bytes: Buffer.byteLength(match[0]) };
    }
    let bytes = 0;
    const fixed = fields.replace(FIELD, (_all, space: string, key: string, old: string) => {
      if (old !== value) bytes += Buffer.byteLength(old);
      return `${space}${key}=${value};`;
    });
    if (bytes === 0) return null;
    const start = 'x-anthropic-billing-header:'.length;
    return { text: text.slice(0, start) + fixed + text.slice(start + fields.length), bytes };
  };
  return {
    name: BILLING_RULE,
    apply(body, dialect, edit) {
      // Only the very start of the system prompt: a header line elsewhere is the conversation's text.
      if (dialect === 'anthropic') {
        if (typeof body.system === 'string') {
          body.system = rewriteString(body.system, rewrite, edit);
        } else if (Array.isArray(body.system)) {
          const first = body.system.find((block) => isObject(block) && block.type === 'text');
          if (isObject(first) && typeof first.text === 'string') first.text = rewriteString(first.text, rewrite, edit);
        }
        return;
      }
      if (!Array.isArray(body.messages)) return;
      const system = body.messages.find((m) => isObject(m) && (m.role === 'system' || m.role === 'developer'));
      if (!isObject(system)) return;
      if (typeof system.content === 'string') {
        system.content = rewriteString(system.content, rewrite, edit);
      } else if (Array.isArray(system.content)) {
        const first = system.content.find((part) => isObject(part) && part.type === 'text');
        if (isObject(first) && typeof first.text === 'string') first.text = rewriteString(first.text, rewrite, edit);
      }
    },
  };
}

// ---- User rules from config ----

function userRule(rule: NormalizeRuleConfig): CompiledRule {
  const pattern = compilePattern(rule);
  const rewrite: Rewrite = (text) => {
    // String.replace keeps its own semantics for $1, $<name> and $&; matchAll only counts.
    const out = text.replace(pattern, rule.replacement);
    if (out === text) return null;
    let bytes = 0;
    for (const match of text.matchAll(pattern)) bytes += Buffer.byteLength(match[0]);
    return { text: out, bytes };
  };
  return {
    name: rule.name,
    apply(body, dialect, edit) {
      const visit = (holder: Record<string, unknown>, key: string) => {
        const value = holder[key];
        if (typeof value === 'string') holder[key] = rewriteString(value, rewrite, edit);
      };
      forEachTarget(body, dialect, rule.target, visit);
    },
  };
}

/** Calls `visit(holder, key)` for every string of `target` in the body, in prompt order. */
function forEachTarget(body: Record<string, unknown>, dialect: Dialect, target: RuleTarget, visit: (holder: Record<string, unknown>, key: string) => void): void {
  const textParts = (holder: Record<string, unknown>, key: string) => {
    const content = holder[key];
    if (typeof content === 'string') return visit(holder, key);
    if (!Array.isArray(content)) return;
    for (const part of content) {
      if (isObject(part) && part.type === 'text') visit(part, 'text');
    }
  };
  if (dialect === 'anthropic') {
    if (target === 'system' && body.system !== undefined) textParts(body, 'system');
    if (target === 'system' || !Array.isArray(body.messages)) return;
    for (const message of body.messages) {
      if (!isObject(message)) continue;
      if (target === 'messages') {
        textParts(message, 'content');
        continue;
      }
      if (!Array.isArray(message.content)) continue;
      for (const block of message.content) {
        if (isObject(block) && block.type === 'tool_result') textParts(block, 'content');
      }
    }
    return;
  }
  if (!Array.isArray(body.messages)) return;
  for (const message of body.messages) {
    if (!isObject(message)) continue;
    const role = message.role;
    const kind: RuleTarget = role === 'system' || role === 'developer' ? 'system' : role === 'tool' ? 'tool_results' : 'messages';
    if (kind === target) textParts(message, 'content');
  }
}

// ---- Helpers ----

type Edit = (before: string, after: string, bytes: number) => void;

function rewriteString(text: string, rewrite: Rewrite, edit: Edit): string {
  const result = rewrite(text);
  if (result === null) return text;
  edit(text, result.text, result.bytes);
  return result.text;
}

/** The first 200 bytes of `text`, without a character cut in half. */
function head(text: string): string {
  const bytes = Buffer.from(text.slice(0, 200));
  return bytes.length <= 200 ? text.slice(0, 200) : bytes.subarray(0, 200).toString('utf8').replace(/\uFFFD$/, '');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
