// A minimal SVG line chart, written by hand so the report needs no plotting dependency. Both
// axes start at 0: latencies and token counts are never negative, and a zero baseline keeps
// configurations honest to compare by eye.
import { formatFixed, formatInt } from './format.js';

/** Colour-blind-safe (Okabe–Ito), in the order configurations are given; it wraps past eight. */
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#999933'] as const;

/** Points in data units; a gap in the data starts a new segment. */
export interface Series {
  label: string;
  colour: string;
  dashed?: boolean;
  segments: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
}

/** What to draw. yMax fixes the y range (a CDF's 1); otherwise it fits the data. */
export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  xInteger?: boolean;
  yInteger?: boolean;
  yMax?: number;
}

const WIDTH = 720;
const LEFT = 76;
const RIGHT = 24;
const TOP = 44;
const PLOT_H = 320;
const BELOW = 56;
const LEGEND_ROW = 18;
const PLOT_W = WIDTH - LEFT - RIGHT;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for an XML text node or attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** Tick values from 0 to a round top at or above max, 1-2-5 steps; a range of 0 to 1 when there is no data. */
export function niceTicks(max: number, integer = false, count = 5): number[] {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const raw = top / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const n = Math.ceil(top / step - 1e-9);
  // i * step rather than repeated addition, so 0.1 + 0.2 drift never reaches a label.
  return Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

/** The chart as a standalone SVG document. */
export function linePlot(spec: PlotSpec): string {
  const points = spec.series.flatMap((s) => s.segments.flat()).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  // A loop, not Math.max(...points): a long run has more points than a call has arguments.
  const xTicks = niceTicks(points.reduce((m, [x]) => Math.max(m, x), 0), spec.xInteger);
  const yTicks = niceTicks(spec.yMax ?? points.reduce((m, [, y]) => Math.max(m, y), 0), spec.yInteger);
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const px = (x: number) => num(LEFT + (x / xMax) * PLOT_W);
  const py = (y: number) => num(TOP + PLOT_H - (y / yMax) * PLOT_H);
  const height = TOP + PLOT_H + BELOW + spec.series.length * LEGEND_ROW + 8;
  const bottom = TOP + PLOT_H;
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  for (const t of xTicks) {
    out.push(`<line x1="${px(t)}" y1="${TOP}" x2="${px(t)}" y2="${bottom}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${px(t)}" y="${bottom + 16}" text-anchor="middle">${tickLabel(t, xTicks)}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${LEFT}" y1="${py(t)}" x2="${LEFT + PLOT_W}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${LEFT - 6}" y="${py(t)}" text-anchor="end" dominant-baseline="middle">${tickLabel(t, yTicks)}</text>`);
  }
  out.push(`<line x1="${LEFT}" y1="${bottom}" x2="${LEFT + PLOT_W}" y2="${bottom}" stroke="#333333"/>`);
  out.push(`<line x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${bottom}" stroke="#333333"/>`);
  out.push(`<text x="${LEFT + PLOT_W / 2}" y="${bottom + 36}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  if (points.length === 0) out.push(`<text x="${LEFT + PLOT_W / 2}" y="${TOP + PLOT_H / 2}" text-anchor="middle" fill="#888888">no data</text>`);
  for (const s of spec.series) {
    const d = s.segments
      .map((seg) => seg.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)))
      .filter((seg) => seg.length > 0)
      // A lone point gets a zero-length line: with round caps it shows as a dot.
      .map((seg) => (seg.length === 1 ? [seg[0]!, seg[0]!] : seg).map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x)} ${py(y)}`).join(' '))
      .join(' ');
    if (d) out.push(`<path class="series" d="${d}" fill="none" stroke="${s.colour}" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"${dash(s)}><title>${escapeXml(s.label)}</title></path>`);
  }
  spec.series.forEach((s, i) => {
    const y = bottom + BELOW + i * LEGEND_ROW;
    out.push(`<line x1="${LEFT}" y1="${y}" x2="${LEFT + 28}" y2="${y}" stroke="${s.colour}" stroke-width="2"${dash(s)}/>`);
    out.push(`<text x="${LEFT + 36}" y="${y}" dominant-baseline="middle">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function dash(s: Series): string {
  return s.dashed ? ' stroke-dasharray="6 4"' : '';
}

/** Enough decimals to tell neighbouring ticks apart, and no more. */
function tickLabel(value: number, ticks: readonly number[]): string {
  const step = (ticks[1] ?? 1) - (ticks[0] ?? 0);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return decimals === 0 ? formatInt(value) : formatFixed(value, decimals);
}

/** A coordinate to one decimal: enough for a screen, and keeps files small. */
function num(v: number): string {
  return String(Math.round(v * 10) / 10);
}
