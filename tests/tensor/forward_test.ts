import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { tensorOps, type TensorOpSpec } from "../../lib/tensor/ops.ts";
import { applyOp, Tensor } from "../../lib/tensor/tensor.ts";
import { drawnTensors, opCallArbitrary } from "./_tensor_arbitraries.ts";

// Each op's forward is compared with a plain reference written independently of it, from
// Math and the textbook loop: never the scalar registry's forward, which the tensor engine's
// element-wise ops are made of.

/** The multi-index of flat position `flat` in `shape`. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] = flat % shape[axis];
    flat = Math.floor(flat / shape[axis]);
  }
  return index;
}

/** The element of `t` that broadcasting reads at multi-index `index` of the result. */
function broadcastRead(t: Tensor, index: readonly number[]): number {
  const offset = index.length - t.rank;
  let flat = 0;
  for (let axis = 0; axis < t.rank; axis++) {
    const i = t.shape[axis] === 1 ? 0 : index[axis + offset];
    flat = flat * t.shape[axis] + i;
  }
  return t.data[flat];
}

/**
 * Element-wise references, from the textbook formula. Written for every element-wise op the
 * registry has (and a few it may gain); a registry op without one fails the test below.
 */
const mathReference: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  neg: (a) => -a,
  exp: (a) => Math.exp(a),
  log: (a) => Math.log(a),
  sqrt: (a) => Math.sqrt(a),
  tanh: (a) => (Math.exp(2 * a) - 1) / (Math.exp(2 * a) + 1),
  relu: (a) => Math.max(a, 0),
  sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  gelu: (a) => 0.5 * a * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (a + 0.044715 * a ** 3))),
  abs: (a) => (a < 0 ? -a : a),
  sin: (a) => Math.sin(a),
  cos: (a) => Math.cos(a),
  softplus: (a) => Math.log(1 + Math.exp(a)),
  maximum: (a, b) => (a > b ? a : b),
  minimum: (a, b) => (a < b ? a : b),
};

/** Within a few units in the last place of the reference (formulas round differently). */
function close(got: number, expected: number): boolean {
  return Math.abs(got - expected) <= 8 * Number.EPSILON * Math.max(1, Math.abs(expected));
}

function forEachCall(
  op: TensorOpSpec,
  check: (inputs: Tensor[], params: unknown, out: Tensor) => void,
): void {
  for (const c of op.cases) {
    fc.assert(
      fc.property(opCallArbitrary(c), (call) => {
        const inputs = drawnTensors(call);
        check(inputs, call.params, applyOp(op, inputs, call.params));
      }),
      { numRuns: 30 },
    );
  }
}

Deno.test("element-wise ops match their Math reference element by element, broadcast", async (t) => {
  const elementwise = (Object.entries(tensorOps) as [string, TensorOpSpec][])
    .filter(([, op]) => op.elementwise && op.cases.every((c) => c.params === undefined));
  for (const [name, op] of elementwise) {
    await t.step(name, () => {
      const reference = mathReference[name];
      assert.ok(reference, `element-wise op ${name} has no Math reference in forward_test.ts`);
      forEachCall(op, (inputs, _p, out) => {
        for (let i = 0; i < out.size; i++) {
          const index = unravel(i, out.shape);
          const a = broadcastRead(inputs[0], index);
          const b = inputs.length > 1 ? broadcastRead(inputs[1], index) : 0;
          assert.ok(close(out.data[i], reference(a, b)), `${name}(${a}, ${b}) = ${out.data[i]}`);
        }
      });
    });
  }
  await t.step("powConst", () => {
    forEachCall(tensorOps.powConst as TensorOpSpec, (inputs, params, out) => {
      const { exponent } = params as { exponent: number };
      inputs[0].data.forEach((x, i) => {
        let expected = 1;
        // A whole exponent by repeated multiplication; any other through exp and log.
        if (Number.isInteger(exponent)) {
          for (let k = 0; k < Math.abs(exponent); k++) expected *= x;
          if (exponent < 0) expected = 1 / expected;
        } else {
          expected = Math.exp(exponent * Math.log(x));
        }
        const tolerance = 64 * Number.EPSILON * Math.max(1, Math.abs(expected));
        assert.ok(Math.abs(out.data[i] - expected) <= tolerance, `${x} ** ${exponent}`);
      });
    });
  });
});

Deno.test("matmul and linear match the textbook triple loop", () => {
  forEachCall(tensorOps.matmul as TensorOpSpec, ([a, b], _p, out) => {
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.rank - 1];
    for (let i = 0; i < out.size; i++) {
      const index = unravel(i, out.shape);
      const [r, c] = index.slice(-2);
      let expected = 0;
      for (let p = 0; p < k; p++) {
        expected += broadcastRead(a, [...index.slice(0, -2), r, p]) *
          broadcastRead(b, [...index.slice(0, -2), p, c]);
      }
      assert.ok(Math.abs(out.data[i] - expected) <= 1e-12 * (1 + Math.abs(expected)));
      assert.ok(r < m && c < n);
    }
  });
  forEachCall(tensorOps.linear as TensorOpSpec, ([x, w, b], _p, out) => {
    const [outSize, inSize] = w.shape;
    for (let i = 0; i < out.size; i++) {
      const row = Math.floor(i / outSize);
      const j = i % outSize;
      let act = b === undefined ? 0 : b.data[j];
      for (let p = 0; p < inSize; p++) {
        act = act + w.data[j * inSize + p] * x.data[row * inSize + p];
      }
      assert.equal(out.data[i], act); // the same fold, bit for bit
    }
  });
});

Deno.test("reductions, softmax and logSoftmax match direct loops over each slice", () => {
  const slices = (x: Tensor, axis: number | undefined): number[][] => {
    if (axis === undefined) return [Array.from(x.data)];
    const a = axis < 0 ? axis + x.rank : axis;
    const groups = new Map<string, number[]>();
    for (let i = 0; i < x.size; i++) {
      const index = unravel(i, x.shape);
      index[a] = -1;
      const key = index.join();
      groups.set(key, [...(groups.get(key) ?? []), x.data[i]]);
    }
    return [...groups.values()];
  };
  const reducers: [string, (xs: number[]) => number][] = [
    ["sum", (xs) => xs.reduce((s, v) => s + v, 0)],
    ["mean", (xs) => xs.reduce((s, v) => s + v, 0) / xs.length],
    ["max", (xs) => Math.max(...xs)],
    ["min", (xs) => Math.min(...xs)],
  ];
  for (const [name, reduce] of reducers) {
    forEachCall(tensorOps[name as "sum"] as TensorOpSpec, ([x], params, out) => {
      const { axis } = params as { axis?: number };
      const expected = slices(x, axis).map(reduce);
      assert.deepEqual(Array.from(out.data), expected, name);
    });
  }
  forEachCall(tensorOps.softmax as TensorOpSpec, ([x], params, out) => {
    const { axis } = params as { axis: number };
    const got = slices(out, axis);
    slices(x, axis).forEach((xs, s) => {
      const total = xs.reduce((acc, v) => acc + Math.exp(v), 0);
      xs.forEach((v, k) => assert.ok(Math.abs(got[s][k] - Math.exp(v) / total) < 1e-15));
    });
  });
  forEachCall(tensorOps.logSoftmax as TensorOpSpec, ([x], params, out) => {
    const { axis } = params as { axis: number };
    const got = slices(out, axis);
    slices(x, axis).forEach((xs, s) => {
      const lse = Math.log(xs.reduce((acc, v) => acc + Math.exp(v), 0));
      xs.forEach((v, k) => assert.ok(Math.abs(got[s][k] - (v - lse)) < 1e-14));
    });
  });
});

Deno.test("permute moves every element to its permuted index", () => {
  forEachCall(tensorOps.permute as TensorOpSpec, ([x], params, out) => {
    const axes = (params as { axes: number[] }).axes.map((a) => (a < 0 ? a + x.rank : a));
    for (let i = 0; i < out.size; i++) {
      const index = unravel(i, out.shape);
      const source = new Array<number>(x.rank);
      axes.forEach((a, k) => (source[a] = index[k]));
      assert.equal(out.data[i], broadcastRead(x, source));
    }
  });
});

Deno.test("clamp, where, squeeze and unsqueeze match direct definitions", () => {
  forEachCall(tensorOps.clamp as TensorOpSpec, ([x], params, out) => {
    const { min = -Infinity, max = Infinity } = params as { min?: number; max?: number };
    x.data.forEach((v, i) => assert.equal(out.data[i], v < min ? min : v > max ? max : v));
  });
  forEachCall(tensorOps.where as TensorOpSpec, ([a, b], params, out) => {
    const { condition } = params as { condition: { values: number[]; shape: number[] } };
    const c = new Tensor(Float64Array.from(condition.values), condition.shape);
    for (let i = 0; i < out.size; i++) {
      const index = unravel(i, out.shape);
      const chosen = broadcastRead(c, index) !== 0 ? a : b;
      assert.equal(out.data[i], broadcastRead(chosen, index));
    }
  });
  forEachCall(tensorOps.squeeze as TensorOpSpec, ([x], params, out) => {
    const axis = (params as { axis?: number } | undefined)?.axis;
    const at = axis === undefined ? -1 : axis < 0 ? axis + x.rank : axis;
    const expected = x.shape.filter((s, i) => (at === -1 ? s !== 1 : i !== at));
    assert.deepEqual(out.shape, expected);
    assert.deepEqual(Array.from(out.data), Array.from(x.data));
  });
  forEachCall(tensorOps.unsqueeze as TensorOpSpec, ([x], params, out) => {
    const { axis } = params as { axis: number };
    const at = axis < 0 ? axis + x.rank + 1 : axis;
    assert.deepEqual(out.shape, [...x.shape.slice(0, at), 1, ...x.shape.slice(at)]);
    assert.deepEqual(Array.from(out.data), Array.from(x.data));
  });
});

Deno.test("tril keeps the lower triangle and fills the rest; dropout zeroes or rescales", () => {
  forEachCall(tensorOps.tril as TensorOpSpec, ([x], params, out) => {
    const { diagonal = 0, fill = 0 } = (params ?? {}) as { diagonal?: number; fill?: number };
    for (let i = 0; i < out.size; i++) {
      const index = unravel(i, out.shape);
      const [row, column] = index.slice(-2);
      assert.equal(out.data[i], column - row <= diagonal ? x.data[i] : fill);
    }
  });
  forEachCall(tensorOps.dropout as TensorOpSpec, ([x], params, out) => {
    const { p } = params as { p: number };
    x.data.forEach((v, i) => {
      const kept = v / (1 - p);
      assert.ok(out.data[i] === 0 || Math.abs(out.data[i] - kept) <= 1e-15 * Math.abs(kept));
    });
  });
});
