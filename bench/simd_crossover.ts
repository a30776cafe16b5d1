/**
 * Where the SIMD kernels (lib/tensor/kernels/simd.ts) beat the plain TypeScript loops, per
 * op, element type and size, copies into and out of the kernels' memory included: the
 * figures that `SIMD_FROM` is set from. Each cell times the TypeScript path and the SIMD path
 * in alternating rounds and prints the median ratio (TypeScript time / SIMD time: above 1
 * the kernel wins).
 *
 *   deno run bench/simd_crossover.ts --rounds 5 --sizes 16,64,256,1024,4096,16384,65536
 *
 * Rows of the row-wise ops (softmax, layer norm) are 64 wide, a transformer's embedding; with
 * `--row` the binary ops' second operand is such a row, repeated (a bias).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { hotLoops } from "../lib/tensor/kernels/_elementwise.ts";
import {
  firstNonFinite,
  setSimdMode,
  simdKernels,
  type SimdOp,
} from "../lib/tensor/kernels/simd.ts";
import { tensorOps } from "../lib/tensor/ops.ts";
import { TensorAdamW } from "../lib/lm/adamw.ts";
import { AdamW } from "../lib/nn/optim.ts";
import { Tensor } from "../lib/tensor/tensor.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    sizes: { type: "string", default: "16,64,256,1024,4096,16384,65536" },
    ops: { type: "string", default: "" },
    row: { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const sizes = values.sizes.split(",").map(Number);
const WIDTH = 64;

type Dtype = "float64" | "float32";
type Paths = { ts: () => void; simd: () => void };

function random(n: number, dtype: Dtype, scale = 4) {
  const data = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = (Math.random() - 0.5) * scale;
  return data;
}

/** The two paths of `op` on `n` elements (null: no such case). */
function paths(op: SimdOp, dtype: Dtype, n: number): Paths | null {
  const out = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  switch (op) {
    case "add":
    case "sub":
    case "mul": {
      // `--row`: the second operand a row of 64 repeated (a bias), else of the result's size.
      const py = values.row ? WIDTH : n;
      if (n % py !== 0) return null;
      const [x, y] = [random(n, dtype), random(py, dtype)];
      return {
        ts: () => hotLoops.binary[op].forward(x, n, y, py, out),
        simd: () => simdKernels.binary(op, x, n, y, py, out),
      };
    }
    case "exp":
    case "tanh":
    case "gelu": {
      const x = random(n, dtype);
      // GELU of float32 arrays: the float32 kernel, as routed.
      const simd = op === "gelu" && x instanceof Float32Array
        ? () => simdKernels.gelu32(x, out as Float32Array)
        : () => simdKernels.unary(op, x, out);
      return { ts: () => hotLoops.unary[op].forward(x, out), simd };
    }
    case "softmax":
    case "layerNormForward":
    case "layerNormBackward": {
      if (n % WIDTH !== 0) return null;
      const rows = n / WIDTH;
      const x = { data: random(n, dtype), shape: [rows, WIDTH] };
      if (op === "softmax") {
        const run = () => tensorOps.softmax.forward([x], { axis: -1 });
        return { ts: inMode("never", run), simd: inMode("always", run) };
      }
      const inputs = [x, { data: random(WIDTH, dtype), shape: [WIDTH] }, {
        data: random(WIDTH, dtype),
        shape: [WIDTH],
      }];
      const forward = () => tensorOps.layerNorm.forward(inputs, { eps: 1e-5 });
      if (op === "layerNormForward") {
        return { ts: inMode("never", forward), simd: inMode("always", forward) };
      }
      const result = tensorOps.layerNorm.forward(inputs, { eps: 1e-5 });
      // The float32 gradient's backward for float32 (as a float32 model's), else float64's.
      if (dtype === "float32") {
        const grad32 = random(n, "float32") as Float32Array;
        const backward32 = () =>
          tensorOps.layerNorm.backwardFloat32!(
            {
              grad: grad32,
              inputs,
              out: { data: result.data, shape: result.shape },
              saved: result.saved,
              needs: [true, true, true],
              params: { eps: 1e-5 },
            } as Parameters<NonNullable<typeof tensorOps.layerNorm.backwardFloat32>>[0],
          );
        return { ts: inMode("never", backward32), simd: inMode("always", backward32) };
      }
      const grad = random(n, "float64") as Float64Array;
      const backward = () =>
        tensorOps.layerNorm.backward(
          {
            grad,
            inputs,
            out: { data: result.data, shape: result.shape },
            saved: result.saved,
            needs: [true, true, true],
            params: { eps: 1e-5 },
          } as Parameters<typeof tensorOps.layerNorm.backward>[0],
        );
      return { ts: inMode("never", backward), simd: inMode("always", backward) };
    }
    case "adam": {
      const w = new Tensor(random(n, dtype), [n], { requiresGrad: true, dtype });
      w.mul(w).sum().backward();
      const optimizer = new TensorAdamW(new Map([["w", w]]), { learningRate: 1e-6 });
      const step = () => optimizer.step();
      return { ts: inMode("never", step), simd: inMode("always", step) };
    }
    case "nonFinite": {
      const x = random(n, dtype);
      const test = () => firstNonFinite(x);
      return { ts: inMode("never", test), simd: inMode("always", test) };
    }
    case "adamFlat": {
      // nn's AdamW: every parameter gathered into one Float64Array, updated, scattered back.
      const w = new Tensor(random(n, dtype), [n], { requiresGrad: true, dtype });
      w.mul(w).sum().backward();
      const optimizer = new AdamW([w], { learningRate: 1e-6 });
      const step = () => optimizer.step();
      return { ts: inMode("never", step), simd: inMode("always", step) };
    }
  }
}

/** `run` with the SIMD kernels in `mode`: "never" is the TypeScript path, "always" the SIMD. */
function inMode(mode: "always" | "never", run: () => unknown): () => void {
  return () => {
    setSimdMode(mode);
    try {
      run();
    } finally {
      setSimdMode("measured");
    }
  };
}

/** ms per call of `run`, over calls enough for about 4 ms. */
function time(run: () => void, calls: number): number {
  const start = performance.now();
  for (let c = 0; c < calls; c++) run();
  return (performance.now() - start) / calls;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const ops: SimdOp[] = values.ops === ""
  ? [
    "add",
    "sub",
    "mul",
    "exp",
    "tanh",
    "gelu",
    "softmax",
    "layerNormForward",
    "layerNormBackward",
    "adam",
    "adamFlat",
    "nonFinite",
  ]
  : values.ops.split(",") as SimdOp[];

console.log(
  `TypeScript time / SIMD time, median of ${rounds} alternating rounds (> 1: SIMD faster)`,
);
console.log(["op", "dtype", ...sizes.map(String)].join("\t"));
const table: Record<string, Record<string, Record<number, number>>> = {};
for (const op of ops) {
  for (const dtype of ["float64", "float32"] as const) {
    const cells: string[] = [];
    for (const n of sizes) {
      const p = paths(op, dtype, n);
      if (p === null) {
        cells.push("-");
        continue;
      }
      for (let w = 0; w < 20; w++) { // warm-up: both paths compiled
        p.ts();
        p.simd();
      }
      const calls = Math.max(1, Math.ceil(4 / Math.max(1e-4, time(p.ts, 3))));
      const ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const ts = time(p.ts, calls);
        const simd = time(p.simd, calls);
        ratios.push(ts / simd);
      }
      const ratio = median(ratios);
      ((table[op] ??= {})[dtype] ??= {})[n] = ratio;
      cells.push(ratio.toFixed(2));
    }
    console.log([op, dtype, ...cells].join("\t"));
  }
}
console.log(JSON.stringify(table));
