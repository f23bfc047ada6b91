#!/usr/bin/env node
// The `slotkeeper` command. Loads the configuration (file, environment, flags), starts the
// gateway and stops it on SIGINT/SIGTERM.
import process from 'node:process';
import { parseArgs } from 'node:util';
import type { Config } from './config/config.js';
import { ConfigError, envVars, loadConfig, loadKvConfig, loadResponseCacheConfig } from './config/load.js';
import { defaults } from './defaults.js';
import { startGateway } from './gateway.js';
import { runKvCommand } from './kv/kv-command.js';
import { runCacheCommand } from './response-cache/cache-command.js';
import { onShutdownSignal } from './runtime/signals.js';

const usage = `Usage: slotkeeper <command> [options]

Commands:
  serve                   start the gateway
  cache ls                list the response cache's entries
  cache show <key>        an entry's metadata and headers, then its body (a unique key prefix will do)
  cache rm <key>          remove an entry
  cache clear             remove every entry
  kv ls                   list the disk tier's saved slot caches (upstreams with slotSaveDir)
  kv rm <file>            delete one saved slot cache and its index entry
  kv rm all               delete every saved slot cache of the configured upstreams

Options for serve:
  --upstream <url>        a llama-server to forward to; repeat for a fleet (replaces the
                          config file's upstreams). <url>=<dir> also names its
                          --slot-save-path as seen here (the disk tier's index and GC)
  --slot-save-dir <dir>   the same for the --upstream in the same position
  --host <address>        address to listen on (default ${defaults.host}); any other than
                          loopback needs ${envVars.authToken}
  --port <n>              port to listen on, 0 for any free port (default ${defaults.port})
  --config <file>         YAML or JSON config file (or ${envVars.config})
  --default-model <name>  model for requests naming one the fleet does not serve
  --queue-order <order>   fair or shortest-first (default ${defaults.queueOrder})
  --response-cache        answer repeated requests from the response cache
  --verbose               log one line per request to stderr

Options for cache:
  --config <file>         where responseCache.dir is set (or ${envVars.config})

Options for kv:
  --config <file>         where upstreams[].slotSaveDir are set (or ${envVars.config});
                          --upstream and ${envVars.upstreams} name none

Options:
  -h, --help              show this help

Precedence: config file < environment (${envVars.host}, ${envVars.port},
${envVars.upstreams}, ${envVars.authToken}, ${envVars.defaultModel}) < flags.
`;

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        upstream: { type: 'string', multiple: true },
        'slot-save-dir': { type: 'string', multiple: true },
        host: { type: 'string' },
        port: { type: 'string' },
        config: { type: 'string' },
        'default-model': { type: 'string' },
        'queue-order': { type: 'string' },
        'response-cache': { type: 'boolean' },
        verbose: { type: 'boolean' },
      },
    });
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(usage);
    return 0;
  }
  const [command, ...extra] = positionals;
  if (command === undefined) return usageError('missing command');
  if (command === 'cache') return cache(extra, values.config);
  if (command === 'kv') return kv(extra, values.config);
  if (command !== 'serve') return usageError(`unknown command '${command}'`);
  if (extra.length > 0) return usageError(`unexpected argument '${extra[0]}'`);
  let config: Config;
  try {
    config = loadConfig({
      flags: {
        upstream: values.upstream,
        slotSaveDir: values['slot-save-dir'],
        host: values.host,
        port: values.port,
        config: values.config,
        defaultModel: values['default-model'],
        queueOrder: values['queue-order'],
        responseCache: values['response-cache'],
        verbose: values.verbose,
      },
      env: process.env,
    });
  } catch (err) {
    // The message names the key and where it came from; the whole usage text would bury it.
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`slotkeeper: ${err.message}\n`);
    return 2;
  }
  return serve(config);
}

async function serve(config: Config): Promise<number> {
  const gateway = await startGateway(config, {
    onError: (err, requestId) => console.error(`slotkeeper: request ${requestId ?? '(unknown)'} failed:`, err),
    // stdout carries only the listening and shutdown lines, which supervisors and tests read.
    log: (line) => process.stderr.write(`slotkeeper: ${line}\n`),
  });
  // After the first signal our listener is gone, so a second Ctrl-C kills the process outright
  // if shutdown ever hangs. Subscribed before the "listening" line: a supervisor (or a test) that
  // reads it may signal at once, and a pipe write is synchronous, so the line can arrive first.
  const signal = new Promise<string>((resolve) => onShutdownSignal(resolve));
  process.stdout.write(`slotkeeper listening on ${gateway.url}\n`);
  process.stdout.write(`slotkeeper: ${await signal}, shutting down\n`);
  await gateway.close();
  return 0;
}

async function cache(args: string[], configPath: string | undefined): Promise<number> {
  let config;
  try {
    config = loadResponseCacheConfig({ flags: { config: configPath }, env: process.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`slotkeeper: ${err.message}\n`);
    return 2;
  }
  const code = await runCacheCommand(args, config, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
  if (code === 2) process.stderr.write(`\n${usage}`);
  return code;
}

async function kv(args: string[], configPath: string | undefined): Promise<number> {
  let config;
  try {
    config = loadKvConfig({ flags: { config: configPath }, env: process.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`slotkeeper: ${err.message}\n`);
    return 2;
  }
  const code = await runKvCommand(args, config, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
  if (code === 2) process.stderr.write(`\n${usage}`);
  return code;
}

function usageError(message: string): number {
  process.stderr.write(`slotkeeper: ${message}\n\n${usage}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    // exitCode, not exit(): the process ends once every handle is closed, which keeps us honest.
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('slotkeeper: fatal:', err);
    process.exitCode = 1;
  },
);
