// Runs one scenario under each configuration: starts the servers and whatever fronts them,
// replays the trace closed-loop, computes the oracle, and stops everything. Effects only; the
// decisions (what to run, with which flags) come from the generators, scale.ts and cli.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDefaults } from '../src/config/config.js';
import { startGateway } from '../src/gateway.js';
import { startBalancer } from './balancer.js';
import { ensureLlamaServer } from './rig/llama-cpp.js';
import { ensureModel, kvBytesPerToken, presetParams } from './rig/model.js';
import { type LlamaServer, startLlamaServer } from './rig/server.js';
import { type OracleInput, type PromptTokenizer, llamaServerTokenizer, oracleCounts } from './oracle.js';
import { estimateReplay } from './generators/index.js';
import { createProgress } from './report/progress.js';
import { isError } from './report/stats.js';
import { type SentRequest, replay } from './replay.js';
import type { ConfigResult, RequestRecord } from './results.js';
import { BENCH_MODEL, DEFAULT_CACHE_RAM_MIB, type ServerSetup } from './scale.js';
import { readMetrics } from './server-metrics.js';
import type { Trace } from './trace.js';

/**
 * What stands between the clients and the servers: nothing (`direct`: requests go round-robin
 * over the servers, as DNS or a client list would spread them), a plain least-loaded proxy
 * (bench/balancer.ts), slotkeeper told each server's slot-save directory, slotkeeper as
 * `serve --upstream URL` starts it (`slotkeeper-url`: no slotSaveDir, the disk tier finds the
 * directory itself or works blind), the same with that search off (`slotkeeper-blind`), or
 * slotkeeper with its response cache on (in a fresh directory).
 */
export type Front = 'direct' | 'least-loaded' | 'slotkeeper' | 'slotkeeper-url' | 'slotkeeper-blind' | 'slotkeeper-cache';

/** One way of serving the trace. */
export interface Configuration {
  name: string;
  front: Front;
  /** --cache-ram, MiB; undefined leaves llama-server's default. */
  cacheRamMiB?: number;
}

/** Where progress lines go. */
export type Log = (line: string) => void;

/** /metrics of every server, summed: a fleet's counters are the sum of its servers'. */
async function readAllMetrics(urls: readonly string[]): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const m of await Promise.all(urls.map(readMetrics))) {
    for (const [key, value] of Object.entries(m)) sum[key] = (sum[key] ?? 0) + value;
  }
  return sum;
}

/** Tokens of the bench model's KV that `--cache-ram` MiB hold: what slotkeeper models each server's RAM cache as. */
export function cacheRamTokens(cacheRamMiB: number | undefined): number {
  return Math.floor(((cacheRamMiB ?? DEFAULT_CACHE_RAM_MIB) * 2 ** 20) / kvBytesPerToken(presetParams(BENCH_MODEL)));
}

/** A started front: where replay sends requests, and which server each one reached. */
interface RunningFront {
  baseUrls: readonly string[];
  /** Where requests go, for the progress log. */
  route: string;
  /** The server that answered, from the index replay recorded as `server` (its base URL); -1 when unknown. */
  serverOf(replayIndex: number): number;
  /** Extra facts for the report's configuration list. */
  setup: Record<string, unknown>;
  close(): Promise<void>;
}

async function startFront(config: Configuration, servers: readonly LlamaServer[], requests: number, log: Log): Promise<RunningFront> {
  const urls = servers.map((s) => s.url);
  switch (config.front) {
    case 'direct':
      return { baseUrls: urls, route: urls.join(', '), serverOf: (i) => i, setup: {}, close: async () => {} };
    case 'least-loaded': {
      const servedBy = new Map<number, number>();
      const balancer = await startBalancer({ upstreams: urls, onRoute: (r) => { if (r.tag !== null) servedBy.set(r.tag, r.server); } });
      // Replay tells requests apart only by the base URL it used, round-robin: one base URL per
      // request, tagged with its number, lets the balancer say where each one went.
      const baseUrls = Array.from({ length: requests }, (_, n) => `${balancer.url}/req/${n}`);
      return { baseUrls, route: `least-loaded ${balancer.url} → ${urls.join(', ')}`, serverOf: (n) => servedBy.get(n) ?? -1, setup: {}, close: () => balancer.close() };
    }
    case 'slotkeeper':
    case 'slotkeeper-url':
    case 'slotkeeper-blind':
    case 'slotkeeper-cache': {
      const ramCacheTokens = cacheRamTokens(config.cacheRamMiB);
      const cacheDir = config.front === 'slotkeeper-cache' ? await mkdtemp(join(tmpdir(), 'slotkeeper-bench-cache-')) : null;
      // The servers run with --slot-save-path (a temp dir each) on this machine, so slotkeeper's disk
      // tier names files by chain hash and collects garbage there instead of working blind; the
      // -url and -blind fronts are not told the directory, as `serve --upstream URL` is not.
      const told = config.front === 'slotkeeper' || config.front === 'slotkeeper-cache';
      const upstreams = servers.map((s) => ({ url: s.url, ramCacheTokens, ...(told && s.slotSavePath ? { slotSaveDir: s.slotSavePath } : {}) }));
      // A 2,048-token prefill batch on a contended 2-core machine can stall a stream sharing the
      // server for over a minute; replay's own limit (600 s) applies to direct runs, so the same here.
      const gateway = await startGateway(withDefaults({
        port: 0, upstreams, limits: { upstreamIdleTimeoutMs: BENCH_IDLE_TIMEOUT_MS },
        ...(config.front === 'slotkeeper-blind' ? { kv: { detectSaveDir: false } } : {}),
        ...(cacheDir !== null ? { responseCache: { enabled: true, dir: cacheDir } } : {}),
      }), {
        // prom-client's process metrics would only add work to the bench process.
        defaultMetrics: false,
        log: (line) => log(`slotkeeper: ${line}`),
        onError: (err, requestId) => log(`slotkeeper: ${requestId ?? '-'}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`),
      });
      // Replay reads the server from the gateway's x-slotkeeper-upstream header (its config index).
      return {
        baseUrls: [gateway.url], route: `slotkeeper ${gateway.url} → ${urls.join(', ')}`,
        serverOf: (i) => i,
        setup: { ramCacheTokens, diskTier: told ? 'slotSaveDir' : config.front === 'slotkeeper-blind' ? 'blind' : 'as serve --upstream URL', responseCache: cacheDir !== null },
        close: async () => {
          log(`slotkeeper: disk tier: ${await diskTierSummary(gateway.url)}`);
          await gateway.close();
          if (cacheDir !== null) await rm(cacheDir, { recursive: true, force: true });
        },
      };
    }
  }
}

/** slotkeeper's upstream idle timeout in benches: as long as replay waits for a request. */
export const BENCH_IDLE_TIMEOUT_MS = 600_000;

/** The disk tier's counters from slotkeeper's /metrics, for the progress log. */
async function diskTierSummary(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
  const sum = (name: string, label: string) => text.split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return `${sum('slotkeeper_kv_saves_total', 'result="ok"')} saves, ${sum('slotkeeper_kv_restores_total', 'result="ok"')} restores `
    + `(${sum('slotkeeper_kv_restore_verifications_total', 'result="reused"')} verified, ${sum('slotkeeper_kv_restore_verifications_total', 'result="not_reused"')} not)`;
}

/** Replays `trace` once per configuration, one after another, each on fresh servers. */
export async function runConfigurations(trace: Trace, setup: ServerSetup, configs: Configuration[], log: Log, signal?: AbortSignal): Promise<ConfigResult[]> {
  const binary = await ensureLlamaServer(log);
  const model = await ensureModel(BENCH_MODEL, log);
  const results: ConfigResult[] = [];
  for (const config of configs) {
    signal?.throwIfAborted();
    // The servers of a run share one --slot-save-path, as servers on one host would be set up:
    // a gateway may then restore one server's saved slots into another (fronts that do not save
    // never notice).
    const saveDir = await mkdtemp(join(tmpdir(), 'slotkeeper-bench-slots-'));
    const servers = await Promise.all(Array.from({ length: setup.servers }, () => startLlamaServer({
      binary, model, slots: setup.slots, ctx: setup.slots * setup.ctxPerSlot, slotSavePath: saveDir,
      ...(setup.threads !== undefined ? { threads: setup.threads } : {}),
      ...(config.cacheRamMiB !== undefined ? { cacheRamMiB: config.cacheRamMiB } : {}),
    }).catch((err: Error) => err)));
    let front: RunningFront | undefined;
    try {
      const failed = servers.find((s): s is Error => s instanceof Error);
      if (failed) throw failed;
      const running = servers as LlamaServer[];
      const urls = running.map((s) => s.url);
      front = await startFront(config, running, requestCount(trace), log);
      log(`bench: ${config.name}: replaying on ${front.route}`);
      const metricsBefore = await readAllMetrics(urls);
      const progress = createProgress({ total: estimateReplay(trace).requests, label: config.name });
      let errors = 0;
      const result = await replay({
        baseUrls: front.baseUrls, trace, signal,
        onRecord: (r) => { if (isError(r)) errors++; progress.tick(1, errors ? `${errors} errors` : r.session); },
      }).catch((err: Error) => {
        for (const s of running) process.stderr.write(`\n--- llama-server log (${s.url}) ---\n${s.log().slice(-20_000)}\n`);
        throw err;
      });
      progress.done();
      for (const record of result.records) record.server = front.serverOf(record.server);
      const metricsAfter = await readAllMetrics(urls);
      log(`bench: ${config.name}: computing the oracle over ${result.sent.length} prompts`);
      // Every server runs the same model, so any one tokenizes for all.
      await fillOracle(result.records, result.sent, llamaServerTokenizer(urls[0]!));
      results.push({
        name: config.name,
        setup: {
          front: config.front, servers: setup.servers, slots: setup.slots, ctxPerSlot: setup.ctxPerSlot,
          cacheRamMiB: config.cacheRamMiB ?? 'default', model: BENCH_MODEL, ...front.setup,
        },
        records: result.records, wallMs: result.wallMs, metricsBefore, metricsAfter,
      });
    } finally {
      // The front first, so nothing it still holds open reaches a server that is stopping.
      await front?.close().catch((err: Error) => log(`bench: ${config.name}: stopping the ${config.front} front: ${err.message}`));
      await Promise.all(servers.map((s) => (s instanceof Error ? undefined : s.stop())));
      await rm(saveDir, { recursive: true, force: true });
    }
  }
  return results;
}

/** Requests the replay sends: one per step, every pass. */
function requestCount(trace: Trace): number {
  return trace.sessions.reduce((n, s) => n + s.steps.length, 0) * (trace.header.passes ?? 1);
}

/**
 * Sets each record's oracleN. Records and bodies are in send order; prompts are grouped by the
 * model they asked for, since only requests to the same model can share a cache.
 */
async function fillOracle(records: RequestRecord[], sent: SentRequest[], tokenizer: PromptTokenizer): Promise<void> {
  const byModel = new Map<string, number[]>();
  sent.forEach((s, i) => {
    const model = String(s.body.model ?? '');
    byModel.set(model, [...(byModel.get(model) ?? []), i]);
  });
  for (const indices of byModel.values()) {
    const inputs: OracleInput[] = [];
    for (const i of indices) {
      const { dialect, body, answer } = sent[i]!;
      inputs.push(await tokenizer.tokens(dialect, body, answer));
    }
    oracleCounts(inputs).forEach((n, k) => { records[indices[k]!]!.oracleN = n; });
  }
}
