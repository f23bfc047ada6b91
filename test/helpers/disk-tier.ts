// Shared by the disk tier's tests on a real llama-server: one slot and no RAM cache, so what a
// conversation finds in the slot after another one can only come from a restore.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaServer } from '../../bench/rig/server.js';
import { type PartialConfig, withDefaults } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { rigServer } from './llama.js';

/**
 * Runs `body` with a one-slot llama-server (`--cache-ram 0`) whose `--slot-save-path` is a fresh
 * directory (none with `saveDir: false`; the directory is still made). The server's log goes to
 * stderr when `body` throws; the server and the directory are gone afterwards.
 */
export async function withOneSlotServer(body: (server: LlamaServer, dir: string) => Promise<void>, options: { saveDir?: boolean } = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-kv-test-'));
  let server: LlamaServer | undefined;
  try {
    server = await rigServer({ slots: 1, cacheRamMiB: 0, slotSavePath: options.saveDir === false ? false : dir });
    await body(server, dir);
  } catch (err) {
    if (server) process.stderr.write(`\n--- llama-server log ---\n${server.log().slice(-4000)}\n`);
    throw err;
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a test changes in {@link diskTierGateway}. */
export interface DiskTierGatewayOptions {
  /** The upstream's slot-save directory as slotkeeper sees it; null: none (the tier works blind or is off). */
  dir: string | null;
  /** What slotkeeper is told the server's RAM cache holds; default 0, as the server runs. */
  ramCacheTokens?: number;
  /** `kv` settings on top of `minSaveTokens: 64`. */
  kv?: PartialConfig['kv'];
  log?: (line: string) => void;
}

/** A gateway in front of `server` that probes often, saves anything of 64 tokens or more, and has one worker thread. */
export function diskTierGateway(server: LlamaServer, options: DiskTierGatewayOptions): Promise<Gateway> {
  const { dir, ramCacheTokens = 0, kv = {}, log } = options;
  return startGateway(withDefaults({
    port: 0,
    upstreams: [{ url: server.url, ramCacheTokens, ...(dir ? { slotSaveDir: dir } : {}) }],
    fleet: { probeIntervalMs: 100, probeTimeoutMs: 2_000 },
    kv: { minSaveTokens: 64, ...kv },
  }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 }, ...(log ? { log } : {}) });
}
