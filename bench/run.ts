// Runs one scenario under each configuration: starts the servers, replays the trace closed-loop,
// computes the oracle, and stops everything. Effects only; the decisions (what to run, with which
// flags) come from the generators and scale.ts.
import { ensureLlamaServer } from './rig/llama-cpp.js';
import { ensureModel } from './rig/model.js';
import { type LlamaServer, startLlamaServer } from './rig/server.js';
import { type OracleInput, type PromptTokenizer, llamaServerTokenizer, oracleCounts } from './oracle.js';
import { estimateReplay } from './generators/index.js';
import { createProgress } from './report/progress.js';
import { isError } from './report/stats.js';
import { type SentRequest, replay } from './replay.js';
import type { ConfigResult, RequestRecord } from './results.js';
import { BENCH_MODEL, type ServerSetup } from './scale.js';
import { readMetrics } from './server-metrics.js';

/** /metrics of every server, summed: a fleet's counters are the sum of its servers'. */
async function readAllMetrics(urls: readonly string[]): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const m of await Promise.all(urls.map(readMetrics))) {
    for (const [key, value] of Object.entries(m)) sum[key] = (sum[key] ?? 0) + value;
  }
  return sum;
}
import type { Trace } from './trace.js';

/** One way of serving the trace. Only "llama-server alone" exists until the gateway lands. */
export interface Configuration {
  name: string;
  /** --cache-ram, MiB; undefined leaves llama-server's default. */
  cacheRamMiB?: number;
}

/** Where progress lines go. */
export type Log = (line: string) => void;

/** Replays `trace` once per configuration, one after another, each on fresh servers. */
export async function runConfigurations(trace: Trace, setup: ServerSetup, configs: Configuration[], log: Log, signal?: AbortSignal): Promise<ConfigResult[]> {
  const binary = await ensureLlamaServer(log);
  const model = await ensureModel(BENCH_MODEL, log);
  const results: ConfigResult[] = [];
  for (const config of configs) {
    signal?.throwIfAborted();
    const servers = await Promise.all(Array.from({ length: setup.servers }, () => startLlamaServer({
      binary, model, slots: setup.slots, ctx: setup.slots * setup.ctxPerSlot,
      ...(config.cacheRamMiB !== undefined ? { cacheRamMiB: config.cacheRamMiB } : {}),
    }).catch((err: Error) => err)));
    try {
      const failed = servers.find((s): s is Error => s instanceof Error);
      if (failed) throw failed;
      const running = servers as LlamaServer[];
      const urls = running.map((s) => s.url);
      log(`bench: ${config.name}: replaying on ${urls.join(', ')}`);
      const metricsBefore = await readAllMetrics(urls);
      const progress = createProgress({ total: estimateReplay(trace).requests, label: config.name });
      let errors = 0;
      const result = await replay({
        baseUrls: urls, trace, signal,
        onRecord: (r) => { if (isError(r)) errors++; progress.tick(1, errors ? `${errors} errors` : r.session); },
      }).catch((err: Error) => {
        for (const s of running) process.stderr.write(`\n--- llama-server log (${s.url}) ---\n${s.log().slice(-20_000)}\n`);
        throw err;
      });
      progress.done();
      const metricsAfter = await readAllMetrics(urls);
      log(`bench: ${config.name}: computing the oracle over ${result.sent.length} prompts`);
      // Every server runs the same model, so any one tokenizes for all.
      await fillOracle(result.records, result.sent, llamaServerTokenizer(urls[0]!));
      results.push({
        name: config.name,
        setup: { servers: setup.servers, slots: setup.slots, ctxPerSlot: setup.ctxPerSlot, cacheRamMiB: config.cacheRamMiB ?? 'default', model: BENCH_MODEL },
        records: result.records, wallMs: result.wallMs, metricsBefore, metricsAfter,
      });
    } finally {
      await Promise.all(servers.map((s) => (s instanceof Error ? undefined : s.stop())));
    }
  }
  return results;
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
