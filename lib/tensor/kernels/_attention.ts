/**
 * Fused scaled dot-product attention, forward and backward, over a batch of query matrices
 * (Tq × d) and key and value matrices (Tk × d): the loops under the registry's `attention` op.
 *
 * Forward, per batch: S = scale·Q·Kᵀ (Tq × Tk), the causal mask (query i sees keys
 * j ≤ i + Tk − Tq: the queries are the last Tq positions of the Tk, as when keys of earlier
 * positions are cached), P = softmax of each row of S over the keys kept, O = P·V. Only P is
 * kept for backward.
 *
 * Backward, with G = ∂L/∂O:  ∂L/∂V = Pᵀ·G;  ∂L/∂P = G·Vᵀ;  ∂L/∂S = P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))
 * (softmax's backward, row by row; masked entries have P = 0 and get 0);  ∂L/∂Q = scale·∂L/∂S·K;
 * ∂L/∂K = scale·(∂L/∂S)ᵀ·Q. Every product runs through `product`, transposed operands read in
 * place, so nothing is transposed and no (Tq × Tk) tensor other than P outlives the op.
 *
 * @module
 */

import type { FloatArray } from "../_dtype.ts";
import { gradientArrayToOverwriteLike } from "../_gradient_pool.ts";
import { product } from "./_product.ts";

/** Sizes of an attention call: `batch` independent problems. */
export interface AttentionSizes {
  /** Number of independent problems (batch × heads). */
  readonly batch: number;
  /** Rows of Q: the queries. */
  readonly tq: number;
  /** Rows of K and V: the keys (Tq ≤ Tk when causal). */
  readonly tk: number;
  /** Width of a query, key and value. */
  readonly d: number;
  /** The factor on Q·Kᵀ (usually 1/√d). */
  readonly scale: number;
  /** Whether query i sees only keys j ≤ i + Tk − Tq. */
  readonly causal: boolean;
}

const plain = (data: FloatArray, offset: number) => ({ data, offset, transposed: false });
const flipped = (data: FloatArray, offset: number) => ({ data, offset, transposed: true });

/** A zeroed array of `length` elements of the element type of `like`. */
function allocateLike<T extends FloatArray>(like: T, length: number): T {
  return (like instanceof Float32Array ? new Float32Array(length) : new Float64Array(length)) as T;
}

/**
 * O = softmax(scale·Q·Kᵀ, masked)·V for every batch; returns O and the probabilities P, of
 * the inputs' element type (float32 inputs run the float32 products, as PyTorch does; the
 * softmax computes in float64 and rounds each probability once).
 */
export function attentionForward<T extends FloatArray>(
  q: T,
  k: T,
  v: T,
  { batch, tq, tk, d, scale, causal }: AttentionSizes,
): { out: T; probs: T } {
  const probs = allocateLike(q, batch * tq * tk);
  const out = allocateLike(q, batch * tq * d);
  for (let b = 0; b < batch; b++) {
    const qo = b * tq * d, kvo = b * tk * d, pp = b * tq * tk;
    product(plain(q, qo), flipped(k, kvo), probs, pp, tq, d, tk, false); // Q·Kᵀ
    for (let i = 0; i < tq; i++) {
      const row = pp + i * tk, seen = causal ? i + 1 + tk - tq : tk;
      let max = -Infinity;
      for (let j = 0; j < seen; j++) max = Math.max(max, scale * probs[row + j]);
      let total = 0;
      for (let j = 0; j < seen; j++) {
        const e = Math.exp(scale * probs[row + j] - max);
        probs[row + j] = e;
        total += e;
      }
      for (let j = 0; j < seen; j++) probs[row + j] /= total;
      probs.fill(0, row + seen, row + tk);
    }
    product(plain(probs, pp), plain(v, kvo), out, qo, tq, tk, d, false); // P·V
  }
  return { out, probs };
}

/**
 * The gradients of Q, K and V (null where `needs` is false), given G = ∂L/∂O; every array
 * of one element type, float64 or float32 (float32 products then), the gradients too.
 */
export function attentionBackward<T extends FloatArray>(
  grad: T,
  q: T,
  k: T,
  v: T,
  probs: T,
  { batch, tq, tk, d, scale }: AttentionSizes,
  needs: readonly boolean[],
): (T | null)[] {
  // Each product below writes its whole block of these (none accumulates), so they come
  // from the gradient pool unzeroed, like any gradient an op's backward returns.
  const pooled = (length: number): T => gradientArrayToOverwriteLike(q, length) as T;
  const dq = needs[0] ? pooled(q.length) : null;
  const dk = needs[1] ? pooled(k.length) : null;
  const dv = needs[2] ? pooled(v.length) : null;
  const ds = allocateLike(q, tq * tk);
  for (let b = 0; b < batch; b++) {
    const qo = b * tq * d, kvo = b * tk * d, pp = b * tq * tk;
    if (dv !== null) product(flipped(probs, pp), plain(grad, qo), dv, kvo, tk, tq, d, false);
    if (dq === null && dk === null) continue;
    product(plain(grad, qo), flipped(v, kvo), ds, 0, tq, d, tk, false); // ∂L/∂P = G·Vᵀ
    for (let i = 0; i < tq; i++) {
      const row = i * tk;
      let dot = 0;
      for (let j = 0; j < tk; j++) dot += ds[row + j] * probs[pp + row + j];
      for (let j = 0; j < tk; j++) {
        ds[row + j] = scale * probs[pp + row + j] * (ds[row + j] - dot);
      }
    }
    if (dq !== null) product(plain(ds, 0), plain(k, kvo), dq, qo, tq, tk, d, false);
    if (dk !== null) product(flipped(ds, 0), plain(q, qo), dk, kvo, tk, tq, d, false);
  }
  return [dq, dk, dv];
}
