// The metrics registry and the metrics slotkeeper records into it. Each gateway (and each test)
// builds its own Registry, so nothing leaks through prom-client's global one. Every label takes
// values from a bounded set: routes and kinds by construction, models from the fleet and config.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Route label values: bounded by construction, never a raw path. */
export type RouteLabel = 'health' | 'metrics' | 'models' | 'chat_completions' | 'completions' | 'messages' | 'count_tokens' | 'passthrough' | 'other';

/** The registry and the metrics slotkeeper records into it. */
export interface Metrics {
  readonly registry: Registry;
  /** `slotkeeper_http_requests_total{route,model,status}`. */
  readonly httpRequests: Counter<'route' | 'model' | 'status'>;
  /** `slotkeeper_time_to_first_byte_seconds{route}`: request received → first body byte sent. */
  readonly timeToFirstByte: Histogram<'route'>;
  /** `slotkeeper_queue_wait_seconds`: time waiting for a slot lease. */
  readonly queueWait: Histogram<string>;
  /** `slotkeeper_queue_waiting`: requests waiting for a slot now. */
  readonly queueWaiting: Gauge<string>;
  /** `slotkeeper_prompt_tokens_total{kind="evaluated"|"reused"}`, from llama-server's timings. */
  readonly promptTokens: Counter<'kind'>;
  /** `slotkeeper_prefill_seconds_saved_total`: reused tokens × the request's own prefill time per token. */
  readonly prefillSecondsSaved: Counter<string>;
  /** `slotkeeper_scheduler_decisions_total{kind}`. */
  readonly schedulerDecisions: Counter<'kind'>;
  /** `slotkeeper_index_corrections_total{kind="overestimate"|"underestimate"}`. */
  readonly indexCorrections: Counter<'kind'>;
  /** `slotkeeper_worker_task_seconds`: a request's analysis in the worker pool, queueing included. */
  readonly workerTask: Histogram<string>;
  /** `slotkeeper_worker_queue_size`: analysis tasks waiting for a worker. */
  readonly workerQueue: Gauge<string>;
  /** `slotkeeper_upstream_up{upstream}`: 1 when the upstream is ready, by its config index. */
  readonly upstreamUp: Gauge<'upstream'>;
  /** `slotkeeper_upstream_failovers_total`: requests moved to another server after a connection failure. */
  readonly failovers: Counter<string>;
  /** `slotkeeper_normalize_applied_total{rule}`: requests a normalization rule changed. */
  readonly normalizeApplied: Counter<'rule'>;
  /** `slotkeeper_normalize_bytes_changed_total{rule}`: client bytes a rule replaced or removed. */
  readonly normalizeBytes: Counter<'rule'>;
  /** The disk tier's metrics (src/kv/). */
  readonly kv: KvMetrics;
  /** `slotkeeper_response_cache_hits_total{tier="exact"|"normalized"|"suffix"}`. */
  readonly cacheHits: Counter<'tier'>;
  /** `slotkeeper_response_cache_misses_total`: cacheable requests that started an upstream call. */
  readonly cacheMisses: Counter<string>;
  /** `slotkeeper_response_cache_coalesced_total`: requests that joined an identical one in flight. */
  readonly cacheCoalesced: Counter<string>;
  /** `slotkeeper_response_cache_bytes`: bytes of stored entries. */
  readonly cacheBytes: Gauge<string>;
  /** `slotkeeper_response_cache_entries`: keys stored. */
  readonly cacheEntries: Gauge<string>;
  /** `slotkeeper_response_cache_evictions_total{reason="ttl"|"budget"|"corrupt"}`. */
  readonly cacheEvictions: Counter<'reason'>;
  /** `slotkeeper_response_cache_prompt_tokens_saved_total`: prompt tokens of the answers served from the cache. */
  readonly cachePromptTokensSaved: Counter<string>;
  /** `slotkeeper_response_cache_prefill_seconds_saved_total`: prefill time those answers first cost. */
  readonly cachePrefillSecondsSaved: Counter<string>;
  /** Connects the gauges to what they report. */
  observe(sources: GaugeSources): void;
}

/** `slotkeeper_kv_*`: saves, restores, their bytes and time, verification, disk use, GC. */
export interface KvMetrics {
  /** `slotkeeper_kv_saves_total{result="ok"|"failed"}`. */
  readonly saves: Counter<'result'>;
  /** `slotkeeper_kv_restores_total{result="ok"|"failed"}`. */
  readonly restores: Counter<'result'>;
  /** `slotkeeper_kv_bytes_total{direction="saved"|"restored"}`. */
  readonly bytes: Counter<'direction'>;
  /** `slotkeeper_kv_action_seconds{action="save"|"restore"}`, as slotkeeper waited for it. */
  readonly actionSeconds: Histogram<'action'>;
  /** `slotkeeper_kv_restore_verifications_total{result="reused"|"not_reused"}`, from the next response's cache_n. */
  readonly verifications: Counter<'result'>;
  /** `slotkeeper_kv_restores_disabled_total`: server/model pairs where restores stopped. */
  readonly restoresDisabled: Counter<string>;
  /** `slotkeeper_kv_disk_bytes`: bytes of saved entries slotkeeper knows of. */
  readonly diskBytes: Gauge<string>;
  /** `slotkeeper_kv_gc_deletions_total{reason}`: files deleted by garbage collection. */
  readonly gcDeletions: Counter<'reason'>;
  /** `slotkeeper_kv_copies_total{source="file"|"slot",result="ok"|"failed"}`: prefixes copied into a slot. */
  readonly copies: Counter<'source' | 'result'>;
  /** `slotkeeper_kv_copy_seconds`: a planned copy as its request waited for it (prefix wait, save, restore). */
  readonly copySeconds: Histogram<string>;
  /** `slotkeeper_kv_damaged_files_total{check="hash"|"size"}`: saved files that failed their check, forgotten and deleted. */
  readonly damaged: Counter<'check'>;
}

/** Where gauges read their values when /metrics is scraped; set once the gateway is built. */
export interface GaugeSources {
  queueWaiting(): number;
  workerQueue(): number;
  upstreams(): readonly { id: number; up: boolean }[];
  /** Bytes of saved KV entries; absent when the disk tier is off. */
  kvDiskBytes?(): number;
}

/** Options for {@link createMetrics}. */
export interface MetricsOptions {
  /** Also collect prom-client's process and runtime metrics (default false). */
  defaultMetrics?: boolean;
}

// Seconds: sub-millisecond hits up to multi-minute prefills.
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];

/** Creates a fresh registry with slotkeeper's metrics registered in it. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: GaugeSources | undefined;
  return {
    observe(s) {
      sources = s;
    },
    registry,
    httpRequests: new Counter({
      name: 'slotkeeper_http_requests_total',
      help: 'HTTP requests answered by slotkeeper, by route, model and status code.',
      labelNames: ['route', 'model', 'status'] as const, registers,
    }),
    timeToFirstByte: new Histogram({
      name: 'slotkeeper_time_to_first_byte_seconds',
      help: 'Time from receiving a request to sending the first byte of its response body.',
      labelNames: ['route'] as const, buckets: LATENCY_BUCKETS, registers,
    }),
    queueWait: new Histogram({
      name: 'slotkeeper_queue_wait_seconds', help: 'Time requests waited for a slot lease.',
      buckets: LATENCY_BUCKETS, registers,
    }),
    queueWaiting: new Gauge({
      name: 'slotkeeper_queue_waiting', help: 'Requests waiting for a slot now.', registers,
      collect() { if (sources) this.set(sources.queueWaiting()); },
    }),
    promptTokens: new Counter({
      name: 'slotkeeper_prompt_tokens_total',
      help: 'Prompt tokens by kind: evaluated (prefilled) or reused from a cache, as llama-server reported them.',
      labelNames: ['kind'] as const, registers,
    }),
    prefillSecondsSaved: new Counter({
      name: 'slotkeeper_prefill_seconds_saved_total',
      help: 'Prefill time the reused prompt tokens saved, at each request\'s own measured prefill rate.',
      registers,
    }),
    schedulerDecisions: new Counter({
      name: 'slotkeeper_scheduler_decisions_total',
      help: 'Scheduling decisions by kind: prefix_hit, ram_hit, cold, balance, pinned.',
      labelNames: ['kind'] as const, registers,
    }),
    indexCorrections: new Counter({
      name: 'slotkeeper_index_corrections_total',
      help: 'Times the prefix index expected more (overestimate) or less (underestimate) reuse than llama-server reported.',
      labelNames: ['kind'] as const, registers,
    }),
    workerTask: new Histogram({
      name: 'slotkeeper_worker_task_seconds', help: 'Request analysis in the worker pool, queueing and transfer included.',
      buckets: FAST_BUCKETS, registers,
    }),
    workerQueue: new Gauge({
      name: 'slotkeeper_worker_queue_size', help: 'Analysis tasks waiting for a worker.', registers,
      collect() { if (sources) this.set(sources.workerQueue()); },
    }),
    upstreamUp: new Gauge({
      name: 'slotkeeper_upstream_up', help: 'Whether each upstream (by its index in the config) is ready: 1 or 0.',
      labelNames: ['upstream'] as const, registers,
      collect() {
        for (const u of sources?.upstreams() ?? []) this.set({ upstream: String(u.id) }, u.up ? 1 : 0);
      },
    }),
    failovers: new Counter({
      name: 'slotkeeper_upstream_failovers_total',
      help: 'Requests retried on another server because theirs could not be reached.',
      registers,
    }),
    normalizeApplied: new Counter({
      name: 'slotkeeper_normalize_applied_total',
      help: 'Requests a normalization rule changed, by rule name (config normalize).',
      labelNames: ['rule'] as const, registers,
    }),
    normalizeBytes: new Counter({
      name: 'slotkeeper_normalize_bytes_changed_total',
      help: 'Bytes of client text a normalization rule replaced or removed, by rule name.',
      labelNames: ['rule'] as const, registers,
    }),
    kv: {
      saves: new Counter({ name: 'slotkeeper_kv_saves_total', help: 'Slot saves to disk, by result.', labelNames: ['result'] as const, registers }),
      restores: new Counter({ name: 'slotkeeper_kv_restores_total', help: 'Slot restores from disk, by result.', labelNames: ['result'] as const, registers }),
      bytes: new Counter({ name: 'slotkeeper_kv_bytes_total', help: 'Bytes of KV saved to or restored from disk.', labelNames: ['direction'] as const, registers }),
      actionSeconds: new Histogram({
        name: 'slotkeeper_kv_action_seconds', help: 'Time a save or restore took, as slotkeeper waited for it.',
        labelNames: ['action'] as const, buckets: LATENCY_BUCKETS, registers,
      }),
      verifications: new Counter({
        name: 'slotkeeper_kv_restore_verifications_total',
        help: 'Restores whose next response reused the restored tokens (reused) or not (not_reused), by timings.cache_n.',
        labelNames: ['result'] as const, registers,
      }),
      restoresDisabled: new Counter({
        name: 'slotkeeper_kv_restores_disabled_total',
        help: 'Server/model pairs where restores stopped because they kept giving no reuse.', registers,
      }),
      damaged: new Counter({
        name: 'slotkeeper_kv_damaged_files_total',
        help: 'Saved slot caches that failed their check (content hash before a restore, or the size a save or restore reported): never restored, or erased from the slot; forgotten and deleted.',
        labelNames: ['check'] as const, registers,
      }),
      diskBytes: new Gauge({
        name: 'slotkeeper_kv_disk_bytes', help: 'Bytes of saved slot caches slotkeeper knows of.', registers,
        collect() { if (sources?.kvDiskBytes) this.set(sources.kvDiskBytes()); },
      }),
      gcDeletions: new Counter({
        name: 'slotkeeper_kv_gc_deletions_total', help: 'Saved slot caches deleted by garbage collection, by reason.',
        labelNames: ['reason'] as const, registers,
      }),
      copies: new Counter({
        name: 'slotkeeper_kv_copies_total',
        help: 'Prefixes copied into a slot before a request, from a saved file or another slot, by result (ok: restored).',
        labelNames: ['source', 'result'] as const, registers,
      }),
      copySeconds: new Histogram({
        name: 'slotkeeper_kv_copy_seconds',
        help: 'Time a request waited for a planned prefix copy: the prefix being computed elsewhere, its save and its restore.',
        buckets: LATENCY_BUCKETS, registers,
      }),
    },
    cacheHits: new Counter({
      name: 'slotkeeper_response_cache_hits_total',
      help: 'Requests answered from the response cache, by tier: exact, normalized, suffix.',
      labelNames: ['tier'] as const, registers,
    }),
    cacheMisses: new Counter({
      name: 'slotkeeper_response_cache_misses_total',
      help: 'Cacheable requests the response cache did not hold, which started an upstream call.',
      registers,
    }),
    cacheCoalesced: new Counter({
      name: 'slotkeeper_response_cache_coalesced_total',
      help: 'Requests that shared an identical request\'s upstream call already in flight.',
      registers,
    }),
    cacheBytes: new Gauge({ name: 'slotkeeper_response_cache_bytes', help: 'Bytes of responses stored.', registers }),
    cacheEntries: new Gauge({ name: 'slotkeeper_response_cache_entries', help: 'Keys in the response cache.', registers }),
    cacheEvictions: new Counter({
      name: 'slotkeeper_response_cache_evictions_total',
      help: 'Response-cache entries dropped, by reason: ttl, budget, corrupt.',
      labelNames: ['reason'] as const, registers,
    }),
    cachePromptTokensSaved: new Counter({
      name: 'slotkeeper_response_cache_prompt_tokens_saved_total',
      help: 'Prompt tokens of the answers served from the response cache, as the upstream first reported them.',
      registers,
    }),
    cachePrefillSecondsSaved: new Counter({
      name: 'slotkeeper_response_cache_prefill_seconds_saved_total',
      help: 'Prefill time the answers served from the response cache first cost upstream.',
      registers,
    }),
  };
}
