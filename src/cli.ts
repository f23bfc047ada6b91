#!/usr/bin/env node
// The `slotkeeper` command. Parses flags, starts the gateway and stops it on SIGINT/SIGTERM.
import process from 'node:process';
import { parseArgs } from 'node:util';
import { withDefaults } from './config/config.js';
import { defaults } from './defaults.js';
import { startGateway } from './gateway.js';
import { onShutdownSignal } from './runtime/signals.js';

const usage = `Usage: slotkeeper <command> [options]

Commands:
  serve              start the gateway

Options for serve:
  --host <address>   address to listen on (default ${defaults.host})
  --port <n>         port to listen on, 0 for any free port (default ${defaults.port})

Options:
  -h, --help         show this help
`;

/** A command-line mistake: usage goes to stderr and the exit code is 2. */
class UsageError extends Error {}

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
        host: { type: 'string' },
        port: { type: 'string' },
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
  if (command !== 'serve') return usageError(`unknown command '${command}'`);
  if (extra.length > 0) return usageError(`unexpected argument '${extra[0]}'`);
  try {
    return await serve(values.host ?? defaults.host, parsePort(values.port));
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    throw err;
  }
}

async function serve(host: string, port: number): Promise<number> {
  const gateway = await startGateway(withDefaults({ host, port }), {
    onError: (err, requestId) => console.error(`slotkeeper: request ${requestId ?? '(unknown)'} failed:`, err),
  });
  process.stdout.write(`slotkeeper listening on ${gateway.url}\n`);
  // After the first signal our listener is gone, so a second Ctrl-C kills the process outright
  // if shutdown ever hangs.
  const signal = await new Promise<string>((resolve) => onShutdownSignal(resolve));
  process.stdout.write(`slotkeeper: ${signal}, shutting down\n`);
  await gateway.close();
  return 0;
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return defaults.port;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got '${raw}'`);
  return port;
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
