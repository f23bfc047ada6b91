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
} as const;
