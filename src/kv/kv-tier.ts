// The disk tier's effects: per server, a store (its index, the files in use, measured rates,
// whether slot actions work there), and the calls that carry out decisions.ts' answers: save a
// slot's content before a request overwrites it, restore a saved entry into the chosen slot,
// verify the restore by the next response's cache_n, collect garbage, keep the index on disk.
// A failure here never fails a request: it is counted and logged, and the request goes on.
// Upstreams may share one slot-save directory: each keeps its own index and file names (both
// carry a hash of its URL), and one garbage collection per directory keeps the budgets.
import { resolve } from 'node:path';
import type { Config, UpstreamConfig } from '../config/config.js';
import { defaults } from '../defaults.js';
import type { KvMetrics } from '../metrics.js';
import type { Chain, PromptQuery } from '../prefix/chain.js';
import type { SlotContent } from '../prefix/prefix-index.js';
import { type TierRates, decideRestore, decideSave, restoreMs, restoreVerified, saveMs } from './decisions.js';
import { DiskStore } from './disk-store.js';
import { hashFile } from './file-hash.js';
import { chainHash, entryFileName, modelHash, parseEntryFileName, parseIndexFileName, ringLineage, serverHash } from './file-name.js';
import { planGc } from './gc-plan.js';
import { RestoreTrust } from './restore-trust.js';
import { locateProbe, probeFileName, saveDirCandidates, writableDir } from './save-dir-finder.js';
import { type SavedEntry, SavedIndex } from './saved-index.js';
import { type ActionTarget, KvActionError, SlotActions } from './slot-actions.js';

/** The upstream a tier call is about. */
export interface TierUpstream {
  readonly id: number;
  readonly url: string;
  readonly generation: number;
  readonly apiKey?: string | null;
}

/** A slot about to be written: what it holds and what the request brings. */
export interface SlotSituation {
  upstream: TierUpstream;
  slot: number;
  model: string;
  /** What the slot is believed to hold, and how long it has been idle. */
  content: SlotContent | undefined;
  idleMs: number;
  /** The request replaces the content, in whole or past a shared prefix, rather than extending it. */
  overwrites: boolean;
  /** Tokens of the content the request keeps in the slot (a shared prefix); default 0. */
  keptTokens?: number;
  /** The request's chain and its prompt tokens (estimated). */
  chain: Chain;
  promptTokens: number;
  /** Tokens the chosen slot (or the RAM cache) already gives the request. */
  currentReuseTokens: number;
  /** The chance those tokens are not there (decisions.ts RestoreQuestion.currentMissChance); default 0. */
  currentMissChance?: number;
  /** Blocks of the request's chain they stand for (decisions.ts RestoreQuestion.currentReuseBlocks). */
  currentReuseBlocks?: number;
  /** Hashes at the request's message starts (chain.ts PromptQuery), for whole-prompt matches. */
  ends?: Float64Array;
  /**
   * Upstreams whose saved entries this one may restore: same save directory, same model file and
   * context (the router checks what their /props said). Default none.
   */
  peers?: readonly TierUpstream[];
  /** Tokens one hashed block stands for on this server. */
  tokensPerBlock: number;
  promptTokensPerMs: number;
  signal?: AbortSignal;
}

/** A saved entry the scheduler may plan to copy into a slot (policy.ts CopySource). */
export interface FileSource {
  file: string;
  /** Blocks of the request's chain it covers, and of its own. */
  blocks: number;
  entryBlocks: number;
  tokens: number;
  /** Expected restore time. */
  restoreMs: number;
}

/** A restore that happened; hand it to {@link KvTier.verify} with the response's cache_n. */
export interface Restored {
  store: string;
  model: string;
  file: string;
  chain: Chain;
  /** Tokens now in the slot. */
  tokens: number;
  /** Blocks of the request's chain the restored entry covers. */
  blocks: number;
  /** Tokens the request is expected to reuse from it. */
  expectedTokens: number;
  /**
   * The restore went through but the file then failed its check (the size llama-server read is
   * not the one its save wrote): the slot was erased, so it holds nothing (`tokens` 0, an empty
   * chain) and the request prefills in full. Nothing to verify.
   */
  erased?: boolean;
}

/** A slot to save on shutdown. */
export interface HotSlot {
  upstream: TierUpstream;
  slot: number;
  model: string;
  content: SlotContent;
  idleMs: number;
  promptTokensPerMs: number;
}

/** An upstream as the gateway knows it at start: the tier names its mode for each. */
export interface StartingUpstream extends TierUpstream {
  /** The models it serves (the first one addresses slot actions). */
  readonly models: readonly string[];
}

/** Dependencies, injected. */
export interface KvTierDeps {
  config: Config;
  metrics: KvMetrics;
  /** Wall clock, ms: the index outlives the process. */
  now: () => number;
  log: (line: string) => void;
  fetch?: typeof fetch;
  /** Slot-save directories of this host's processes (default: save-dir-finder.ts, from /proc). */
  saveDirCandidates?: () => Promise<string[]>;
}

/**
 * How a store came to its directory, or why it has none: told (upstreams[].slotSaveDir), found
 * on this host (the server's --slot-save-path, proved by a probe save), blind, or not decided yet
 * (the search runs once slot actions are known to work there).
 */
type Place = { kind: 'told' } | { kind: 'found' } | { kind: 'blind'; why: string } | { kind: 'pending' };

/** What a server answered to the capability probe. */
type Capability = 'on' | 'off' | 'unreachable';

/** A local slot-save directory and the stores of this gateway whose index is loaded from it. */
interface Directory {
  disk: DiskStore;
  stores: Set<Store>;
  /** The garbage collection running now, if any. */
  collecting: Promise<void> | null;
}

interface Store {
  key: string;
  /** serverHash of the upstream's URL: in its file names and its index's name. */
  server: string;
  dir: Directory | null;
  index: SavedIndex;
  inUse: Set<string>;
  /** Files being restored now, by how many restores: saves and deletes wait, other restores may read too. */
  readers: Map<string, number>;
  rates: TierRates;
  /** A save has measured the rates' bytesPerToken. */
  measured: boolean;
  ready: Promise<void>;
  place: Place;
  /** The directory search running now. */
  finding: Promise<void> | null;
  /** The mode line was logged; later capability answers are logged when they change. */
  announced: boolean;
  lastCapability: Capability | null;
  capability: { generation: number; enabled: Promise<Capability>; known: Capability | null } | null;
  persisting: Promise<void>;
  /** Content hashes being computed after saves, by file. */
  hashing: Map<string, Promise<void>>;
  /** The server generation restores were last judged under (null: none yet). */
  generation: number | null;
}

// Each new measurement counts this much against the running estimate.
const EWMA = 0.5;

/** The disk tier of one gateway. */
export class KvTier {
  private readonly deps: KvTierDeps;
  private readonly actions: SlotActions;
  private readonly stores = new Map<number, Store>();
  private readonly directories = new Map<string, Directory>();
  private readonly trust: RestoreTrust;

  constructor(deps: KvTierDeps) {
    this.deps = deps;
    this.actions = new SlotActions({ timeoutMs: deps.config.kv.actionTimeoutMs, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
    this.trust = new RestoreTrust(deps.config.kv.unverifiedRestoreLimit);
  }

  /**
   * Before a request runs in a slot: saves what the slot holds if the request overwrites it and
   * it is worth keeping, then restores the saved entry that beats recomputing, if any.
   */
  async beforeRun(s: SlotSituation): Promise<Restored | null> {
    if (!this.deps.config.kv.enabled) return null;
    const store = this.store(s.upstream.id);
    await store.ready;
    const target = this.target(s.upstream, s.model);
    if (s.overwrites && s.content !== undefined && s.content.tokens > 0) {
      await this.save(store, s.upstream, target, s.slot, s.content, s.idleMs, s.promptTokensPerMs, s.signal, s.keptTokens);
    }
    return this.restore(store, s.upstream, target, s);
  }

  /**
   * At gateway start: settles each upstream's mode, finding the directory of a plain llama-server
   * on this host when it was not told, and logs one line per upstream (indexed in which
   * directory, blind and why, or off). Requests meanwhile wait for it. Never rejects.
   */
  async start(upstreams: readonly StartingUpstream[]): Promise<void> {
    if (!this.deps.config.kv.enabled) return;
    await Promise.all(upstreams.map(async (u) => {
      const store = this.store(u.id);
      const target = this.target(u, u.models[0] ?? '');
      if (target.kind !== 'llama-server') {
        // Any slot call names a model, and on llama-swap it would load that model: asked on first use.
        await store.ready;
        this.announce(store, u, null);
        return;
      }
      const settled = store.ready.then(() => this.prepare(store, u, target)).then(() => undefined);
      store.ready = settled;
      await settled;
      if (!store.announced) this.deps.log(`kv: upstream ${u.id} (${u.url}): disk tier mode not known yet (the server did not answer); decided when first needed`);
    }));
  }

  /** The response after a restore reported `cacheN` reused tokens. */
  verify(restored: Restored, cacheN: number): void {
    if (restored.erased === true) return;
    const ok = restoreVerified(restored.expectedTokens, cacheN);
    this.deps.metrics.verifications.inc({ result: ok ? 'reused' : 'not_reused' });
    if (!ok) this.deps.log(`kv: restore of ${restored.file} on ${restored.store} expected ${Math.round(restored.expectedTokens)} reused tokens, the response reused ${cacheN}`);
    if (this.trust.record(restored.store, restored.model, ok) === 'disabled') {
      this.deps.metrics.restoresDisabled.inc();
      this.deps.log(`kv: restores stop on ${restored.store} for model ${restored.model}: ${this.deps.config.kv.unverifiedRestoreLimit} in a row gave no reuse (a model llama.cpp cannot restore into, e.g. sliding-window attention: llama.cpp #25913)`);
    }
  }

  /** The local directory `u`'s slot files are in (told or found), resolved; null while blind or unknown. */
  saveDirOf(u: { readonly id: number }): string | null {
    const dir = this.stores.get(u.id)?.dir;
    return dir ? resolve(dir.disk.dir) : null;
  }

  /**
   * Whether a copy into `u` can be planned now: the tier is on and slot actions are known to
   * work there under its current generation. A server given a save directory is asked at once,
   * so the first wave of requests can copy; others are asked only when there is something to
   * save, as before (no extra calls).
   */
  copyable(u: TierUpstream, model: string): boolean {
    if (!this.deps.config.kv.enabled) return false;
    const store = this.store(u.id);
    if (store.capability?.generation !== u.generation && store.dir !== null) void this.capability(store, u, this.target(u, model));
    return store.capability?.generation === u.generation && store.capability.known === 'on';
  }

  /**
   * Saved entries of `model` that share a prefix with the query: the best of `u`'s own index and
   * of each peer's in the same directory, for the scheduler to weigh a copy. Indexes still
   * loading give none.
   */
  fileSources(u: TierUpstream, model: string, query: PromptQuery, peers: readonly TierUpstream[] = []): FileSource[] {
    const own = this.store(u.id);
    const out: FileSource[] = [];
    for (const store of this.candidateStores(own, peers)) {
      const match = store.index.best(model, query);
      if (match === null || store.inUse.has(match.entry.file)) continue;
      const { entry } = match;
      out.push({ file: entry.file, blocks: match.blocks, entryBlocks: entry.chain.length, tokens: entry.tokens, restoreMs: restoreMs(entry.bytes, own.rates) });
    }
    return out;
  }

  /** ms to copy `tokens` of a slot into another: its save and a restore. */
  copyMs(u: TierUpstream, tokens: number, peers: readonly TierUpstream[] = []): number {
    // A peer runs the same model file, so its measured KV size stands for this server's until it has its own.
    const own = this.store(u.id);
    const measured = own.measured ? own : peers.map((p) => this.stores.get(p.id)).find((st) => st?.measured === true);
    const rates = (measured ?? own).rates;
    return saveMs(tokens, rates) + restoreMs(tokens * rates.bytesPerToken, rates);
  }

  /**
   * Saves a slot for copying elsewhere, worth it or not by decideSave's measure (requests are
   * waiting for its prefix), unless a saved entry already holds it all. The caller holds the
   * slot's lease. True when an entry now holds it.
   */
  async snapshot(u: TierUpstream, slot: number, model: string, content: SlotContent, signal?: AbortSignal): Promise<boolean> {
    if (!this.deps.config.kv.enabled || content.tokens === 0) return false;
    const store = this.store(u.id);
    await store.ready;
    if (store.index.covering(model, content.chain, content.tokens - 1) !== undefined) return true;
    const target = this.target(u, model);
    if (!(await this.prepare(store, u, target, signal))) return false;
    return this.write(store, target, slot, content, signal);
  }

  /**
   * Saves the given slots where worth it (graceful shutdown, idle saves), one at a time; the
   * caller keeps requests out of them meanwhile. Resolves to the number of files written.
   */
  async saveHot(slots: readonly HotSlot[]): Promise<number> {
    if (!this.deps.config.kv.enabled) return 0;
    let saved = 0;
    const touched = new Set<Store>();
    for (const h of slots) {
      const store = this.store(h.upstream.id);
      await store.ready;
      if (await this.save(store, h.upstream, this.target(h.upstream, h.model), h.slot, h.content, h.idleMs, h.promptTokensPerMs)) {
        saved += 1;
        touched.add(store);
      }
    }
    // Off the request path, so wait until the index on disk lists what was saved.
    await Promise.all([...touched].map((s) => s.persisting));
    return saved;
  }

  /** Bytes of every known entry. */
  diskBytes(): number {
    let total = 0;
    for (const s of this.stores.values()) total += s.index.totalBytes;
    return total;
  }

  /** Waits for directory searches, garbage collections and index writes in flight. */
  async close(): Promise<void> {
    await Promise.all([...this.stores.values()].map((s) => s.finding));
    await Promise.all([...this.stores.values()].flatMap((s) => [...s.hashing.values()]));
    await Promise.all([...this.directories.values()].map((d) => d.collecting));
    await Promise.all([...this.stores.values()].map((s) => s.persisting));
  }

  private upstreamConfig(id: number): UpstreamConfig | undefined {
    return this.deps.config.upstreams[id];
  }

  private target(u: TierUpstream, model: string): ActionTarget {
    return { url: u.url, apiKey: u.apiKey ?? null, kind: this.upstreamConfig(u.id)?.kind ?? 'llama-server', model };
  }

  private store(id: number): Store {
    let store = this.stores.get(id);
    if (store) return store;
    const cfg = this.upstreamConfig(id);
    const key = cfg?.url ?? String(id);
    store = {
      key, server: serverHash(key), dir: cfg?.slotSaveDir ? this.directory(cfg.slotSaveDir) : null,
      index: new SavedIndex(this.deps.config.kv.maxEntries),
      inUse: new Set(), readers: new Map(), rates: { ...defaults.kvInitialRates }, measured: false, ready: Promise.resolve(),
      place: this.initialPlace(cfg), finding: null, announced: false, lastCapability: null, capability: null,
      persisting: Promise.resolve(), hashing: new Map(), generation: null,
    };
    store.ready = this.load(store);
    this.stores.set(id, store);
    return store;
  }

  private initialPlace(cfg: UpstreamConfig | undefined): Place {
    if (cfg?.slotSaveDir) return { kind: 'told' };
    if (!this.deps.config.kv.detectSaveDir) return { kind: 'blind', why: 'not told its directory, and kv.detectSaveDir is off' };
    const kind = cfg?.kind ?? 'llama-server';
    if (kind !== 'llama-server') return { kind: 'blind', why: `not told its directory; a ${kind} upstream's models each have their own server` };
    return { kind: 'pending' };
  }

  /**
   * Before a save or restore: whether slot actions work on the server, and, the first time they
   * do, where its directory is (when the store may search for it). Never rejects.
   */
  private async prepare(store: Store, u: TierUpstream, target: ActionTarget, signal?: AbortSignal): Promise<boolean> {
    const capability = await this.capability(store, u, target, signal);
    if (capability === 'on' && store.place.kind === 'pending') {
      store.finding ??= this.find(store, target).catch((err: unknown) => {
        store.place = { kind: 'blind', why: `the search for its directory failed: ${message(err)}` };
      }).finally(() => {
        store.finding = null;
      });
      await store.finding;
    }
    if (capability === 'off' || (capability === 'on' && store.place.kind !== 'pending')) this.announce(store, u, capability === 'on');
    return capability === 'on';
  }

  /**
   * Looks for the server's directory among this host's processes' --slot-save-path: the server
   * saves its emptiest idle slot under a unique name, and the candidate that holds that file is
   * the one (the file is deleted there). Not found: blind. Unreachable: asked again next time.
   */
  private async find(store: Store, target: ActionTarget): Promise<void> {
    const blind = (why: string) => {
      store.place = { kind: 'blind', why };
    };
    const candidates = await (this.deps.saveDirCandidates ?? saveDirCandidates)();
    if (candidates.length === 0) return blind('not told its directory, and no process on this host runs with --slot-save-path: the server is elsewhere, in a container, or hidden from this user');
    const timeoutMs = this.deps.config.fleet.probeTimeoutMs;
    const sizes = await this.actions.sizes(target, timeoutMs).catch(() => null);
    // An empty slot saves in a few hundred bytes; a busy one would defer the save until it is idle.
    const slot = sizes?.filter((s) => !s.processing).sort((a, b) => a.tokens - b.tokens)[0]?.id ?? sizes?.[0]?.id ?? 0;
    const name = probeFileName();
    try {
      await this.actions.save(target, slot, name);
    } catch (err) {
      if (err instanceof KvActionError && err.code === 'unreachable') return;
      return blind(`not told its directory, and its probe save failed: ${message(err)}`);
    }
    const found = await locateProbe(name, candidates);
    if (found === null) {
      return blind(`not told its directory, and its probe save ${name} appeared in none of the ${candidates.length} --slot-save-path directories on this host (it stays in the server's own: delete it there)`);
    }
    if (!(await writableDir(found))) return blind(`its --slot-save-path is ${found} here, where this process may not write (the probe file stays there)`);
    store.dir = this.directory(found);
    store.place = { kind: 'found' };
    await this.load(store);
  }

  /** Logs the store's mode once; `on` null: slot actions not asked yet (multi-model upstreams). */
  private announce(store: Store, u: TierUpstream, on: boolean | null): void {
    if (store.announced) return;
    store.announced = true;
    const { ringSize } = this.deps.config.kv;
    const head = `kv: upstream ${u.id} (${u.url}): disk tier`;
    if (on === false) {
      this.deps.log(`${head} off: the server has no slot save/restore (no --slot-save-path); start llama-server with --slot-save-path DIR to keep conversations that leave a slot`);
      return;
    }
    const later = on === null ? '; slot actions are asked per model when first needed' : '';
    const place = store.place;
    if (store.dir !== null && (place.kind === 'told' || place.kind === 'found')) {
      const how = place.kind === 'told' ? 'upstreams[].slotSaveDir' : 'found: the server\'s --slot-save-path, proved by a probe save';
      this.deps.log(`${head} indexed in ${store.dir.disk.dir} (${how}): garbage collection, and restores after a gateway restart${later}`);
      return;
    }
    const why = place.kind === 'blind' ? place.why : 'its directory cannot be read';
    this.deps.log(`${head} blind (${why}): ${ringSize} file names per model and an index in memory, so no garbage collection and no restores after a gateway restart; `
      + `give the server's --slot-save-path as seen here with --upstream ${u.url}=DIR or upstreams[].slotSaveDir${later}`);
  }

  private directory(path: string): Directory {
    const key = resolve(path);
    let dir = this.directories.get(key);
    if (dir === undefined) {
      dir = { disk: new DiskStore(path), stores: new Set(), collecting: null };
      this.directories.set(key, dir);
    }
    return dir;
  }

  /** Reads the server's index and reconciles it with its files in the directory. */
  private async load(store: Store): Promise<void> {
    const dir = store.dir;
    if (dir === null) return;
    const { disk } = dir;
    try {
      const bytes = await disk.readIndex(store.server);
      if (bytes !== null) {
        try {
          store.index = SavedIndex.decode(bytes, this.deps.config.kv.maxEntries);
        } catch (err) {
          this.deps.log(`kv: ${disk.dir}: the index cannot be read, starting empty: ${message(err)}`);
        }
      }
      // Only this server's files: another's (sharing the directory) are in its own index.
      const listing = (await disk.list()).filter((f) => parseEntryFileName(f.name)?.server === store.server);
      const { dropped, resized, orphans } = store.index.reconcile(listing);
      for (const e of resized) await this.damaged(store, e, 'size', `its file has another size than its save wrote (${e.bytes} bytes): a partial copy or another writer`);
      // Entries of an index written before content hashes cannot be checked: never restored.
      const unhashed = store.index.entries().filter((e) => e.sha256 === undefined);
      for (const e of unhashed) await this.deleteFile(store, dir, e.file, 'unhashed');
      if (unhashed.length > 0) this.deps.log(`kv: ${disk.dir}: ${unhashed.length} saved entries without a content hash (an older index) cannot be checked before a restore: deleted`);
      // Entries saved before a restart already measured this server's KV bytes per token.
      const saved = store.index.entries().filter((e) => e.tokens > 0);
      if (saved.length > 0) {
        store.rates.bytesPerToken = saved.reduce((s, e) => s + e.bytes, 0) / saved.reduce((s, e) => s + e.tokens, 0);
        store.measured = true;
      }
      if (dropped.length > 0 || orphans.length > 0) {
        this.deps.log(`kv: ${disk.dir}: ${store.index.size} saved entries; ${dropped.length} whose file is gone forgotten, ${orphans.length} unindexed files of ours`);
      }
    } catch (err) {
      this.deps.log(`kv: ${disk.dir} cannot be read (${message(err)}); working without local access`);
      store.dir = null;
      store.place = { kind: 'blind', why: `${disk.dir} cannot be read: ${message(err)}` };
      return;
    }
    // Only now: until its index is loaded, a GC of the directory must see this server's files as
    // listed by its index on disk, not as orphans of an empty one.
    dir.stores.add(store);
    await this.collect(dir);
    this.persist(store);
  }

  /**
   * A server seen under a new generation restarted, maybe with another build or model, so its
   * verdicts on restores no longer hold: they are tried again.
   */
  private observeGeneration(store: Store, u: TierUpstream): void {
    if (store.generation !== null && store.generation !== u.generation) this.trust.resetServer(store.key);
    store.generation = u.generation;
  }

  private capability(store: Store, u: TierUpstream, target: ActionTarget, signal?: AbortSignal): Promise<Capability> {
    if (store.capability?.generation === u.generation) return store.capability.enabled;
    const enabled = this.actions.supported(target, this.deps.config.fleet.probeTimeoutMs, signal).then((yes): Capability => {
      const answer = yes ? 'on' : 'off';
      if (store.capability?.enabled === enabled) store.capability.known = answer;
      // The first answer is in the mode line; a restarted server that answers otherwise is news.
      if (store.announced && store.lastCapability !== answer) {
        this.deps.log(`kv: upstream ${u.id} (${u.url}) ${yes ? 'has' : 'has no'} slot save/restore${yes ? '' : ' (no --slot-save-path): disk tier off there'}`);
      }
      store.lastCapability = answer;
      return answer;
    }, (err: unknown): Capability => {
      // Unreachable or timed out: say no for now and ask again next time.
      store.capability = null;
      this.deps.log(`kv: upstream ${u.id}: slot actions could not be probed: ${message(err)}`);
      return 'unreachable';
    });
    store.capability = { generation: u.generation, enabled, known: null };
    return enabled;
  }

  /** Saves a slot when decideSave says so; true when a file was written and indexed. */
  private async save(store: Store, u: TierUpstream, target: ActionTarget, slot: number, content: SlotContent, idleMs: number, promptTokensPerMs: number, signal?: AbortSignal, keptTokens = 0): Promise<boolean> {
    if (!this.worthSaving(store, target.model, content, idleMs, promptTokensPerMs, keptTokens)) return false;
    // Asked only when there is something to do, so servers without the tier see no extra calls.
    if (!(await this.prepare(store, u, target, signal))) return false;
    // Again: the first prepare may have found the directory and loaded its index.
    if (!this.worthSaving(store, target.model, content, idleMs, promptTokensPerMs, keptTokens)) return false;
    return this.write(store, target, slot, content, signal);
  }

  private worthSaving(store: Store, model: string, content: SlotContent, idleMs: number, promptTokensPerMs: number, keptTokens: number): boolean {
    return decideSave({
      tokens: content.tokens, keptTokens, idleMs, reuseHalfLifeMs: defaults.reuseHalfLifeMs, promptTokensPerMs,
      // The router counts prompt + generated tokens, but llama-server never decodes the last token
      // it samples, so a saved slot holds one fewer (n_saved 922 after 921 + 2, llama.cpp de3ff81).
      alreadySaved: store.index.covering(model, content.chain, content.tokens - 1) !== undefined,
      minTokens: this.deps.config.kv.minSaveTokens,
      // Until a save has measured this server's KV bytes per token, any guess is off by 100× (a
      // small model's ~1 KB against a 30B model's ~128 KB): the first save is how it learns.
      rates: store.measured ? store.rates : { ...store.rates, bytesPerToken: 0 },
    }).save;
  }

  /** Writes a slot's content to its lineage's file (or a new one) and indexes it; true when done. */
  private async write(store: Store, target: ActionTarget, slot: number, content: SlotContent, signal?: AbortSignal): Promise<boolean> {
    const { model } = target;
    const lineage = store.index.lineageOf(model, content.chain);
    const file = lineage?.file ?? this.newFileName(store, model, content.chain);
    if (file === null || store.inUse.has(file) || store.readers.has(file)) return false;
    // Taken before any await, so a save starting meanwhile picks another name.
    store.inUse.add(file);
    const { metrics } = this.deps;
    try {
      const started = performance.now();
      const r = await this.actions.save(target, slot, file, signal);
      metrics.actionSeconds.observe({ action: 'save' }, (performance.now() - started) / 1000);
      metrics.saves.inc({ result: 'ok' });
      metrics.bytes.inc({ direction: 'saved' }, r.bytes);
      if (r.tokens === 0) return false;
      const now = this.deps.now();
      const entry: SavedEntry = {
        file, model, chain: content.chain, tokens: r.tokens, bytes: r.bytes,
        createdMs: lineage?.createdMs ?? now, lastUsedMs: now, hits: lineage?.hits ?? 0,
        ...(content.endHash !== undefined && content.chars !== undefined ? { endHash: content.endHash, chars: content.chars } : {}),
      };
      const evicted = store.index.put(entry);
      this.hashSaved(store, entry);
      store.rates.bytesPerToken = store.measured ? ewma(store.rates.bytesPerToken, r.bytes / r.tokens) : r.bytes / r.tokens;
      store.measured = true;
      if (r.ms > 0) store.rates.saveBytesPerMs = ewma(store.rates.saveBytesPerMs, r.bytes / r.ms);
      for (const e of evicted) await this.deleteFile(store, store.dir, e.file, 'entries');
      this.persist(store);
      if (store.dir !== null) void this.collect(store.dir);
      return true;
    } catch (err) {
      metrics.saves.inc({ result: 'failed' });
      this.deps.log(`kv: save of slot ${slot} to ${file} failed; the request goes on without it: ${message(err)}`);
      return false;
    } finally {
      store.inUse.delete(file);
    }
  }

  private async restore(store: Store, u: TierUpstream, target: ActionTarget, s: SlotSituation): Promise<Restored | null> {
    const { model } = target;
    this.observeGeneration(store, u);
    if (this.restoreChoice(store, model, s) === null || !(await this.prepare(store, u, target, s.signal))) return null;
    // Again after the await: the index may have changed (a directory found, an entry gone).
    const choice = this.restoreChoice(store, model, s);
    if (choice === null) return null;
    const { owner, trustKey, entry, match, matchedTokens } = choice;
    // Several requests may copy one prefix at once: restores only read the file.
    owner.readers.set(entry.file, (owner.readers.get(entry.file) ?? 0) + 1);
    const started = performance.now();
    const { metrics } = this.deps;
    try {
      if (!(await this.intact(owner, entry, s.signal))) return null;
      const r = await this.actions.restore(target, s.slot, entry.file, s.signal);
      metrics.actionSeconds.observe({ action: 'restore' }, (performance.now() - started) / 1000);
      metrics.restores.inc({ result: 'ok' });
      metrics.bytes.inc({ direction: 'restored' }, r.bytes);
      if (r.bytes !== entry.bytes || r.tokens !== entry.tokens) {
        // What llama-server loaded is not what was saved (blind mode cannot hash the file; any
        // mode can see this): the slot may now hold a damaged state whose tokens still match.
        await this.damaged(owner, entry, 'size', `llama-server read ${r.bytes} bytes and ${r.tokens} tokens where the save wrote ${entry.bytes} and ${entry.tokens}`);
        await this.erase(target, s.slot, entry.file);
        return {
          store: trustKey, model, file: entry.file, chain: new Float64Array(0), tokens: 0, blocks: 0, expectedTokens: 0, erased: true,
        };
      }
      owner.index.touch(entry.file, this.deps.now());
      if (r.ms > 0 && r.bytes > 0) store.rates.restoreBytesPerMs = ewma(store.rates.restoreBytesPerMs, r.bytes / r.ms);
      this.persist(owner);
      return {
        store: trustKey, model, file: entry.file, chain: entry.chain, tokens: r.tokens, blocks: match.blocks,
        expectedTokens: Math.min(matchedTokens, r.tokens, Math.max(0, s.promptTokens - 1)),
      };
    } catch (err) {
      metrics.restores.inc({ result: 'failed' });
      // A file llama-server cannot load (gone, or from another model) is useless: forget it.
      if (err instanceof KvActionError && err.code === 'rejected' && owner === store) {
        store.index.remove(entry.file);
        this.persist(store);
      }
      this.deps.log(`kv: restore of ${entry.file} into slot ${s.slot} failed; the request goes on without it: ${message(err)}`);
      return null;
    } finally {
      const left = (owner.readers.get(entry.file) ?? 1) - 1;
      if (left > 0) owner.readers.set(entry.file, left);
      else owner.readers.delete(entry.file);
    }
  }

  /**
   * After a save into a local directory: the file's content hash, computed in the background and
   * recorded in the entry (and the index on disk), unless a later save replaced the entry. A file
   * that cannot be read, or is not the size the save wrote, is forgotten.
   */
  private hashSaved(store: Store, entry: SavedEntry): void {
    const dir = store.dir;
    if (dir === null) return;
    const previous = store.hashing.get(entry.file) ?? Promise.resolve();
    const done = previous.then(() => hashFile(dir.disk.pathOf(entry.file))).then(async (digest) => {
      if (store.index.get(entry.file) !== entry) return;
      if (digest.bytes !== entry.bytes) return this.damaged(store, entry, 'size', `its file holds ${digest.bytes} bytes where the save wrote ${entry.bytes}`);
      entry.sha256 = digest.sha256;
      this.persist(store);
    }, (err: unknown) => {
      if (store.index.get(entry.file) !== entry) return;
      store.index.remove(entry.file);
      this.persist(store);
      this.deps.log(`kv: ${entry.file} cannot be read to hash it (${message(err)}): forgotten`);
    }).finally(() => {
      if (store.hashing.get(entry.file) === done) store.hashing.delete(entry.file);
    });
    store.hashing.set(entry.file, done);
  }

  /**
   * Whether an entry's file may be restored: in a local directory, its content must hash to what
   * was recorded after its save (a damaged file is deleted and counted); blind, there is nothing
   * to read, and the size check after the restore is all there is.
   */
  private async intact(store: Store, entry: SavedEntry, signal?: AbortSignal): Promise<boolean> {
    const dir = store.dir;
    if (dir === null) return true;
    await store.hashing.get(entry.file);
    if (store.index.get(entry.file) !== entry) return false;
    if (entry.sha256 === undefined) return false;
    let digest;
    try {
      digest = await hashFile(dir.disk.pathOf(entry.file), signal);
    } catch (err) {
      if (signal?.aborted) return false;
      store.index.remove(entry.file);
      this.persist(store);
      this.deps.log(`kv: ${entry.file} cannot be read to check it (${message(err)}): forgotten, not restored`);
      return false;
    }
    if (digest.sha256 === entry.sha256 && digest.bytes === entry.bytes) return true;
    await this.damaged(store, entry, 'hash', `its content (${digest.bytes} bytes) does not hash to what its save wrote (${entry.bytes} bytes)`);
    return false;
  }

  /** A saved file failed a check: counted, logged, forgotten and deleted, so nothing restores it again. */
  private async damaged(store: Store, entry: SavedEntry, check: 'hash' | 'size', why: string): Promise<void> {
    this.deps.metrics.damaged.inc({ check });
    this.deps.log(`kv: ${entry.file} is damaged (${why}): deleted, never restored`);
    store.index.remove(entry.file);
    if (store.dir !== null) {
      await store.dir.disk.delete(entry.file).catch((err: unknown) => this.deps.log(`kv: could not delete ${entry.file}: ${message(err)}`));
    }
    this.persist(store);
  }

  /** Empties a slot a damaged file was restored into, so no request reuses what it holds. */
  private async erase(target: ActionTarget, slot: number, file: string): Promise<void> {
    try {
      await this.actions.erase(target, slot);
    } catch (err) {
      this.deps.log(`kv: slot ${slot} could not be erased after ${file} was restored into it damaged; it may answer wrongly until overwritten: ${message(err)}`);
    }
  }

  /**
   * The saved entry worth restoring for `s`, if any, and what it gives: the longest saved prefix
   * in this server's index or a peer's. A peer's file read by this server is trusted per pair,
   * since another build or model file there would not verify.
   */
  private restoreChoice(store: Store, model: string, s: SlotSituation): { owner: Store; trustKey: string; entry: SavedEntry; match: { blocks: number }; matchedTokens: number } | null {
    const query: PromptQuery = { chain: s.chain, ...(s.ends ? { ends: s.ends } : {}) };
    let found: { owner: Store; trustKey: string; match: { entry: SavedEntry; blocks: number } } | null = null;
    for (const owner of this.candidateStores(store, s.peers ?? [])) {
      const trustKey = owner === store ? store.key : `${store.key} <- ${owner.key}`;
      if (!this.trust.allowed(trustKey, model)) continue;
      const match = owner.index.best(model, query);
      if (match === null || owner.inUse.has(match.entry.file)) continue;
      if (found === null || match.blocks > found.match.blocks) found = { owner, trustKey, match };
    }
    if (found === null) return null;
    const { owner, trustKey, match } = found;
    const { entry } = match;
    const matchedTokens = Math.min(match.blocks * s.tokensPerBlock, entry.tokens);
    const decision = decideRestore({
      promptTokens: s.promptTokens, currentReuseTokens: s.currentReuseTokens, currentMissChance: s.currentMissChance ?? 0, entryTokens: entry.tokens,
      entryBlocks: entry.chain.length, matchedBlocks: match.blocks, matchedTokens, bytes: entry.bytes,
      promptTokensPerMs: s.promptTokensPerMs, rates: store.rates,
      ...(s.currentReuseBlocks !== undefined ? { currentReuseBlocks: s.currentReuseBlocks, tokensPerBlock: s.tokensPerBlock } : {}),
    });
    return decision.restore ? { owner, trustKey, entry, match, matchedTokens } : null;
  }

  /** `own`, then the loaded stores of `peers` that share its local directory. */
  private candidateStores(own: Store, peers: readonly TierUpstream[]): Store[] {
    const out = [own];
    if (own.dir === null) return out;
    for (const p of peers) {
      // Made on first sight, so its index loads; it counts once loaded (in its directory's stores).
      const peer = this.store(p.id);
      if (peer !== own && peer.dir === own.dir && own.dir.stores.has(peer)) out.push(peer);
    }
    return out;
  }

  /**
   * A name for a new lineage: its chain hash where GC keeps the directory bounded; without local
   * access, a position in the model's ring of `kv.ringSize` names, the least recently used one
   * when all are taken, so the server's disk use stays bounded. Null when every name is busy.
   * A name being saved or restored counts as taken: a save in flight is not indexed until it
   * ends, and slots overwritten at once (4 slots, 8 users) would otherwise all pick the same free
   * name, and all but one skip their save.
   */
  private newFileName(store: Store, model: string, chain: Chain): string | null {
    const m = modelHash(model);
    if (store.dir !== null) return entryFileName(store.server, m, chainHash(chain));
    const taken = new Set([...store.inUse, ...store.readers.keys()]);
    for (const e of store.index.entries()) if (e.model === model) taken.add(e.file);
    for (let i = 0; i < this.deps.config.kv.ringSize; i++) {
      const name = entryFileName(store.server, m, ringLineage(i));
      if (!taken.has(name)) return name;
    }
    const oldest = store.index.entries().find((e) => e.model === model && !store.inUse.has(e.file) && !store.readers.has(e.file));
    if (oldest === undefined) return null;
    store.index.remove(oldest.file);
    return oldest.file;
  }

  /**
   * Garbage collection of a local directory, one run at a time per directory, over every file of
   * ours in it: those of this gateway's servers, and those other indexes in the directory list
   * (another gateway's servers), which count against the budgets but are left to their owner.
   */
  private collect(dir: Directory): Promise<void> {
    dir.collecting ??= this.runGc(dir).finally(() => {
      dir.collecting = null;
    });
    return dir.collecting;
  }

  private async runGc(dir: Directory): Promise<void> {
    const { disk } = dir;
    try {
      const files = await disk.list();
      const own = new Map([...dir.stores].map((s) => [s.server, s]));
      const entries: SavedEntry[] = [...dir.stores].flatMap((s) => s.index.entries());
      const inUse = new Set([...dir.stores].flatMap((s) => [...s.inUse, ...s.readers.keys()]));
      for (const f of files) {
        const server = parseIndexFileName(f.name);
        if (server !== null && !own.has(server)) entries.push(...(await this.foreignEntries(disk, server)));
      }
      const { maxAgeMs, maxBytes, maxBytesPerModel } = this.deps.config.kv;
      const plan = planGc({ files, entries, inUse, ownServers: new Set(own.keys()), nowMs: this.deps.now(), limits: { maxAgeMs, maxBytes, maxBytesPerModel } });
      const changed = new Set<Store>();
      for (const d of plan) {
        const owner = own.get(parseEntryFileName(d.file)?.server ?? '');
        // A store whose load failed since the listing no longer uses this directory.
        if (owner !== undefined && owner.dir !== dir) continue;
        if (owner !== undefined) changed.add(owner);
        await this.deleteFile(owner ?? null, dir, d.file, d.reason);
      }
      for (const s of changed) this.persist(s);
    } catch (err) {
      this.deps.log(`kv: garbage collection of ${disk.dir} failed: ${message(err)}`);
    }
  }

  /** Entries of an index in the directory that no store of this gateway owns; none when it cannot be read. */
  private async foreignEntries(disk: DiskStore, server: string): Promise<SavedEntry[]> {
    try {
      const bytes = await disk.readIndex(server);
      return bytes === null ? [] : SavedIndex.decode(bytes, this.deps.config.kv.maxEntries).entries();
    } catch (err) {
      // Its files then look like orphans, which GC deletes only after a grace period.
      this.deps.log(`kv: ${disk.dir}: the index of server ${server} cannot be read: ${message(err)}`);
      return [];
    }
  }

  /** Forgets `file` in its store's index (none for another gateway's file) and deletes it. */
  private async deleteFile(store: Store | null, dir: Directory | null, file: string, reason: string): Promise<void> {
    store?.index.remove(file);
    if (dir === null) return;
    try {
      await dir.disk.delete(file);
      this.deps.metrics.gcDeletions.inc({ reason });
    } catch (err) {
      this.deps.log(`kv: could not delete ${file}: ${message(err)}`);
    }
  }

  /** Writes the index after the writes before it, so the last one on disk is the latest. */
  private persist(store: Store): void {
    const disk = store.dir?.disk;
    if (disk === undefined) return;
    store.persisting = store.persisting.then(() => disk.writeIndex(store.server, store.index.encode())).catch((err: unknown) => {
      this.deps.log(`kv: the index of ${disk.dir} could not be written: ${message(err)}`);
    });
  }
}

function ewma(previous: number, sample: number): number {
  return Number.isFinite(sample) && sample > 0 ? previous * (1 - EWMA) + sample * EWMA : previous;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
