// `npm run rig -- <command>`: build llama-server, write a model, or run a server by hand.
// Progress goes to stderr; the last line on stdout is the path (or URL) asked for.
import { parseArgs } from 'node:util';
import { ensureLlamaServer } from './llama-cpp.js';
import { PRESETS, ensureModel, kvBytesPerToken, presetParams } from './model.js';
import { startLlamaServer } from './server.js';

const USAGE = `usage: npm run rig -- <command>

  build                   build llama-server (cached by llama.cpp commit); prints its path
  model <preset>          write a model GGUF (cached by its parameters); prints its path
  serve <preset> [--slots N] [--ctx N] [--cache-ram MiB]
                          start llama-server with that model until Ctrl-C; prints its URL

presets: ${Object.entries(PRESETS).map(([n, p]) => `${n} (${p.embedding} wide, ${p.layers} layers, ${kvBytesPerToken(p)} B of KV per token)`).join(', ')}
environment: LLAMA_SERVER=/path uses that binary; SLOTKEEPER_RIG_CACHE=/dir moves the cache`;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv, allowPositionals: true,
    options: { slots: { type: 'string' }, ctx: { type: 'string' }, 'cache-ram': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, arg] = positionals;
  if (values.help || !command) { process.stdout.write(`${USAGE}\n`); return values.help ? 0 : 2; }
  switch (command) {
    case 'build':
      process.stdout.write(`${await ensureLlamaServer(log)}\n`);
      return 0;
    case 'model':
      if (!arg) break;
      presetParams(arg);
      process.stdout.write(`${await ensureModel(arg, log)}\n`);
      return 0;
    case 'serve': {
      if (!arg) break;
      const server = await startLlamaServer({
        binary: await ensureLlamaServer(log),
        model: await ensureModel(arg, log),
        slots: values.slots ? Number(values.slots) : undefined,
        ctx: values.ctx ? Number(values.ctx) : undefined,
        cacheRamMiB: values['cache-ram'] ? Number(values['cache-ram']) : undefined,
      });
      log(`rig: llama-server is up (slot saves in ${server.slotSavePath}); Ctrl-C stops it`);
      process.stdout.write(`${server.url}\n`);
      // The server module kills llama-server and removes its temp dir on Ctrl-C.
      await server.exited;
      return 1;
    }
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 1;
});
