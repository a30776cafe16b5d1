/**
 * Small seeded pseudo-random generators, so that every initialisation and every generated
 * dataset is reproducible bit for bit on any machine.
 *
 * @module
 */

/**
 * A source of uniform doubles in [0, 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lcg32, type RandomSource } from "./random.ts";
 * const source: RandomSource = new Lcg32(1);
 * const u = source.next();
 * assert.ok(u >= 0 && u < 1);
 * ```
 */
export interface RandomSource {
  /** The next uniform double in [0, 1). */
  next(): number;
}

/**
 * The linear congruential generator of the shared benchmark workloads (`LCG32(seed)`):
 * `s ← (1664525·s + 1013904223) mod 2³²`, `u = s / 2³²`. Fast and exactly reproducible in any
 * language, but statistically weak: use it where bit-identical workloads matter.
 *
 * @example The first draw of `LCG32(42)`, as the workloads define it.
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lcg32 } from "./random.ts";
 * const g = new Lcg32(42);
 * assert.ok(g.next() === ((Math.imul(1664525, 42) + 1013904223) >>> 0) / 2 ** 32);
 * ```
 */
export class Lcg32 implements RandomSource {
  #state: number;

  /** A generator whose state starts at `seed` (an integer in [0, 2³²)). */
  constructor(seed: number) {
    this.#state = checkedSeed("Lcg32", seed);
  }

  /** The next uniform double in [0, 1). */
  next(): number {
    this.#state = (Math.imul(1664525, this.#state) + 1013904223) >>> 0;
    return this.#state / 4294967296;
  }
}

/**
 * The default generator: Mulberry32, a 32-bit generator of good statistical quality for its
 * size, with helpers for the distributions initialisation and sampling need.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "./random.ts";
 * const a = new Random(7);
 * const b = new Random(7);
 * assert.ok(a.normal() === b.normal()); // same seed, same stream
 * assert.ok(a.integer(10) < 10);
 * ```
 */
export class Random implements RandomSource {
  #state: number;
  #spareNormal: number | null = null;

  /** A generator seeded with `seed` (an integer in [0, 2³²)). */
  constructor(seed: number) {
    this.#state = checkedSeed("Random", seed);
  }

  /** The next uniform double in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform double in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** A standard normal draw (Box–Muller; the second value of each pair is kept for later). */
  normal(): number {
    if (this.#spareNormal !== null) {
      const spare = this.#spareNormal;
      this.#spareNormal = null;
      return spare;
    }
    const u = 1 - this.next(); // in (0, 1], so the logarithm is finite
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /** A uniform integer in [0, n). */
  integer(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`Random.integer: n must be a positive integer, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }
}

/**
 * Where a source of randomness draws from: exactly one of a `seed` (a fresh generator of
 * that seed) or a `source` of your own (which advances as it is drawn from, so layers can
 * share one). Every part of the library that draws random numbers (initialisations, `rand`,
 * `randn`, dropout, data sets) takes these options and refuses to run without one: there is
 * no hidden default generator, so every run is reproducible and says how.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lcg32, type SeedOptions } from "./random.ts";
 * const seeded: SeedOptions = { seed: 7 };
 * const shared: SeedOptions = { source: new Lcg32(42) };
 * assert.ok(seeded.seed === 7 && shared.source !== undefined);
 * ```
 */
export interface SeedOptions {
  /** Seed of a fresh generator (an integer in [0, 2³²)). */
  readonly seed?: number;
  /** A generator to draw from instead (it advances). */
  readonly source?: RandomSource;
}

/**
 * The generator `options` name: `options.source`, or `make(options.seed)` (by default a
 * {@linkcode Random}). This is the library's one seeding policy, in one place.
 *
 * @throws {RangeError} naming `where` when neither a seed nor a source is given, or both.
 * @throws {TypeError} when `source` has no `next` method.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random, randomSourceOf } from "./random.ts";
 * assert.equal(randomSourceOf("demo", { seed: 3 }).next(), new Random(3).next());
 * assert.throws(() => randomSourceOf("demo", {}), /demo: give a seed or a source/);
 * ```
 */
export function randomSourceOf(
  where: string,
  options: SeedOptions | undefined,
  make: (seed: number) => RandomSource = (seed) => new Random(seed),
): RandomSource {
  const seed = options?.seed;
  const source = options?.source;
  if (seed === undefined && source === undefined) {
    throw new RangeError(
      `${where}: give a seed or a source (e.g. { seed: 1 } or { source: new Random(1) }): ` +
        "no random numbers are drawn without one, so every run is reproducible",
    );
  }
  if (seed !== undefined && source !== undefined) {
    throw new RangeError(`${where}: give a seed or a source, not both`);
  }
  if (source !== undefined) {
    if (typeof source !== "object" || source === null || typeof source.next !== "function") {
      throw new TypeError(`${where}: source must have a next() method (a RandomSource)`);
    }
    return source;
  }
  return make(seed as number);
}

function checkedSeed(where: string, seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`${where}: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return seed >>> 0;
}
