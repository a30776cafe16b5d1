/**
 * Helpers shared by every layer and by the examples: seeded random numbers, the two-moons
 * data set and SVG plotting. No layer of the engine lives here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lcg32 } from "./mod.ts";
 * const a = new Lcg32(42), b = new Lcg32(42);
 * assert.equal(a.next(), b.next());
 * ```
 *
 * @module
 */

export { type PlanarDataset, twoMoons, type TwoMoonsOptions } from "./datasets.ts";
export {
  type DecisionBoundaryOptions,
  decisionBoundarySvg,
  type LossCurveOptions,
  lossCurveSvg,
  type LossSeries,
} from "./svg_plot.ts";
export { formatDuration, Progress, type ProgressOptions } from "./progress.ts";
export { Lcg32, Random, type RandomSource, randomSourceOf, type SeedOptions } from "./random.ts";
