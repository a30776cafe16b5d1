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
