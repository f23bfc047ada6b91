// Every default value slotkeeper uses, in one place, so no `?? 8081` hides in the code.

const MiB = 1024 * 1024;

/** Defaults for the gateway; the config loader and factories fall back to these. */
export const defaults = {
  /** Loopback by default: exposing the gateway is an explicit choice. */
  host: '127.0.0.1',
  /** llama-server's own default is 8080, so the gateway sits next to it. */
  port: 8081,
  /** Long prompts with many turns or base64 images reach a few MiB; 32 MiB leaves headroom. */
  bodyLimitBytes: 32 * MiB,
  /** A running gateway exports process metrics (CPU, memory, event loop lag) next to its own. */
  defaultMetrics: true,
  /** Waiters for slots, gateway-wide: enough for a team, small enough to say "busy" early. */
  queueLength: 256,
  /** A long agent prefill can hold a slot for minutes; waiting longer than this is not useful. */
  queueTimeoutMs: 300_000,
  /** Analysing a 32 MiB body takes well under a second; a rule that runs for seconds is catastrophic backtracking. */
  analysisTimeoutMs: 10_000,
  /** Bodies waiting for a worker: a few per thread; beyond that the pool is the bottleneck and waiting does not help. */
  workerQueueLength: 64,
  /** A worker's V8 heap, MiB: parsing costs up to ~50x the body's bytes (a 8 MiB array of small numbers took 391 MiB). */
  workerHeapMb: 2048,
  /** Open client connections; Node's default is unlimited. */
  maxConnections: 1024,
  /** Request bodies held at once, all requests together: eight bodies of the largest size. */
  bufferedBodyBytes: 256 * MiB,
  /** Longest time a client may take to send its request (headers and body), ms; Node's default is 300 s. */
  bodyTimeoutMs: 30_000,
  /** Headers come after prefill, which takes minutes on long prompts and slow machines. */
  upstreamHeadersTimeoutMs: 600_000,
  /** A non-streamed answer is max_tokens of text plus JSON; 16 MiB is far beyond any real one. */
  translatedResponseBytes: 16 * MiB,
  /** /v1/messages is pinned to slots unless configured otherwise. */
  anthropic: 'translate',
  /** Claude Code's billing header fields get one fixed value, so every turn shares the prefix. */
  billingHeader: 'fixed',
  billingHeaderValue: '0',
  /** Tokens are produced every few hundred ms even on CPU; a minute of silence is a dead stream. */
  upstreamIdleTimeoutMs: 60_000,
  /**
   * A client that reads nothing for 10 minutes (a suspended laptop, a stalled UI) is stuck; until
   * then its stream waits, holding its slot, as llama-server's own would.
   */
  clientWriteTimeoutMs: 600_000,
  queueOrder: 'fair',
  /** One second of waiting forgives one second of expected work: nothing starves. */
  agingMsPerSecond: 1000,
  probeIntervalMs: 5_000,
  probeTimeoutMs: 2_000,
  /** About 60–80 tokens: fine enough for prefix matching, small enough for 1 MB prompts. */
  blockChars: 256,
  /** SGLang router's defaults (balance_abs_threshold 32, balance_rel_threshold 1.5) scaled to a few slots. */
  balanceAbsThreshold: 4,
  balanceRelThreshold: 1.5,
  /**
   * llama-server's --cache-ram defaults to 8192 MiB; at ~0.1 MB of KV per token (a 30B model)
   * that is ~80k tokens. Servers run with another value say so in config.
   */
  ramCacheTokens: 80_000,
  /**
   * Worker threads live this long idle. piscina's default is 0, which starts and stops threads
   * on the main thread as load comes and goes (seen in bench/overhead.ts under load).
   */
  workerIdleTimeoutMs: 60_000,
  /**
   * A slot's content loses half its chance of being reused every this many ms idle: a team's
   * think time is minutes, an agent's seconds; after ten idle minutes a context is worth half.
   */
  reuseHalfLifeMs: 600_000,
  /** Disk tier: a few hundred tokens prefill in well under a second; not worth a file. */
  kvMinSaveTokens: 256,
  /** Entries per slot-save directory; the index stays a few MB. */
  kvMaxEntries: 1000,
  /** 64 GiB of our files per directory: ~600k tokens of a 30B model (~0.1 MB per token). */
  kvMaxBytes: 64 * 1024 * MiB,
  /** Per model, the same by default: one model may use the whole budget. */
  kvMaxBytesPerModel: 64 * 1024 * MiB,
  /** A week: a team's conversations come back after a weekend. */
  kvMaxAgeMs: 7 * 24 * 3_600_000,
  /** Blind servers: 16 files of a few GB at most. */
  kvRingSize: 16,
  /** A server on this host tells its directory by its command line; a probe save proves it. */
  kvDetectSaveDir: true,
  /** Three restores in a row without reuse: the model cannot reuse a restored state (llama.cpp #25913). */
  kvUnverifiedRestoreLimit: 3,
  /** A save of a 60k-token context of a large model writes GBs; that takes seconds, not minutes. */
  kvActionTimeoutMs: 120_000,
  /** Idle saves are opt-in: they write files for contents an overwrite may never come for. */
  kvSaveIdleSeconds: null as number | null,
  /**
   * What the tier assumes of a server before its first save and restore measure it: a 30B
   * model's ~128 KiB of KV per token, and the bench rig's bandwidths (save ~460 MB/s, restore
   * ~3 GB/s on 2 cores) halved to be safe.
   */
  kvInitialRates: { bytesPerToken: 131_072, saveBytesPerMs: 230_000, restoreBytesPerMs: 1_500_000, actionOverheadMs: 5 },
  /** The response cache is opt-in: serving a stored answer is a choice the operator makes. */
  responseCacheEnabled: false,
  /** Below the home directory's cache, beside the rig's llama.cpp/ and models/. */
  responseCacheDirName: 'slotkeeper/responses',
  /** A day: evaluation reruns and CI jobs repeat within hours; the model or its settings change over days. */
  responseCacheTtlSeconds: 86_400,
  /** 1 GiB of answers: tens of thousands of typical completions. */
  responseCacheMaxBytes: 1024 * MiB,
  /** Recently used answers also kept in memory: a hit on one costs no file read (bench/response-cache.ts). */
  responseCacheMemoryBytes: 64 * MiB,
  /** 8 MiB: far above any one answer (100k tokens of SSE is ~20 MB only with logprobs). */
  responseCacheMaxEntryBytes: 8 * MiB,
  /** A request that samples (temperature > 0 without a seed) expects a new answer each time. */
  responseCacheServeSampling: false,
  /** The suffix tier looks at the last this many messages (when it is turned on). */
  responseCacheSuffixMessages: 2,
  /** The store's index is written at most this often, ms; entries themselves are written at once. */
  responseCacheIndexFlushMs: 1_000,
} as const;
