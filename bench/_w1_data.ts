/**
 * Workload W1's data and initial weights (../shared/bench/WORKLOADS.md) as flat arrays, shared
 * by the tensor-form and tfjs benches so that both start from the same bits as the scalar
 * bench: the points come from the library's `twoMoons({ seed: 1337 })` (W1's generator), the weights from
 * `Lcg32(42)` as `2u − 1` in the order layer, neuron, input. Both are checked against the
 * SHA-256 digests the workload publishes before any bench uses them.
 *
 * @module
 */

import { twoMoons } from "../lib/util/datasets.ts";
import { Lcg32 } from "../lib/util/random.ts";

/** W1's layer sizes: 2 inputs, two hidden layers of 16, one output. */
export const W1_SIZES: readonly number[] = [2, 16, 16, 1];
/** Number of training steps. */
export const W1_STEPS = 100;
/** Reference values of the workload (float64). */
export const W1_REFERENCE = {
  lossFirst: 1.506192971829493,
  lossLast: 0.0241514567434098,
  lossLastTolerance: 1e-12,
  accuracy: 0.99,
} as const;

const DATA_SHA256 = "4255e15935c6536da8a4bee4a9c197f18fd301d6407963d39326f24257ef0be1";
const WEIGHTS_SHA256 = "59cf646968a1222b2a497f6466b93af2e6fa4b4c1a0226b0029b2b7f79b541fc";

/** One layer's initial parameters: `weights[j·nin + i]` is neuron j's weight on input i. */
export interface W1Layer {
  nin: number;
  nout: number;
  /** nout × nin, neuron-major (the generation order). */
  weights: Float64Array;
  /** nout zeros. */
  biases: Float64Array;
}

/** W1's inputs, labels and initial layers. */
export interface W1Problem {
  /** 100 × 2, row-major. */
  x: Float64Array;
  /** 100 labels, −1 or +1. */
  y: Float64Array;
  layers: W1Layer[];
}

/** Builds W1's data and initial weights and verifies both digests; throws if either differs. */
export async function w1Problem(): Promise<W1Problem> {
  const { points, labels } = twoMoons({ seed: 1337 });
  const x = new Float64Array(points.flat());
  const y = new Float64Array(labels);
  const source = new Lcg32(42);
  const layers: W1Layer[] = [];
  const allWeights: number[] = [];
  for (let l = 1; l < W1_SIZES.length; l++) {
    const nin = W1_SIZES[l - 1], nout = W1_SIZES[l];
    const weights = new Float64Array(nout * nin);
    for (let w = 0; w < weights.length; w++) weights[w] = 2.0 * source.next() - 1.0;
    allWeights.push(...weights);
    layers.push({ nin, nout, weights, biases: new Float64Array(nout) });
  }
  const data = new Float64Array(300);
  data.set(x);
  data.set(y, 200);
  await checkDigest("data", data, DATA_SHA256);
  await checkDigest("weights", new Float64Array(allWeights), WEIGHTS_SHA256);
  return { x, y, layers };
}

async function checkDigest(what: string, values: Float64Array, expected: string): Promise<void> {
  // Float64Array bytes are in the platform's order; W1's digests are over little-endian.
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat64(8 * i, v, true));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== expected) {
    throw new Error(`W1 ${what}: SHA-256 ${hex}, the workload says ${expected}`);
  }
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
