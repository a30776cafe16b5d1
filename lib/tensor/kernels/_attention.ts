/**
 * Fused scaled dot-product attention, forward and backward, over a batch of (T × d) query,
 * key and value matrices: the loops under the registry's `attention` op.
 *
 * Forward, per batch: S = scale·Q·Kᵀ (T × T), the causal mask (key j > query i is left out),
 * P = softmax of each row of S over the keys kept, O = P·V. Only P is kept for backward.
 *
 * Backward, with G = ∂L/∂O:  ∂L/∂V = Pᵀ·G;  ∂L/∂P = G·Vᵀ;  ∂L/∂S = P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))
 * (softmax's backward, row by row; masked entries have P = 0 and get 0);  ∂L/∂Q = scale·∂L/∂S·K;
 * ∂L/∂K = scale·(∂L/∂S)ᵀ·Q. Every product runs through `product`, transposed operands read in
 * place, so nothing is transposed and no (T × T) tensor other than P outlives the op.
 *
 * @module
 */

import { product } from "./_product.ts";

/** Sizes of an attention call: `batch` independent (T × d) problems. */
export interface AttentionSizes {
  /** Number of independent problems (batch × heads). */
  readonly batch: number;
  /** Sequence length: rows of Q, K and V. */
  readonly t: number;
  /** Width of a query, key and value. */
  readonly d: number;
  /** The factor on Q·Kᵀ (usually 1/√d). */
  readonly scale: number;
  /** Whether query i sees only keys j ≤ i. */
  readonly causal: boolean;
}

const plain = (data: Float64Array, offset: number) => ({ data, offset, transposed: false });
const flipped = (data: Float64Array, offset: number) => ({ data, offset, transposed: true });

/** O = softmax(scale·Q·Kᵀ, masked)·V for every batch; returns O and the probabilities P. */
export function attentionForward(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  { batch, t, d, scale, causal }: AttentionSizes,
): { out: Float64Array; probs: Float64Array } {
  const probs = new Float64Array(batch * t * t);
  const out = new Float64Array(batch * t * d);
  for (let b = 0; b < batch; b++) {
    const qkv = b * t * d, pp = b * t * t;
    product(plain(q, qkv), flipped(k, qkv), probs, pp, t, d, t, false); // Q·Kᵀ
    for (let i = 0; i < t; i++) {
      const row = pp + i * t, seen = causal ? i + 1 : t;
      let max = -Infinity;
      for (let j = 0; j < seen; j++) max = Math.max(max, scale * probs[row + j]);
      let total = 0;
      for (let j = 0; j < seen; j++) {
        const e = Math.exp(scale * probs[row + j] - max);
        probs[row + j] = e;
        total += e;
      }
      for (let j = 0; j < seen; j++) probs[row + j] /= total;
      probs.fill(0, row + seen, row + t);
    }
    product(plain(probs, pp), plain(v, qkv), out, qkv, t, t, d, false); // P·V
  }
  return { out, probs };
}

/** The gradients of Q, K and V (null where `needs` is false), given G = ∂L/∂O. */
export function attentionBackward(
  grad: Float64Array,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  probs: Float64Array,
  { batch, t, d, scale }: AttentionSizes,
  needs: readonly boolean[],
): (Float64Array | null)[] {
  const dq = needs[0] ? new Float64Array(q.length) : null;
  const dk = needs[1] ? new Float64Array(k.length) : null;
  const dv = needs[2] ? new Float64Array(v.length) : null;
  const ds = new Float64Array(t * t);
  for (let b = 0; b < batch; b++) {
    const qkv = b * t * d, pp = b * t * t;
    if (dv !== null) product(flipped(probs, pp), plain(grad, qkv), dv, qkv, t, t, d, false);
    if (dq === null && dk === null) continue;
    product(plain(grad, qkv), flipped(v, qkv), ds, 0, t, d, t, false); // ∂L/∂P = G·Vᵀ
    for (let i = 0; i < t; i++) {
      const row = i * t;
      let dot = 0;
      for (let j = 0; j < t; j++) dot += ds[row + j] * probs[pp + row + j];
      for (let j = 0; j < t; j++) ds[row + j] = scale * probs[pp + row + j] * (ds[row + j] - dot);
    }
    if (dq !== null) product(plain(ds, 0), plain(k, qkv), dq, qkv, t, t, d, false);
    if (dk !== null) product(flipped(ds, 0), plain(q, qkv), dk, qkv, t, t, d, false);
  }
  return [dq, dk, dv];
}
