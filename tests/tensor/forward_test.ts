import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { ops } from "../../lib/scalar/ops.ts";
import { tensorOps, type TensorOpSpec } from "../../lib/tensor/ops.ts";
import { applyOp, type Tensor } from "../../lib/tensor/tensor.ts";
import { drawnTensors, opCallArbitrary } from "./_tensor_arbitraries.ts";

// Each op's forward is compared with a plain reference written independently of it: the
// scalar registry's functions, element by element, or the textbook loop.

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

const scalarTwin: Record<string, (a: number, b: number) => number> = {
  add: ops.add.forward,
  sub: ops.sub.forward,
  mul: ops.mul.forward,
  div: ops.div.forward,
  pow: ops.pow.forward,
  neg: ops.neg.forward,
  exp: ops.exp.forward,
  log: ops.log.forward,
  sqrt: ops.sqrt.forward,
  tanh: ops.tanh.forward,
  relu: ops.relu.forward,
  sigmoid: ops.sigmoid.forward,
  gelu: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};

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

Deno.test("element-wise ops match the scalar registry element by element, broadcast", async (t) => {
  for (const [name, scalar] of Object.entries(scalarTwin)) {
    await t.step(name, () => {
      forEachCall(tensorOps[name as keyof typeof tensorOps] as TensorOpSpec, (inputs, _p, out) => {
        for (let i = 0; i < out.size; i++) {
          const index = unravel(i, out.shape);
          const a = broadcastRead(inputs[0], index);
          const b = inputs.length > 1 ? broadcastRead(inputs[1], index) : 0;
          assert.equal(out.data[i], scalar(a, b));
        }
      });
    });
  }
  await t.step("powConst", () => {
    forEachCall(tensorOps.powConst as TensorOpSpec, (inputs, params, out) => {
      const { exponent } = params as { exponent: number };
      inputs[0].data.forEach((x, i) =>
        assert.equal(out.data[i], ops.powConst.forward(x, exponent))
      );
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
