// Numbers for people: the table, the plot ticks and the progress bar format alike.

/** Placeholder for a figure that could not be measured. */
export const MISSING = '—';

/** An integer with thousands separators ("12,345"); fractions are rounded. */
export function formatInt(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return MISSING;
  // By hand rather than toLocaleString: the output must not depend on the machine's locale.
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A number with a fixed count of decimals and thousands separators in its integer part. */
export function formatFixed(n: number, decimals: number): string {
  const [int = '0', frac] = Math.abs(n).toFixed(decimals).split('.');
  const sign = n < 0 && Number(int + (frac ?? '')) !== 0 ? '-' : '';
  return sign + formatInt(Number(int)) + (frac === undefined ? '' : '.' + frac);
}

/** Milliseconds as seconds: two decimals under 10 s, one above ("0.42", "12.3"), no unit. */
export function formatSeconds(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return MISSING;
  const s = ms / 1000;
  return formatFixed(s, Math.abs(s) < 10 ? 2 : 1);
}

/** A ratio with a multiplication sign ("1.83×"). */
export function formatRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? MISSING : `${r.toFixed(2)}×`;
}

/** A duration as m:ss, or h:mm:ss past an hour, for elapsed time and ETAs. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const ss = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
