// A progress bar for long benchmark runs. On a terminal it redraws one line; in a CI log, where
// every redraw would become a line of its own, it prints a plain line each tenth of the way.
import { formatClock } from './format.js';

/** Where progress goes: process.stderr, or a fake in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

/** What a progress bar needs; the clock is injectable so tests control elapsed time. */
export interface ProgressOptions {
  total: number;
  label: string;
  stream?: ProgressStream;
  now?: () => number;
}

/** A running progress bar. */
export interface Progress {
  /** Counts n more units done; info (the last session, say) shows at the end of the line. */
  tick(n?: number, info?: string): void;
  /** Draws the final state and ends the line; later calls do nothing. */
  done(): void;
}

const BAR_WIDTH = 24;
/** A terminal takes about this many redraws a second before they cost more than they show. */
const REDRAW_MS = 100;
const STEPS = 10;

/** Creates a progress bar over `total` units. */
export function createProgress({ total, label, stream = process.stderr, now = Date.now }: ProgressOptions): Progress {
  const started = now();
  let count = 0;
  let info = '';
  let lastDraw = -Infinity;
  let printedStep = 0;
  let finished = false;
  const fraction = () => (total > 0 ? Math.min(count / total, 1) : 1);

  const status = () => {
    const elapsed = now() - started;
    const eta = count > 0 && count < total ? formatClock((elapsed / count) * (total - count)) : '--';
    return `${count}/${total} ${Math.floor(fraction() * 100)}% ${formatClock(elapsed)} elapsed, ETA ${eta}${info ? ' ' + info : ''}`;
  };

  const draw = () => {
    const filled = Math.round(fraction() * BAR_WIDTH);
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${status()}`;
    // Cut to the terminal's width: a wrapped line would leave \r redrawing only its last part.
    const width = stream.columns && stream.columns > 1 ? stream.columns - 1 : line.length;
    stream.write(`\r${line.slice(0, width)}\x1b[K`);
    lastDraw = now();
  };

  if (stream.isTTY) draw(); // so a slow first request does not look like a hang
  return {
    tick(n = 1, detail) {
      if (finished) return;
      count += n;
      if (detail !== undefined) info = detail;
      if (stream.isTTY) {
        if (count >= total || now() - lastDraw >= REDRAW_MS) draw();
        return;
      }
      const step = Math.floor(fraction() * STEPS);
      if (step > printedStep) {
        printedStep = step;
        stream.write(`${label}: ${status()}\n`);
      }
    },
    done() {
      if (finished) return;
      finished = true;
      if (stream.isTTY) {
        draw();
        stream.write('\n');
      } else stream.write(`${label}: done, ${count}/${total} in ${formatClock(now() - started)}\n`);
    },
  };
}
