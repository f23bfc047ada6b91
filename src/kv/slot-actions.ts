// llama-server's slot actions over HTTP: save, restore, erase, and whether a server has them.
// Shapes, as llama-server answers them (llama.cpp de3ff815ea7d, tools/server/server-context.cpp
// post_slots, handle_slots_save/restore):
//   POST /slots/{id}?action=save    {"filename"} -> {id_slot, filename, n_saved, n_written, timings:{save_ms}}
//   POST /slots/{id}?action=restore {"filename"} -> {id_slot, filename, n_restored, n_read, timings:{restore_ms}}
//   POST /slots/{id}?action=erase                -> {id_slot, n_erased}
//   Without --slot-save-path every action answers 501 before the slot id is read; with it a
//   slot id that is not a number answers 400 "Invalid slot ID", which makes a side-effect-free probe.
//   A slot that is processing defers the action until it is idle.
// llama-swap forwards /upstream/{model}/... to that model's server; llama.cpp's router mode
// (--models-dir) takes the model as "model" in the body (and ?model= on GET /slots and /props).

/** How an upstream is addressed for slot actions. */
export type UpstreamKind = 'llama-server' | 'llama-swap' | 'router';

/** Which server and model an action is for. */
export interface ActionTarget {
  url: string;
  apiKey: string | null;
  kind: UpstreamKind;
  model: string;
}

/** Why an action failed; `unsupported` is a 501 (no --slot-save-path). */
export type KvActionFailure = 'unsupported' | 'rejected' | 'unreachable';

/** A slot action that did not succeed. Never reaches a client: the request goes on without it. */
export class KvActionError extends Error {
  readonly code: KvActionFailure;
  /** The upstream's HTTP status, or 0 when it could not be reached. */
  readonly status: number;

  constructor(code: KvActionFailure, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KvActionError';
    this.code = code;
    this.status = status;
  }
}

/** One slot as GET /slots describes it: tokens it holds (n_prompt_tokens, absent before its first task). */
export interface SlotSize { id: number; tokens: number; processing: boolean }

/** GET /slots' answer as slot sizes; null when it is not a list of slots. */
export function parseSlotSizes(body: unknown): SlotSize[] | null {
  if (!Array.isArray(body)) return null;
  const out: SlotSize[] = [];
  for (const item of body as unknown[]) {
    if (item === null || typeof item !== 'object') return null;
    const s = item as Record<string, unknown>;
    if (typeof s.id !== 'number' || !Number.isInteger(s.id)) return null;
    out.push({ id: s.id, tokens: num(s.n_prompt_tokens), processing: s.is_processing === true });
  }
  return out;
}

/** A save's answer. */
export interface SaveResult { tokens: number; bytes: number; ms: number }
/** A restore's answer. */
export interface RestoreResult { tokens: number; bytes: number; ms: number }

/** Method, URL and JSON body of one slot action (pure, for tests). */
export function slotActionRequest(target: ActionTarget, slot: number | string, action: 'save' | 'restore' | 'erase', filename?: string): { url: string; body: Record<string, unknown> } {
  const id = encodeURIComponent(String(slot));
  const base = target.kind === 'llama-swap' ? `${target.url}/upstream/${encodeURIComponent(target.model)}` : target.url;
  const body: Record<string, unknown> = filename === undefined ? {} : { filename };
  if (target.kind === 'router') body.model = target.model;
  return { url: `${base}/slots/${id}?action=${action}`, body };
}

/** Calls slot actions with fetch; each call is bounded by `timeoutMs` and the caller's signal. */
export class SlotActions {
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: { timeoutMs: number; fetch?: typeof fetch }) {
    this.fetch = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs;
  }

  /**
   * Whether the server has slot actions enabled: a save into slot "x" answers 400 (invalid slot
   * id) where they are, 501 where they are not; anything else (404 from a server without the
   * route, 401) counts as not. Unreachable servers throw, so the caller can ask again later.
   */
  async supported(target: ActionTarget, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.call(target, 'x', 'save', 'slotkeeper-probe.bin', signal, timeoutMs);
      // A 2xx to a slot that cannot exist is not llama-server: do not trust it with files.
      return false;
    } catch (err) {
      if (err instanceof KvActionError && err.code === 'rejected') return err.status === 400;
      if (err instanceof KvActionError && err.code === 'unsupported') return false;
      throw err;
    }
  }

  async save(target: ActionTarget, slot: number, filename: string, signal?: AbortSignal): Promise<SaveResult> {
    const r = await this.call(target, slot, 'save', filename, signal);
    return { tokens: num(r.n_saved), bytes: num(r.n_written), ms: num((r.timings as Record<string, unknown> | undefined)?.save_ms) };
  }

  async restore(target: ActionTarget, slot: number, filename: string, signal?: AbortSignal): Promise<RestoreResult> {
    const r = await this.call(target, slot, 'restore', filename, signal);
    return { tokens: num(r.n_restored), bytes: num(r.n_read), ms: num((r.timings as Record<string, unknown> | undefined)?.restore_ms) };
  }

  async erase(target: ActionTarget, slot: number, signal?: AbortSignal): Promise<void> {
    await this.call(target, slot, 'erase', undefined, signal);
  }

  /**
   * The slots of a plain llama-server and what each holds (GET /slots); null when the server does
   * not say (--no-slots: 501) or answers something else. Unreachable servers throw.
   */
  async sizes(target: ActionTarget, timeoutMs: number, signal?: AbortSignal): Promise<SlotSize[] | null> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = target.apiKey === null ? {} : { authorization: `Bearer ${target.apiKey}` };
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(`${target.url}/slots`, { headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      text = await res.text();
    } catch (err) {
      throw new KvActionError('unreachable', 0, `slots of ${target.url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (!res.ok) return null;
    try {
      return parseSlotSizes(JSON.parse(text));
    } catch {
      return null;
    }
  }

  private async call(target: ActionTarget, slot: number | string, action: 'save' | 'restore' | 'erase', filename: string | undefined, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<Record<string, unknown>> {
    const { url, body } = slotActionRequest(target, slot, action, filename);
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (target.apiKey !== null) headers.authorization = `Bearer ${target.apiKey}`;
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      text = await res.text();
    } catch (err) {
      throw new KvActionError('unreachable', 0, `${action} on ${target.url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (res.status === 501) throw new KvActionError('unsupported', 501, `${action} on ${target.url}: slot actions are off (no --slot-save-path)`);
    if (!res.ok) throw new KvActionError('rejected', res.status, `${action} on ${target.url} answered ${res.status}: ${text.slice(0, 300)}`);
    try {
      const parsed = JSON.parse(text) as unknown;
      return parsed !== null && typeof parsed === 'object' ? parsed as Record<string, unknown> : {};
    } catch (err) {
      throw new KvActionError('rejected', res.status, `${action} on ${target.url}: the answer is not JSON`, { cause: err });
    }
  }
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
