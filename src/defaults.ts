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
  /** Headers come after prefill, which takes minutes on long prompts and slow machines. */
  upstreamHeadersTimeoutMs: 600_000,
  /** Tokens are produced every few hundred ms even on CPU; a minute of silence is a dead stream. */
  upstreamIdleTimeoutMs: 60_000,
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
