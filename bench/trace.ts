// The benchmark trace format: sessions of requests, replayed closed-loop. A trace is JSONL: one
// line `{"trace": <TraceHeader>}` then one line per session `{"session": <TraceSession>}`.
//
// A trace does not hold the model's answers (they are only known at replay time). Each step
// says how the session's conversation moves on, and the replayer builds the request body:
//   turn     history += [previous answer (as the assistant message), ...step.messages]; send history
//   side     send step.messages alone, outside the history (a title, a summary); history unchanged
//   rewrite  history = step.messages (a summarization that replaces the conversation); send history
// "previous answer" is the assistant message the last turn/rewrite of this session got back, with
// step.assistantAppend (e.g. tool_use blocks) added to it, the way an agent's history records a
// tool call after the model's text. The first turn of a session has no previous answer.
import { writeFileSync } from 'node:fs';

/** Which API a request speaks: OpenAI chat completions or Anthropic messages. */
export type Dialect = 'openai' | 'anthropic';

/** A chat message in the request's dialect (OpenAI or Anthropic shape), kept as plain JSON. */
export type Message = { role: string; content: unknown; [key: string]: unknown };

/** One request of a session. */
export interface TraceStep {
  kind: 'turn' | 'side' | 'rewrite';
  dialect: Dialect;
  /** Think time before this request is sent, after the previous one of the session finished. */
  thinkMs: number;
  /** New messages (turn), the whole message list (side, rewrite). */
  messages: Message[];
  /** Content blocks appended to the previous answer's assistant message before `messages` (anthropic tool_use, say). */
  assistantAppend?: unknown[];
  /** The rest of the body, sent as is: model, max_tokens, temperature, system, tools, stream... */
  params: Record<string, unknown>;
}

/** A session: one user or agent, whose steps run one after another. */
export interface TraceSession { id: string; steps: TraceStep[] }

/** What produced a trace, so a report can say it. */
export interface TraceHeader {
  scenario: string;
  seed: number;
  /** The generator's parameters, as given. */
  params: Record<string, unknown>;
  /** How many times the whole trace is replayed, one pass after the other (a rerun suite: 2). Default 1. */
  passes?: number;
}

/** A whole trace. */
export interface Trace { header: TraceHeader; sessions: TraceSession[] }

/** Serializes a trace as JSONL. */
export function traceToJsonl(trace: Trace): string {
  return [JSON.stringify({ trace: trace.header }), ...trace.sessions.map((s) => JSON.stringify({ session: s }))].join('\n') + '\n';
}

/** Parses JSONL into a trace, naming the line of any error. */
export function traceFromJsonl(text: string): Trace {
  let header: TraceHeader | undefined;
  const sessions: TraceSession[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let record: { trace?: TraceHeader; session?: TraceSession };
    try {
      record = JSON.parse(line);
    } catch (err) {
      throw new Error(`trace line ${i + 1}: ${(err as Error).message}`);
    }
    if (record.trace) header = record.trace;
    else if (record.session && Array.isArray(record.session.steps)) sessions.push(record.session);
    else throw new Error(`trace line ${i + 1}: expected {"trace": …} or {"session": {"id", "steps": […]}}`);
  });
  if (!header) throw new Error('trace: no {"trace": …} header line');
  return { header, sessions };
}

/** Writes a trace file. */
export function writeTrace(path: string, trace: Trace): void {
  writeFileSync(path, traceToJsonl(trace));
}
