/**
 * Small generated datasets for training examples and tests, reproducible bit for bit.
 *
 * @module
 */

import { Lcg32, type RandomSource, randomSourceOf, type SeedOptions } from "./random.ts";

/**
 * A labelled set of points in the plane: `points[j]` has label `labels[j]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PlanarDataset } from "./datasets.ts";
 * const data: PlanarDataset = { points: [[0, 1]], labels: [-1] };
 * assert.ok(data.points.length === data.labels.length);
 * ```
 */
export interface PlanarDataset {
  /** The points, each `[x, y]`. */
  readonly points: readonly (readonly [number, number])[];
  /** One label a point: −1 or +1. */
  readonly labels: readonly number[];
}

/**
 * Options of {@linkcode twoMoons}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TwoMoonsOptions } from "./datasets.ts";
 * const options: TwoMoonsOptions = { samples: 200, noise: 0.05, seed: 7 };
 * assert.ok(options.samples === 200);
 * ```
 */
export interface TwoMoonsOptions extends SeedOptions {
  /** How many points in all, an integer ≥ 4: ⌊n/2⌋ on the outer moon, the rest on the inner (default 100). */
  readonly samples?: number;
  /** Standard deviation of the Gaussian noise added to each coordinate, ≥ 0 (default 0.1). */
  readonly noise?: number;
  /**
   * Seed of the `Lcg32` that draws the noise (benchmark W1 uses 1337); or give a `source`.
   * One of the two is required unless `noise` is 0.
   */
  readonly seed?: number;
}

/**
 * Two interleaving half circles, the dataset of micrograd's demo (scikit-learn's
 * `make_moons`), generated as benchmark workload W1 defines it, so the defaults give W1's
 * data exactly on every runtime with `seed: 1337`.
 *
 * The outer moon (label −1) is `(cos t, sin t)` and the inner moon (label +1) is
 * `(1 − cos t, 1 − sin t − 0.5)`, for `t = π·i/(m − 1)`, `i = 0 … m − 1`. Cosine and sine
 * are evaluated as fixed polynomials (below), not `Math.cos`/`Math.sin`, whose last bit is
 * allowed to differ between engines. Then each point, outer moon first, gets noise
 * `noise · g()` on x and then on y, where `g()` is the sum of 12 uniform draws minus 6 (the
 * Irwin–Hall approximation of a standard normal). Points are not shuffled.
 *
 * @throws {RangeError} when `samples` is not an integer ≥ 4, `noise` is negative or not
 * finite, or there is noise to draw and neither a seed nor a source is given.
 *
 * @example W1's first point, as the workload states it.
 * ```ts
 * import assert from "node:assert/strict";
 * import { twoMoons } from "./datasets.ts";
 * const { points, labels } = twoMoons({ seed: 1337 });
 * assert.ok(points[0][0] === 0.9484151679556817 && points[0][1] === -0.07467068885453046);
 * assert.ok(labels[0] === -1 && labels[99] === 1);
 * ```
 */
export function twoMoons(options: TwoMoonsOptions = {}): PlanarDataset {
  const samples = options.samples ?? 100;
  const noise = options.noise ?? 0.1;
  if (!Number.isInteger(samples) || samples < 4) {
    throw new RangeError(`twoMoons: samples must be an integer ≥ 4, got ${samples}`);
  }
  if (!(noise >= 0 && noise < Infinity)) {
    throw new RangeError(`twoMoons: noise must be a finite number ≥ 0, got ${noise}`);
  }
  const source = noise === 0 && options.seed === undefined && options.source === undefined
    ? new Lcg32(0) // its draws are multiplied by a noise of 0
    : randomSourceOf("twoMoons", options, (seed) => new Lcg32(seed));
  const outer = Math.floor(samples / 2);
  const inner = samples - outer;
  const clean: [number, number][] = [];
  const labels: number[] = [];
  for (let i = 0; i < outer; i++) {
    const t = (PI * i) / (outer - 1);
    clean.push([polynomialCos(t), polynomialSin(t)]);
    labels.push(-1);
  }
  for (let i = 0; i < inner; i++) {
    const t = (PI * i) / (inner - 1);
    clean.push([1.0 - polynomialCos(t), (1.0 - polynomialSin(t)) - 0.5]);
    labels.push(1);
  }
  const points = clean.map(([x, y]): [number, number] => {
    const nx = noise * irwinHallNormal(source);
    const ny = noise * irwinHallNormal(source);
    return [x + nx, y + ny];
  });
  return { points, labels };
}

/** π as W1 writes it (the double nearest π, the same as `Math.PI`). */
const PI = 3.141592653589793;

/** Terms of the Taylor series kept: accurate to the last bit or two on [0, π]. */
const TAYLOR_TERMS = 15;

/**
 * cos t by its Taylor series in Horner form, `1 − z/(1·2)·(1 − z/(3·4)·(1 − …))` with
 * `z = t²`, using only `+ − * /` so that every IEEE-754 runtime computes the same bits.
 */
function polynomialCos(t: number): number {
  const z = t * t;
  let r = 1.0;
  for (let k = TAYLOR_TERMS; k >= 1; k--) {
    const q = z / ((2 * k - 1) * (2 * k));
    r = 1.0 - q * r;
  }
  return r;
}

/** sin t the same way: `t·(1 − z/(2·3)·(1 − z/(4·5)·(1 − …)))`. */
function polynomialSin(t: number): number {
  const z = t * t;
  let r = 1.0;
  for (let k = TAYLOR_TERMS; k >= 1; k--) {
    const q = z / ((2 * k) * (2 * k + 1));
    r = 1.0 - q * r;
  }
  return t * r;
}

/** A draw close to a standard normal: 12 uniforms summed from 0, minus 6. */
function irwinHallNormal(source: RandomSource): number {
  let sum = 0.0;
  for (let k = 0; k < 12; k++) sum = sum + source.next();
  return sum - 6.0;
}
