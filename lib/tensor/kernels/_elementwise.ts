/**
 * The loops under the element-wise ops, over operands that broadcast by repetition.
 *
 * Most broadcasts in a network repeat a whole operand along the leading axes: a scalar, a
 * bias row added to every row, a position table added to every sequence of a batch, or an
 * operand of the result's own shape. Result element i then reads element i mod p of an
 * operand of p elements, which two counters follow without an index map and without copying
 * the operand out to the result's size. (Other broadcasts are materialised first and come
 * here with p equal to the result's size.)
 *
 * Every loop applies a scalar registry op (`forward`, `gradA`, `gradB`) element by element,
 * so an op's calculus is written once, in the scalar registry. {@link binaryLoops} and
 * {@link unaryLoops} make such loops for any op, but one loop shared by every op calls
 * `spec.forward` from one call site that reaches them all: V8 then makes a full
 * (megamorphic) call per element. The commonest ops of a network (`add`, `sub`, `mul`,
 * `tanh`, `exp`, `gelu`) get loops of their own in {@link hotLoops}: the same loop written once per
 * op, so that each call site sees one function, which V8 inlines.
 *
 * GELU (the activation of every transformer MLP) is among them; its registry form already
 * costs one `Math.exp` an element rather than a `Math.tanh`.
 *
 * These loops are also the reference of the WebAssembly SIMD kernels (`simd.ts`), which run
 * the hot ops' forward instead where they were measured to be faster.
 *
 * @module
 */

import { ops, type OpSpec } from "../../scalar/ops.ts";
import type { FloatArray } from "../_dtype.ts";

/** Loops of one binary element-wise op over operands repeated with periods `px` and `py`. */
export interface BinaryLoops {
  /** `out[i] = f(x[i mod px], y[i mod py])` for every i below `out.length`. */
  forward(x: FloatArray, px: number, y: FloatArray, py: number, out: FloatArray): void;
  /**
   * Adds `∂f/∂(operand)(x, y, z[i]) · grad[i]` into `g[i mod p]` of the first operand
   * (`which` 0, p = px) or the second (1, p = py), for every i below `grad.length`: the
   * gradient of a repeated operand, summed over its repetitions in order.
   */
  backward(
    which: 0 | 1,
    x: FloatArray,
    px: number,
    y: FloatArray,
    py: number,
    z: FloatArray,
    grad: Float64Array,
    g: Float64Array,
  ): void;
  /**
   * Optional: `g[i] = ∂f/∂(operand)(x[i], y[i], z[i]) · grad[i]` for operands and result of
   * one shape, all float32: the local derivative times the gradient computed in float64 as
   * `backward` does, then rounded once by the float32 store (the gradient of a float32
   * tensor that stays float32 through backward).
   */
  backward32?(
    which: 0 | 1,
    x: Float32Array,
    y: Float32Array,
    z: Float32Array,
    grad: Float32Array,
    g: Float32Array,
  ): void;
  /**
   * Optional: which operands have a local derivative of exactly 1 everywhere (add's both,
   * sub's first), so that an operand of the result's shape may be handed the result's own
   * gradient instead of one computed element by element.
   */
  readonly unitSlope?: readonly [boolean, boolean];
}

/** Loops of one unary element-wise op. */
export interface UnaryLoops {
  /** `out[i] = f(x[i])`. */
  forward(x: FloatArray, out: FloatArray): void;
  /** `g[i] = f′(x[i]) · grad[i]`, the derivative taken at x[i] with result z[i]. */
  backward(x: FloatArray, z: FloatArray, grad: Float64Array, g: Float64Array): void;
  /**
   * Optional: `backward` on float32 arrays, each element computed in float64 as `backward`
   * does and rounded once by the float32 store.
   */
  backward32?(x: Float32Array, z: Float32Array, grad: Float32Array, g: Float32Array): void;
}

/** The loops of binary scalar registry op `spec`, shared by every op that has none of its own. */
export function binaryLoops(spec: OpSpec): BinaryLoops {
  return {
    forward(x, px, y, py, out) {
      for (let i = 0, a = 0, b = 0; i < out.length; i++) {
        out[i] = spec.forward(x[a], y[b]);
        if (++a === px) a = 0;
        if (++b === py) b = 0;
      }
    },
    backward(which, x, px, y, py, z, grad, g) {
      const local = which === 0 ? spec.gradA : spec.gradB;
      for (let i = 0, a = 0, b = 0; i < grad.length; i++) {
        g[which === 0 ? a : b] += local(x[a], y[b], z[i]) * grad[i];
        if (++a === px) a = 0;
        if (++b === py) b = 0;
      }
    },
  };
}

/** The loops of unary scalar registry op `spec`, shared by every op that has none of its own. */
export function unaryLoops(spec: OpSpec): UnaryLoops {
  return {
    forward(x, out) {
      for (let i = 0; i < out.length; i++) out[i] = spec.forward(x[i], 0);
    },
    backward(x, z, grad, g) {
      for (let i = 0; i < g.length; i++) g[i] = spec.gradA(x[i], 0, z[i]) * grad[i];
    },
  };
}

// The hot ops' loops. Each is `binaryLoops` or `unaryLoops` with the op fixed (keep them so).

const { add, sub, mul, tanh, exp, gelu } = ops;

/** Loops of their own for the commonest ops (see the module documentation). */
export const hotLoops: {
  readonly binary: Readonly<Record<"add" | "sub" | "mul", BinaryLoops>>;
  readonly unary: Readonly<Record<"gelu" | "tanh" | "exp", UnaryLoops>>;
} = {
  binary: {
    add: {
      unitSlope: [true, true],
      forward(x, px, y, py, out) {
        for (let i = 0, a = 0, b = 0; i < out.length; i++) {
          out[i] = add.forward(x[a], y[b]);
          if (++a === px) a = 0;
          if (++b === py) b = 0;
        }
      },
      backward(which, x, px, y, py, z, grad, g) {
        for (let i = 0, a = 0, b = 0; i < grad.length; i++) {
          if (which === 0) g[a] += add.gradA(x[a], y[b], z[i]) * grad[i];
          else g[b] += add.gradB(x[a], y[b], z[i]) * grad[i];
          if (++a === px) a = 0;
          if (++b === py) b = 0;
        }
      },
      backward32(which, x, y, z, grad, g) {
        for (let i = 0; i < grad.length; i++) {
          if (which === 0) g[i] = add.gradA(x[i], y[i], z[i]) * grad[i];
          else g[i] = add.gradB(x[i], y[i], z[i]) * grad[i];
        }
      },
    },
    sub: {
      unitSlope: [true, false],
      forward(x, px, y, py, out) {
        for (let i = 0, a = 0, b = 0; i < out.length; i++) {
          out[i] = sub.forward(x[a], y[b]);
          if (++a === px) a = 0;
          if (++b === py) b = 0;
        }
      },
      backward(which, x, px, y, py, z, grad, g) {
        for (let i = 0, a = 0, b = 0; i < grad.length; i++) {
          if (which === 0) g[a] += sub.gradA(x[a], y[b], z[i]) * grad[i];
          else g[b] += sub.gradB(x[a], y[b], z[i]) * grad[i];
          if (++a === px) a = 0;
          if (++b === py) b = 0;
        }
      },
      backward32(which, x, y, z, grad, g) {
        for (let i = 0; i < grad.length; i++) {
          if (which === 0) g[i] = sub.gradA(x[i], y[i], z[i]) * grad[i];
          else g[i] = sub.gradB(x[i], y[i], z[i]) * grad[i];
        }
      },
    },
    mul: {
      forward(x, px, y, py, out) {
        for (let i = 0, a = 0, b = 0; i < out.length; i++) {
          out[i] = mul.forward(x[a], y[b]);
          if (++a === px) a = 0;
          if (++b === py) b = 0;
        }
      },
      backward(which, x, px, y, py, z, grad, g) {
        for (let i = 0, a = 0, b = 0; i < grad.length; i++) {
          if (which === 0) g[a] += mul.gradA(x[a], y[b], z[i]) * grad[i];
          else g[b] += mul.gradB(x[a], y[b], z[i]) * grad[i];
          if (++a === px) a = 0;
          if (++b === py) b = 0;
        }
      },
      backward32(which, x, y, z, grad, g) {
        for (let i = 0; i < grad.length; i++) {
          if (which === 0) g[i] = mul.gradA(x[i], y[i], z[i]) * grad[i];
          else g[i] = mul.gradB(x[i], y[i], z[i]) * grad[i];
        }
      },
    },
  },
  unary: {
    gelu: {
      forward(x, out) {
        for (let i = 0; i < out.length; i++) out[i] = gelu.forward(x[i], 0);
      },
      backward(x, z, grad, g) {
        for (let i = 0; i < g.length; i++) g[i] = gelu.gradA(x[i], 0, z[i]) * grad[i];
      },
      backward32(x, z, grad, g) {
        for (let i = 0; i < g.length; i++) g[i] = gelu.gradA(x[i], 0, z[i]) * grad[i];
      },
    },
    tanh: {
      forward(x, out) {
        for (let i = 0; i < out.length; i++) out[i] = tanh.forward(x[i], 0);
      },
      backward(x, z, grad, g) {
        for (let i = 0; i < g.length; i++) g[i] = tanh.gradA(x[i], 0, z[i]) * grad[i];
      },
      backward32(x, z, grad, g) {
        for (let i = 0; i < g.length; i++) g[i] = tanh.gradA(x[i], 0, z[i]) * grad[i];
      },
    },
    exp: {
      forward(x, out) {
        for (let i = 0; i < out.length; i++) out[i] = exp.forward(x[i], 0);
      },
      backward(x, z, grad, g) {
        for (let i = 0; i < g.length; i++) g[i] = exp.gradA(x[i], 0, z[i]) * grad[i];
      },
      backward32(x, z, grad, g) {
        for (let i = 0; i < g.length; i++) g[i] = exp.gradA(x[i], 0, z[i]) * grad[i];
      },
    },
  },
};
