/**
 * Gradient clipping by global norm (Pascanu et al., 2013), as PyTorch's
 * `clip_grad_norm_`: one bad batch cannot throw the parameters far.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";

/**
 * Scales the gradients of `parameters` together so that their global L2 norm
 * `√(Σ g²)` (over every element of every gradient) is at most `maxNorm`; returns the norm
 * before clipping. Gradients within the limit are left untouched; a parameter without a
 * gradient counts as zeros.
 *
 * @throws {RangeError} when `maxNorm` is not a finite number > 0, or the norm is not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clipGradNorm } from "./clip.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const w = tensor([0, 0], { requiresGrad: true });
 * w.mul(tensor([3, 4])).sum().backward(); // gradient (3, 4), norm 5
 * assert.equal(clipGradNorm([w], 1), 5);
 * assert.ok(Math.abs(w.grad!.data[0] - 0.6) < 1e-15 && Math.abs(w.grad!.data[1] - 0.8) < 1e-15);
 * ```
 */
export function clipGradNorm(parameters: readonly Tensor[], maxNorm: number): number {
  if (!(typeof maxNorm === "number" && maxNorm > 0 && maxNorm < Infinity)) {
    throw new RangeError(`clipGradNorm: maxNorm must be a finite number > 0, got ${maxNorm}`);
  }
  let squares = 0;
  for (const p of parameters) {
    const g = p.grad?.data;
    if (g === undefined) continue;
    for (let i = 0; i < g.length; i++) squares += g[i] * g[i];
  }
  const norm = Math.sqrt(squares);
  if (!Number.isFinite(norm)) {
    throw new RangeError(`clipGradNorm: the gradients' norm is ${norm}, not a finite number`);
  }
  if (norm > maxNorm) {
    // PyTorch adds 1e-6 to the norm; dividing by the norm itself makes the new norm the limit.
    const scale = maxNorm / norm;
    for (const p of parameters) {
      const g = p.grad?.data;
      if (g === undefined) continue;
      for (let i = 0; i < g.length; i++) g[i] *= scale;
    }
  }
  return norm;
}
