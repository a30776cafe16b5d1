/**
 * Pictures of a trained classifier: the decision boundary of a two-class model over the
 * plane, with the data points on top, as a self-contained SVG document.
 *
 * @module
 */

/**
 * Options of {@linkcode decisionBoundarySvg}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DecisionBoundaryOptions } from "./svg_plot.ts";
 * const options: DecisionBoundaryOptions = {
 *   score: (x, y) => x - y,
 *   points: [[0, 1], [1, 0]],
 *   labels: [-1, 1],
 * };
 * assert.ok(options.score(1, 0) > 0);
 * ```
 */
export interface DecisionBoundaryOptions {
  /** The model's score at a point; > 0 means class +1, otherwise class −1. */
  readonly score: (x: number, y: number) => number;
  /** The data points, each `[x, y]`. */
  readonly points: readonly (readonly [number, number])[];
  /** One label a point: −1 or +1. */
  readonly labels: readonly number[];
  /** Grid cells along each axis: an integer in [2, 1000] (default 80). */
  readonly resolution?: number;
  /** Width and height of the picture in pixels: a number in [16, 10000] (default 480). */
  readonly size?: number;
  /** Room around the data, in data units, on every side: finite and ≥ 0 (default 0.5). */
  readonly padding?: number;
  /** A caption drawn at the top left (default none). */
  readonly title?: string;
}

/** Fill of the region the model assigns to class −1, and of its points. */
const NEGATIVE = { region: "#fde0c5", point: "#d95f02" } as const;
/** Fill of the region the model assigns to class +1, and of its points. */
const POSITIVE = { region: "#cfe1f2", point: "#1f62a8" } as const;

/**
 * An SVG picture of a two-class decision boundary: the plane around the data is cut into a
 * `resolution × resolution` grid, each cell filled by the class the model gives its centre,
 * and the data points drawn over it in the colour of their label (−1 orange, +1 blue), so
 * misclassified points stand out against the region around them.
 *
 * @throws {RangeError} when there are no points, the lists differ in length, a label is not
 * ±1, a coordinate is not finite, an option is out of range, or the score is not a finite
 * number somewhere on the grid.
 *
 * @example A linear classifier splitting two points.
 * ```ts
 * import assert from "node:assert/strict";
 * import { decisionBoundarySvg } from "./svg_plot.ts";
 * const svg = decisionBoundarySvg({
 *   score: (x, y) => x - y,
 *   points: [[0, 1], [1, 0]],
 *   labels: [-1, 1],
 *   resolution: 10,
 * });
 * assert.ok(svg.startsWith("<svg") && svg.includes("<circle"));
 * ```
 */
export function decisionBoundarySvg(options: DecisionBoundaryOptions): string {
  const { score, points, labels } = options;
  const resolution = options.resolution ?? 80;
  const size = options.size ?? 480;
  const padding = options.padding ?? 0.5;
  checkedData(points, labels);
  if (!Number.isInteger(resolution) || resolution < 2 || resolution > 1000) {
    throw new RangeError(
      `decisionBoundarySvg: resolution must be an integer in [2, 1000], got ${resolution}`,
    );
  }
  if (!(size >= 16 && size <= 10000)) {
    throw new RangeError(`decisionBoundarySvg: size must be in [16, 10000], got ${size}`);
  }
  if (!(padding >= 0 && padding < Infinity)) {
    throw new RangeError(`decisionBoundarySvg: padding must be finite and ≥ 0, got ${padding}`);
  }

  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const xMin = Math.min(...xs) - padding;
  const yMin = Math.min(...ys) - padding;
  // A single point (or a line of them) with no padding still needs an area to draw.
  const xSpan = Math.max(Math.max(...xs) + padding - xMin, 1e-9);
  const ySpan = Math.max(Math.max(...ys) + padding - yMin, 1e-9);
  const toPixelX = (x: number): number => ((x - xMin) / xSpan) * size;
  const toPixelY = (y: number): number => size - ((y - yMin) / ySpan) * size;
  const cell = size / resolution;

  // Indented as `deno fmt` lays SVG out, so the committed picture passes the format check.
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" ` +
    `viewBox="0 0 ${size} ${size}">`,
    `  <g shape-rendering="crispEdges">`,
  ];
  // Row by row (top row first), one rectangle for each run of cells of the same class.
  for (let row = 0; row < resolution; row++) {
    const y = yMin + ((resolution - row - 0.5) / resolution) * ySpan;
    let runStart = 0;
    let runPositive = false;
    for (let column = 0; column <= resolution; column++) {
      let positive: boolean = !runPositive;
      if (column < resolution) {
        const x = xMin + ((column + 0.5) / resolution) * xSpan;
        const s = score(x, y);
        if (typeof s !== "number" || !Number.isFinite(s)) {
          throw new RangeError(`decisionBoundarySvg: the score at (${x}, ${y}) is ${s}`);
        }
        positive = s > 0;
        if (column === 0) runPositive = positive;
      }
      if (positive !== runPositive) {
        const fill = runPositive ? POSITIVE.region : NEGATIVE.region;
        parts.push(
          `    <rect x="${fixed(runStart * cell)}" y="${fixed(row * cell)}" ` +
            `width="${fixed((column - runStart) * cell)}" height="${
              fixed(cell)
            }" fill="${fill}" />`,
        );
        runStart = column;
        runPositive = positive;
      }
    }
  }
  parts.push(`  </g>`, `  <g stroke="#ffffff" stroke-width="1">`);
  const radius = fixed(Math.max(2, size / 110));
  for (let j = 0; j < points.length; j++) {
    const fill = labels[j] > 0 ? POSITIVE.point : NEGATIVE.point;
    parts.push(
      `    <circle cx="${fixed(toPixelX(points[j][0]))}" cy="${fixed(toPixelY(points[j][1]))}" ` +
        `r="${radius}" fill="${fill}" />`,
    );
  }
  parts.push(`  </g>`);
  if (options.title !== undefined) {
    parts.push(
      `  <g font-family="sans-serif" font-size="14" fill="#333333">`,
      `    <text x="8" y="20">${escapeXml(options.title)}</text>`,
      `  </g>`,
    );
  }
  parts.push(`</svg>`, ``);
  return parts.join("\n");
}

function checkedData(
  points: readonly (readonly [number, number])[],
  labels: readonly number[],
): void {
  if (points.length === 0) throw new RangeError("decisionBoundarySvg: no points");
  if (points.length !== labels.length) {
    throw new RangeError(
      `decisionBoundarySvg: ${points.length} points but ${labels.length} labels`,
    );
  }
  for (let j = 0; j < points.length; j++) {
    const [x, y] = points[j];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      throw new RangeError(`decisionBoundarySvg: point ${j} is (${x}, ${y}), not finite`);
    }
    if (labels[j] !== 1 && labels[j] !== -1) {
      throw new RangeError(`decisionBoundarySvg: label ${j} must be -1 or 1, got ${labels[j]}`);
    }
  }
}

/** A coordinate with two decimals, without trailing zeros: small files, exact enough. */
function fixed(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * One line of a {@linkcode lossCurveSvg}: a name for the legend and its `[step, loss]` points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LossSeries } from "./svg_plot.ts";
 * const test: LossSeries = { name: "test", points: [[500, 2.3], [1000, 2.2]] };
 * assert.equal(test.points.length, 2);
 * ```
 */
export interface LossSeries {
  /** Shown in the legend. */
  readonly name: string;
  /** `[step, loss]` pairs, in any order of steps (they are drawn sorted). */
  readonly points: readonly (readonly [number, number])[];
}

/**
 * Options of {@linkcode lossCurveSvg}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LossCurveOptions } from "./svg_plot.ts";
 * const options: LossCurveOptions = { series: [], title: "bigram", width: 640 };
 * assert.equal(options.width, 640);
 * ```
 */
export interface LossCurveOptions {
  /** The lines to draw (at least one point in all). */
  readonly series: readonly LossSeries[];
  /** A caption drawn at the top (default none). */
  readonly title?: string;
  /** Width in pixels, in [160, 10000] (default 640). */
  readonly width?: number;
  /** Height in pixels, in [120, 10000] (default 400). */
  readonly height?: number;
}

/** Colours of successive series (colour-blind safe). */
const SERIES_COLOURS = ["#1f62a8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"];

/**
 * A loss curve as a self-contained SVG document: loss against step for each series, with
 * axes labelled at round values and a legend, so a training run can be looked at in a
 * browser without any plotting library.
 *
 * @throws {RangeError} when there are no points, a coordinate is not finite, or a size is
 * out of range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossCurveSvg } from "./svg_plot.ts";
 * const svg = lossCurveSvg({
 *   title: "names: bigram",
 *   series: [
 *     { name: "train", points: [[0, 3.3], [500, 2.6], [1000, 2.5]] },
 *     { name: "test", points: [[0, 3.3], [500, 2.7], [1000, 2.55]] },
 *   ],
 * });
 * assert.ok(svg.startsWith("<svg") && svg.includes("<polyline") && svg.includes("test"));
 * ```
 */
export function lossCurveSvg(options: LossCurveOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  if (!(width >= 160 && width <= 10000)) {
    throw new RangeError(`lossCurveSvg: width must be in [160, 10000], got ${width}`);
  }
  if (!(height >= 120 && height <= 10000)) {
    throw new RangeError(`lossCurveSvg: height must be in [120, 10000], got ${height}`);
  }
  const all = options.series.flatMap((s) => s.points);
  if (all.length === 0) throw new RangeError("lossCurveSvg: no points to draw");
  for (const s of options.series) {
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        throw new RangeError(`lossCurveSvg: series "${s.name}" has a point (${x}, ${y})`);
      }
    }
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs));
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys));
  const [xLow, xHigh] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [yLow, yHigh] = [yTicks[0], yTicks[yTicks.length - 1]];
  const left = 56;
  const right = width - 16;
  const top = options.title === undefined ? 16 : 36;
  const bottom = height - 40;
  const px = (x: number): string => fixed(left + ((x - xLow) / (xHigh - xLow)) * (right - left));
  const py = (y: number): string => fixed(bottom - ((y - yLow) / (yHigh - yLow)) * (bottom - top));

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}">`,
    `  <rect width="${width}" height="${height}" fill="#ffffff" />`,
    `  <g font-family="sans-serif" font-size="12" fill="#333333" stroke="none">`,
  ];
  for (const x of xTicks) {
    parts.push(`    <text x="${px(x)}" y="${fixed(bottom + 16)}" text-anchor="middle">${x}</text>`);
  }
  for (const y of yTicks) {
    parts.push(
      `    <text x="${left - 6}" y="${fixed(Number(py(y)) + 4)}" text-anchor="end">${
        formatTick(y)
      }</text>`,
    );
  }
  parts.push(
    `    <text x="${fixed((left + right) / 2)}" y="${height - 6}" text-anchor="middle">step</text>`,
  );
  if (options.title !== undefined) {
    parts.push(`    <text x="${left}" y="22" font-size="14">${escapeXml(options.title)}</text>`);
  }
  parts.push(`  </g>`, `  <g stroke="#dddddd" stroke-width="1">`);
  for (const y of yTicks) {
    parts.push(`    <line x1="${left}" y1="${py(y)}" x2="${right}" y2="${py(y)}" />`);
  }
  parts.push(`  </g>`, `  <g fill="none" stroke-width="2">`);
  options.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length];
    const coordinates = sorted.map(([x, y]) => `${px(x)},${py(y)}`).join(" ");
    parts.push(`    <polyline stroke="${colour}" points="${coordinates}" />`);
  });
  parts.push(`  </g>`, `  <g font-family="sans-serif" font-size="12">`);
  options.series.forEach((s, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length];
    const y = top + 8 + 16 * i;
    parts.push(
      `    <rect x="${right - 110}" y="${y - 8}" width="12" height="3" fill="${colour}" />`,
      `    <text x="${right - 92}" y="${y}" fill="#333333">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push(`  </g>`, `</svg>`, ``);
  return parts.join("\n");
}

/** Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]. */
function niceTicks(low: number, high: number): number[] {
  if (high - low < 1e-9) {
    low -= 0.5;
    high += 0.5;
  }
  const rough = (high - low) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) as number;
  const first = Math.floor(low / step) * step;
  const ticks: number[] = [];
  for (let t = first; t < high + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks.length < 2) ticks.push(Number((first + step).toPrecision(12)));
  return ticks;
}

function formatTick(y: number): string {
  return String(Number(y.toPrecision(6)));
}
