// How many prompt tokens a replay sends, before running it. Follows bench/trace.ts's replay rules
// with every answer as long as its max_tokens (the random-weight bench model rarely stops early),
// so it is an upper bound on prefill work without any cache, for presets' budgets and the
// runner's progress estimate. Tokens are approxTokens of the text the chat template renders.
import type { Trace, TraceSession, TraceStep } from '../trace.js';
import { approxTokens } from './random.js';

/** Template tokens around each rendered message (`<|role|>\n … <|end|>\n` in the rig's template, measured). */
export const MESSAGE_OVERHEAD_TOKENS = 12;

/** What replaying a trace costs, all passes counted. */
export interface ReplayEstimate {
  /** Requests sent. */
  requests: number;
  /** Prompt tokens sent over the replay, each request's whole prompt counted. */
  sentTokens: number;
  /** The largest single prompt: the server's per-slot context must hold it plus max_tokens. */
  maxPromptTokens: number;
  /** Tokens generated if every answer runs to max_tokens. */
  answerTokens: number;
}

/** Estimated prompt tokens of each step of one session, in order, per bench/trace.ts's replay rules. */
export function sessionPromptTokens(session: TraceSession): number[] {
  let history: number[] = [];
  let lastAnswer: number | null = null;
  return session.steps.map((step) => {
    const fixed = paramsTokens(step.params);
    const messages = step.messages.map(messageTokens);
    if (step.kind === 'side') return fixed + sum(messages);
    if (step.kind === 'rewrite') {
      history = messages;
    } else {
      if (lastAnswer !== null) history.push(lastAnswer + blocksTokens(step.assistantAppend ?? []));
      history.push(...messages);
    }
    lastAnswer = MESSAGE_OVERHEAD_TOKENS + maxTokens(step);
    return fixed + sum(history);
  });
}

/** Estimates a whole replay of `trace` (all passes). */
export function estimateReplay(trace: Trace): ReplayEstimate {
  const passes = trace.header.passes ?? 1;
  let requests = 0, sent = 0, peak = 0, answers = 0;
  for (const session of trace.sessions) {
    const prompts = sessionPromptTokens(session);
    requests += prompts.length;
    sent += sum(prompts);
    peak = Math.max(peak, ...prompts);
    answers += sum(session.steps.map(maxTokens));
  }
  return { requests: requests * passes, sentTokens: sent * passes, maxPromptTokens: peak, answerTokens: answers * passes };
}

/** Estimated prompt tokens sent over a whole replay of `trace`, answers assumed max_tokens long. */
export function sentTokens(trace: Trace): number {
  return estimateReplay(trace).sentTokens;
}

function maxTokens(step: TraceStep): number {
  const value = step.params.max_tokens;
  return typeof value === 'number' ? value : 0;
}

// The system prompt (Anthropic's top-level `system`) and the tool definitions are rendered into
// every prompt.
function paramsTokens(params: Record<string, unknown>): number {
  let tokens = 0;
  const system = params.system;
  if (typeof system === 'string') tokens += MESSAGE_OVERHEAD_TOKENS + approxTokens(system);
  else if (Array.isArray(system)) tokens += MESSAGE_OVERHEAD_TOKENS + blocksTokens(system);
  if (Array.isArray(params.tools) && params.tools.length > 0) tokens += MESSAGE_OVERHEAD_TOKENS + approxTokens(JSON.stringify(params.tools));
  return tokens;
}

function messageTokens(message: { content: unknown }): number {
  const content = message.content;
  if (typeof content === 'string') return MESSAGE_OVERHEAD_TOKENS + approxTokens(content);
  if (Array.isArray(content)) return MESSAGE_OVERHEAD_TOKENS + blocksTokens(content);
  return MESSAGE_OVERHEAD_TOKENS;
}

// Content blocks as llama-server renders them: text as is, a tool call as its JSON, a tool result
// as a message of its own (it becomes an OpenAI `tool` message).
function blocksTokens(blocks: unknown[]): number {
  let tokens = 0;
  for (const block of blocks) {
    if (typeof block === 'string') { tokens += approxTokens(block); continue; }
    const b = (block ?? {}) as Record<string, unknown>;
    if (b.type === 'text' && typeof b.text === 'string') tokens += approxTokens(b.text);
    else if (b.type === 'tool_use') tokens += approxTokens(JSON.stringify({ name: b.name, arguments: JSON.stringify(b.input ?? {}) }));
    else if (b.type === 'tool_result') tokens += MESSAGE_OVERHEAD_TOKENS + resultTokens(b.content);
    else tokens += approxTokens(JSON.stringify(b));
  }
  return tokens;
}

function resultTokens(content: unknown): number {
  if (typeof content === 'string') return approxTokens(content);
  return Array.isArray(content) ? blocksTokens(content) : 0;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
