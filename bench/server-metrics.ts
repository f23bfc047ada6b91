// Reads llama-server's Prometheus /metrics into plain numbers (counters and gauges, no labels).

/** Parses Prometheus text: `name value` lines; comments and labelled series are skipped. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Fetches and parses a server's /metrics (it must run with --metrics). */
export async function readMetrics(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`GET ${url}/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}
