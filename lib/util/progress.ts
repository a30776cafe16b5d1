/**
 * A progress line for long loops (training runs): step, the caller's figures, time per step
 * and the time left. On a terminal it is one line rewritten in place; anywhere else (a log
 * file, CI) it prints plain lines, one every `every` steps, so logs stay readable.
 *
 * @module
 */

/**
 * Options of {@linkcode Progress}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressOptions } from "./progress.ts";
 * const options: ProgressOptions = { total: 5000, every: 100 };
 * assert.equal(options.total, 5000);
 * ```
 */
export interface ProgressOptions {
  /** The step count at which the loop ends (for the ETA). */
  readonly total: number;
  /** The step the loop starts from (default 0; a resumed run starts later). */
  readonly start?: number;
  /** Without a terminal: print a line every this many steps (default 100). */
  readonly every?: number;
  /**
   * Where text goes (default: standard output). Receives whole lines, or on a terminal
   * carriage-return updates.
   */
  readonly write?: (text: string) => void;
  /** Whether output is a terminal that can rewrite its line (default: asks `Deno.stdout`). */
  readonly terminal?: boolean;
  /** The clock in milliseconds (default `performance.now`); injectable for tests. */
  readonly now?: () => number;
}

/**
 * A progress reporter: call {@linkcode Progress.update} after each step with the figures to
 * show, {@linkcode Progress.log} for a line that must stay (an evaluation), and
 * {@linkcode Progress.done} at the end.
 *
 * ms/step is measured over the steps since the previous report, so a slow first step (or
 * an evaluation in between) does not distort it for long; the ETA is that rate times the
 * steps left.
 *
 * @example Plain lines (no terminal), with a fake clock of 10 ms a step.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Progress } from "./progress.ts";
 * const lines: string[] = [];
 * let clock = 0;
 * const progress = new Progress({
 *   total: 4, every: 2, terminal: false, write: (t) => lines.push(t), now: () => clock,
 * });
 * for (let step = 1; step <= 4; step++) {
 *   clock += 10;
 *   progress.update(step, { loss: 3 - step / 10 });
 * }
 * progress.done();
 * assert.equal(lines[0], "step 2/4 | loss 2.8000 | 10.0 ms/step | ETA 0s\n");
 * assert.equal(lines.length, 2);
 * ```
 */
export class Progress {
  /** The final step. */
  readonly total: number;
  readonly #every: number;
  readonly #write: (text: string) => void;
  readonly #terminal: boolean;
  readonly #now: () => number;
  #lastTime: number;
  #lastStep: number;
  #msPerStep = 0;
  #pending = false;

  /**
   * A reporter counting towards `options.total`.
   *
   * @throws {RangeError} when `total`, `start` or `every` is not a whole number in range.
   */
  constructor(options: ProgressOptions) {
    const start = options.start ?? 0;
    const every = options.every ?? 100;
    if (!Number.isSafeInteger(options.total) || options.total < 0) {
      throw new RangeError(`Progress: total must be a whole number ≥ 0, got ${options.total}`);
    }
    if (!Number.isSafeInteger(start) || start < 0 || start > options.total) {
      throw new RangeError(`Progress: start must be a whole number in [0, total], got ${start}`);
    }
    if (!Number.isSafeInteger(every) || every < 1) {
      throw new RangeError(`Progress: every must be a whole number ≥ 1, got ${every}`);
    }
    this.total = options.total;
    this.#every = every;
    this.#write = options.write ?? writeStdout;
    this.#terminal = options.terminal ?? isTerminal();
    this.#now = options.now ?? (() => performance.now());
    this.#lastTime = this.#now();
    this.#lastStep = start;
  }

  /** The time per step measured at the last report, in milliseconds. */
  get msPerStep(): number {
    return this.#msPerStep;
  }

  /**
   * Reports that `step` steps are done, with `figures` (shown with 4 decimals) such as the
   * loss. On a terminal the line is redrawn every call; otherwise it prints when `step` is
   * a multiple of `every` or the last step.
   */
  update(step: number, figures: Readonly<Record<string, number>> = {}): void {
    const plainDue = step % this.#every === 0 || step === this.total;
    if (!this.#terminal && !plainDue) return;
    const now = this.#now();
    if (step > this.#lastStep) {
      this.#msPerStep = (now - this.#lastTime) / (step - this.#lastStep);
      this.#lastTime = now;
      this.#lastStep = step;
    }
    const line = this.#line(step, figures);
    if (this.#terminal) {
      this.#write(`\r\x1b[2K${line}`);
      this.#pending = true;
    } else {
      this.#write(`${line}\n`);
    }
  }

  /** Prints `text` on a line of its own (the progress line, on a terminal, is redrawn later). */
  log(text: string): void {
    this.#write(this.#terminal && this.#pending ? `\r\x1b[2K${text}\n` : `${text}\n`);
    this.#pending = false;
    // Time spent between steps (evaluations, saving) is not a step's time.
    this.#lastTime = this.#now();
  }

  /** Ends the updating line on a terminal (prints nothing otherwise). */
  done(): void {
    if (this.#terminal && this.#pending) this.#write("\n");
    this.#pending = false;
  }

  #line(step: number, figures: Readonly<Record<string, number>>): string {
    const parts = [`step ${step}/${this.total}`];
    for (const [name, value] of Object.entries(figures)) parts.push(`${name} ${value.toFixed(4)}`);
    parts.push(`${this.#msPerStep.toFixed(1)} ms/step`);
    parts.push(`ETA ${formatDuration(((this.total - step) * this.#msPerStep) / 1000)}`);
    return parts.join(" | ");
  }
}

/**
 * A duration in seconds as `1h02m`, `3m05s` or `42s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./progress.ts";
 * assert.equal(formatDuration(185), "3m05s");
 * assert.equal(formatDuration(3720), "1h02m");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text));
}

function isTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}
