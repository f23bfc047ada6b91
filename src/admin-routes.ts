// Which upstream routes administer the fleet rather than use it. llama-server's slot actions erase,
// save and restore any slot (the prefix index is never told, and saved files under any name are
// never collected), POST /props and /lora-adapters change how every request runs, router mode's
// /models load and unload models, /tools and /cors-proxy act on the server's host, and llama-swap's
// /upstream/<model>/… reaches a model's server past the gateway. These are slotkeeper's own
// (src/kv/slot-actions.ts calls the slot actions itself); a client needs the admin token.
// Read from llama-server de3ff815ea7d tools/server/server.cpp and llama-swap's proxy routes.

const exact = new Set([
  '/slots', '/lora-adapters', '/models/load', '/models/unload', '/models/sse', '/tools', '/cors-proxy',
  '/v1/chat/completions/control',
  // llama-swap
  '/unload', '/running', '/logs',
]);
const prefixes = ['/slots/', '/upstream/', '/logs/', '/api/'];

/** True when `method route` (route percent-decoded, see request-target.ts) is administrative. */
export function isAdminRoute(method: string, route: string): boolean {
  if (exact.has(route) || prefixes.some((prefix) => route.startsWith(prefix))) return true;
  // GET /props and GET /models are how clients (and the probe) learn the server; changing them is not theirs.
  if ((route === '/props' || route === '/models') && method !== 'GET' && method !== 'HEAD') return true;
  return false;
}

/**
 * llama-server's other spellings of a completion: they run a prompt in a slot, so reaching them
 * by passthrough would skip the lease, the scheduler, normalization and the response cache.
 * `/chat/completions` is OpenAI's chat without the `/v1` and goes to the scheduled route; the
 * rest answer in llama-server's own shapes, which the gateway does not schedule, and are refused.
 */
export const completionAliases: Readonly<Record<string, '/v1/chat/completions' | null>> = {
  '/chat/completions': '/v1/chat/completions',
  '/completion': null,
  '/completions': null,
  '/infill': null,
  '/responses': null,
  '/v1/responses': null,
};
