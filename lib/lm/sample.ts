/**
 * Sampling from a language model: turning one position's logits into a token (temperature,
 * top-k, top-p), and generating sequences by feeding samples back in. Every draw comes from
 * a seeded generator, so a seed reproduces the same text.
 *
 * @module
 */

import { noGrad, type Tensor } from "../tensor/tensor.ts";
import type { RandomSource } from "../util/random.ts";

/**
 * How a token is drawn from logits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SampleOptions } from "./sample.ts";
 * import { Random } from "../util/random.ts";
 * const options: SampleOptions = { temperature: 0.8, topK: 200, random: new Random(1) };
 * assert.equal(options.topK, 200);
 * ```
 */
export interface SampleOptions {
  /** Where the uniform draws come from (it advances: one draw a token). */
  readonly random: RandomSource;
  /** Logits are divided by this before the softmax: a finite number > 0 (default 1). */
  readonly temperature?: number;
  /** Keep only the `topK` most likely tokens (ties: the lower id first; default all). */
  readonly topK?: number;
  /**
   * Keep the smallest set of most likely tokens whose probability reaches `topP`, in (0, 1]
   * (nucleus sampling; default 1, all).
   */
  readonly topP?: number;
}

/**
 * The probabilities that {@linkcode sampleToken} draws from: softmax of `logits /
 * temperature`, restricted to the top-k and then the top-p tokens, renormalised.
 *
 * @throws {RangeError} for empty or non-finite logits, or an option out of range.
 *
 * @example Top-2 of three tokens.
 * ```ts
 * import assert from "node:assert/strict";
 * import { samplingDistribution } from "./sample.ts";
 * const p = samplingDistribution([0, Math.log(3), -5], { topK: 2 });
 * assert.ok(Math.abs(p[0] - 0.25) < 1e-12 && Math.abs(p[1] - 0.75) < 1e-12 && p[2] === 0);
 * ```
 */
export function samplingDistribution(
  logits: ArrayLike<number>,
  options: Omit<SampleOptions, "random"> = {},
): Float64Array {
  const n = logits.length;
  const temperature = options.temperature ?? 1;
  const topK = options.topK ?? n;
  const topP = options.topP ?? 1;
  if (n === 0) throw new RangeError("sample: no logits");
  if (!(temperature > 0 && temperature < Infinity)) {
    throw new RangeError(`sample: temperature must be a finite number > 0, got ${temperature}`);
  }
  if (!Number.isSafeInteger(topK) || topK < 1) {
    throw new RangeError(`sample: topK must be a whole number ≥ 1, got ${topK}`);
  }
  if (!(topP > 0 && topP <= 1)) {
    throw new RangeError(`sample: topP must be in (0, 1], got ${topP}`);
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(logits[i])) {
      throw new RangeError(`sample: logit ${i} is ${logits[i]}, not a finite number`);
    }
    max = Math.max(max, logits[i] / temperature);
  }
  const p = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp(logits[i] / temperature - max);
    total += p[i];
  }
  for (let i = 0; i < n; i++) p[i] /= total;
  if (topK >= n && topP === 1) return p;
  // Most likely first; equal probabilities by id, so the choice is deterministic.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  let kept = Math.min(topK, n);
  if (topP < 1) {
    let mass = 0;
    for (let r = 0; r < kept; r++) {
      mass += p[order[r]];
      if (mass >= topP) {
        kept = r + 1;
        break;
      }
    }
  }
  const out = new Float64Array(n);
  let keptTotal = 0;
  for (let r = 0; r < kept; r++) keptTotal += p[order[r]];
  for (let r = 0; r < kept; r++) out[order[r]] = p[order[r]] / keptTotal;
  return out;
}

/**
 * A token id drawn from `logits` with one uniform draw of `options.random` (inverse of the
 * cumulative distribution of {@linkcode samplingDistribution}).
 *
 * @throws {RangeError} as {@linkcode samplingDistribution}.
 *
 * @example The same seed draws the same tokens.
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleToken } from "./sample.ts";
 * import { Random } from "../util/random.ts";
 * const draw = (seed: number) => {
 *   const random = new Random(seed);
 *   return Array.from({ length: 5 }, () => sampleToken([1, 2, 3], { random }));
 * };
 * assert.deepEqual(draw(7), draw(7));
 * assert.equal(sampleToken([1, 2, 3], { random: new Random(1), topK: 1 }), 2);
 * ```
 */
export function sampleToken(logits: ArrayLike<number>, options: SampleOptions): number {
  const p = samplingDistribution(logits, options);
  const u = options.random.next();
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    cumulative += p[i];
    last = i;
    if (u < cumulative) return i;
  }
  return last; // u within rounding of 1
}

/**
 * Options of {@linkcode sampleSequences}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SampleSequencesOptions } from "./sample.ts";
 * import { Random } from "../util/random.ts";
 * const options: SampleSequencesOptions = { maxNewTokens: 15, blockSize: 16, random: new Random(1) };
 * assert.equal(options.blockSize, 16);
 * ```
 */
export interface SampleSequencesOptions extends SampleOptions {
  /** How many tokens to add to each sequence. */
  readonly maxNewTokens: number;
  /** The model's context: only the last `blockSize` tokens are fed to it. */
  readonly blockSize: number;
}

/**
 * Extends each of `prompts` (equal lengths, at least one token) by `maxNewTokens` sampled
 * tokens: at each step the model sees the last `blockSize` tokens of every sequence and the
 * next token is drawn from its logits at the last position. `forward` maps token ids
 * `[batch][time]` to logits `[batch, time, vocab]`; it runs inside `noGrad`. Draws are made
 * sequence by sequence, so the result depends only on the seed.
 *
 * @throws {RangeError} for prompts of different or zero length, or bad options.
 *
 * @example A "model" that always prefers the token after the last one.
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleSequences } from "./sample.ts";
 * import { Random } from "../util/random.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const forward = (ids: readonly (readonly number[])[]) => {
 *   const [b, t] = [ids.length, ids[0].length];
 *   const logits = new Float64Array(b * t * 4);
 *   ids.forEach((row, i) => row.forEach((id, j) => (logits[(i * t + j) * 4 + (id + 1) % 4] = 50)));
 *   return new Tensor(logits, [b, t, 4]);
 * };
 * const out = sampleSequences(forward, [[0], [2]], { maxNewTokens: 3, blockSize: 2, random: new Random(1) });
 * assert.deepEqual(out, [[0, 1, 2, 3], [2, 3, 0, 1]]);
 * ```
 */
export function sampleSequences(
  forward: (ids: readonly (readonly number[])[]) => Tensor,
  prompts: readonly (readonly number[])[],
  options: SampleSequencesOptions,
): number[][] {
  const { maxNewTokens, blockSize } = options;
  if (!Number.isSafeInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new RangeError(
      `sampleSequences: maxNewTokens must be a whole number ≥ 0, got ${maxNewTokens}`,
    );
  }
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
    throw new RangeError(`sampleSequences: blockSize must be a whole number ≥ 1, got ${blockSize}`);
  }
  if (prompts.length === 0) return [];
  const length = prompts[0].length;
  if (length === 0 || prompts.some((p) => p.length !== length)) {
    throw new RangeError("sampleSequences: prompts must all have the same length, at least 1");
  }
  const sequences = prompts.map((p) => [...p]);
  for (let n = 0; n < maxNewTokens; n++) {
    const context = sequences.map((s) => s.slice(-blockSize));
    const logits = noGrad(() => forward(context));
    const [batch, time, vocab] = logits.shape;
    if (logits.rank !== 3 || batch !== sequences.length || time !== context[0].length) {
      throw new RangeError(
        `sampleSequences: forward returned shape [${logits.shape.join(",")}] for ids ` +
          `[${sequences.length},${context[0].length}]; expected [batch, time, vocab]`,
      );
    }
    for (let b = 0; b < batch; b++) {
      const last = logits.data.subarray(((b + 1) * time - 1) * vocab, (b + 1) * time * vocab);
      sequences[b].push(sampleToken(last, options));
    }
  }
  return sequences;
}
