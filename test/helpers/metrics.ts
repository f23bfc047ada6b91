// Reads a gateway's /metrics the way an operator's scraper would.

/** The sum of a metric's samples at `url`/metrics whose labels include `labels` (0 before the first). */
export async function metric(gateway: { url: string }, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
