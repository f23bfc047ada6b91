// Identical requests in flight share one upstream call. A flight owns the call's AbortSignal and
// a list of listeners (the client that started it is just the first); each listener gets the
// chunks received so far, then the rest live. The call is aborted only when no one listens.
//
// Backpressure: the upstream is paused only while every listener is congested, so the fastest
// listener sets the pace and one slow client cannot stall the others; a listener whose unsent
// bytes pass `listenerBufferBytes` is cut. With a single listener this is exactly relay.ts:
// pause when the client is full, resume when it drains.
import type { HeaderBag, ResponseSink } from '../proxy/sink.js';
import type { Recording } from './recorder.js';
import { ResponseRecorder } from './recorder.js';

/**
 * Where an upstream call writes its response; given to the caller's `runUpstream`. `write` is
 * false when every listener is congested; `onDrain` fires when one drains or leaves; not calling
 * `end` before the call settles means the body was cut.
 */
export type UpstreamSink = ResponseSink;

/** Performs the real upstream call, writing into `sink`; `signal` aborts it. */
export type RunUpstream = (signal: AbortSignal, sink: UpstreamSink) => Promise<void>;

/** One receiver of a flight's response (a client's ServerResponse, in layer.ts). */
export interface Listener {
  /** Called by the flight it joins, before anything else. */
  bind(flight: Flight): void;
  head(status: number, headers: HeaderBag): void;
  /** False when congested; the listener then calls `flight.drained()` once it drains. */
  write(chunk: Uint8Array): boolean;
  /** Bytes written but not yet sent. */
  readonly pendingBytes: number;
  end(): void;
  /** The call failed before any header: the listener answers with `error`. */
  fail(error: unknown): void;
  /** The body was cut after the headers went out. */
  cut(): void;
}

/** Options for a {@link Coalescer}. */
export interface CoalescerOptions {
  /** Largest response kept for replay to late joiners (and for the store). */
  maxEntryBytes: number;
  /** Unsent bytes a listener may hold before it is cut. */
  listenerBufferBytes: number;
  /** Told when a flight's `settle` fails (storing the answer); the clients were already served. */
  onError?: (err: unknown) => void;
}

/** One upstream call and everyone listening to it. */
export class Flight {
  readonly key: string;
  readonly recorder: ResponseRecorder;
  private readonly controller = new AbortController();
  private readonly listeners = new Set<Listener>();
  private readonly congested = new Set<Listener>();
  private readonly drainWaiters: (() => void)[] = [];
  private readonly bufferBytes: number;
  private state: 'waiting' | 'streaming' | 'ended' | 'failed' | 'cut' = 'waiting';
  private status = 0;
  private headers: HeaderBag = {};
  private error: unknown;
  /** Joinable after the end only while the answer is being stored. */
  private closedToJoiners = false;

  constructor(key: string, dialect: 'openai' | 'anthropic', options: CoalescerOptions) {
    this.key = key;
    this.recorder = new ResponseRecorder({ dialect, maxEntryBytes: options.maxEntryBytes });
    this.bufferBytes = options.listenerBufferBytes;
  }

  /** Aborted when the last listener leaves before the end. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Listeners now. */
  get listening(): number {
    return this.listeners.size;
  }

  /**
   * Adds a listener and replays what came so far. False when the flight cannot serve a newcomer
   * from the start (past the replay bound, failed, cut, aborted or finished and stored), or when
   * it already ended and `acceptEnded` is false (a refresh wants an answer computed after it came).
   */
  join(listener: Listener, acceptEnded = true): boolean {
    if (this.closedToJoiners || this.recorder.oversize || this.controller.signal.aborted) return false;
    if (this.state === 'ended' && !acceptEnded) return false;
    if (this.state === 'failed' || this.state === 'cut') return false;
    this.listeners.add(listener);
    listener.bind(this);
    if (this.state === 'waiting') return true;
    listener.head(this.status, this.headers);
    for (const chunk of this.recorder.chunks) this.deliver(listener, chunk);
    if (this.state === 'ended' && this.listeners.has(listener)) {
      this.listeners.delete(listener);
      listener.end();
    }
    return true;
  }

  /** A listener's client went away; the last one leaving aborts the call. */
  leave(listener: Listener): void {
    if (!this.listeners.delete(listener)) return;
    this.congested.delete(listener);
    if (this.listeners.size === 0 && (this.state === 'waiting' || this.state === 'streaming')) {
      this.closedToJoiners = true;
      this.controller.abort(new Error('slotkeeper: every client of a coalesced request went away'));
    }
    this.wake();
  }

  /** A congested listener drained. */
  drained(listener: Listener): void {
    if (this.congested.delete(listener)) this.wake();
  }

  /** No more joiners: the answer is stored (or will not be). */
  close(): void {
    this.closedToJoiners = true;
  }

  /** Runs the upstream call and resolves with the recording once it settled and listeners were told. */
  async run(runUpstream: RunUpstream): Promise<Recording> {
    try {
      await runUpstream(this.controller.signal, this.sink);
    } catch (err) {
      if (this.state === 'waiting') {
        this.state = 'failed';
        this.error = err;
        for (const l of this.takeListeners()) l.fail(err);
      }
    }
    if (this.state === 'streaming' || this.state === 'waiting') {
      this.recorder.cut();
      // A call that resolved without a head is the caller's bug; its listeners must still hear.
      const unanswered = this.state === 'waiting';
      this.state = 'cut';
      for (const l of this.takeListeners()) {
        if (unanswered) l.fail(new Error('slotkeeper: the upstream call ended without a response'));
        else l.cut();
      }
    }
    this.wake();
    return this.recorder.result();
  }

  /** The error the call failed with before any header, if it did. */
  get failure(): unknown {
    return this.error;
  }

  private readonly sink: UpstreamSink = {
    head: (status, headers) => {
      if (this.state !== 'waiting') return;
      this.state = 'streaming';
      this.status = status;
      this.headers = headers;
      this.recorder.head(status, headers);
      for (const l of [...this.listeners]) l.head(status, headers);
    },
    write: (chunk) => {
      if (this.state !== 'streaming') return true;
      this.recorder.write(chunk);
      for (const l of [...this.listeners]) this.deliver(l, chunk);
      return this.listeners.size === 0 || this.congested.size < this.listeners.size;
    },
    onDrain: (fn) => {
      if (this.listeners.size === 0 || this.congested.size < this.listeners.size) queueMicrotask(fn);
      else this.drainWaiters.push(fn);
    },
    end: () => {
      if (this.state !== 'streaming') return;
      this.state = 'ended';
      this.recorder.end();
      for (const l of this.takeListeners()) l.end();
    },
  };

  private deliver(listener: Listener, chunk: Uint8Array): void {
    if (listener.pendingBytes > this.bufferBytes) {
      // Too far behind the others: cut it rather than hold the upstream or buffer without end.
      this.listeners.delete(listener);
      this.congested.delete(listener);
      listener.cut();
      return;
    }
    if (!listener.write(chunk)) this.congested.add(listener);
  }

  private takeListeners(): Listener[] {
    const all = [...this.listeners];
    this.listeners.clear();
    this.congested.clear();
    return all;
  }

  private wake(): void {
    if (this.listeners.size > 0 && this.congested.size >= this.listeners.size) return;
    for (const fn of this.drainWaiters.splice(0)) fn();
  }
}

/** The flights in progress, by key. */
export class Coalescer {
  private readonly flights = new Map<string, Flight>();
  private readonly running = new Set<Promise<void>>();
  private readonly options: CoalescerOptions;

  constructor(options: CoalescerOptions) {
    this.options = options;
  }

  /** Flights in progress (or storing). */
  get size(): number {
    return this.flights.size;
  }

  /** Joins `listener` to the flight for `key`; false when there is none it can join. */
  join(key: string, listener: Listener, acceptEnded = true): boolean {
    return this.flights.get(key)?.join(listener, acceptEnded) ?? false;
  }

  /**
   * Starts a flight for `key` with `listener` as its first listener and runs the call. `settle`
   * gets the recording (to store it) while late joiners can still replay it; the flight leaves
   * the registry when `settle` resolves.
   */
  start(key: string, dialect: 'openai' | 'anthropic', listener: Listener, runUpstream: RunUpstream,
    settle: (recording: Recording) => Promise<void>): Flight {
    const flight = new Flight(key, dialect, this.options);
    // A flight replaced under the same key (one that could not take joiners) keeps running on its own.
    this.flights.set(key, flight);
    flight.join(listener);
    const running: Promise<void> = flight.run(runUpstream)
      .then((recording) => (recording.complete ? settle(recording) : undefined))
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => {
        flight.close();
        if (this.flights.get(key) === flight) this.flights.delete(key);
        this.running.delete(running);
      });
    this.running.add(running);
    return flight;
  }

  /** Resolves once every flight started so far (and any started meanwhile) has ended and stored its answer. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /** The flight for `key`, for tests and the leave path. */
  get(key: string): Flight | undefined {
    return this.flights.get(key);
  }
}
