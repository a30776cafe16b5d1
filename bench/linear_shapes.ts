/**
 * The `linear` op alone on the names transformer's float32 shapes (512 rows; nEmbd 64: the
 * q/k/v projection 64 → 192, the attention output 64 → 64, the MLP 64 → 256 and 256 → 64, the
 * head 64 → 27): forward, and backward for ∂x (G·W), ∂W (Gᵀ·x) and ∂b (G summed over rows)
 * one at a time, in µs a call. With `--baseline <dir>` (another checkout of this repository,
 * e.g. from `git worktree add` or `git archive | tar -x`), its op runs too, alternating with
 * this one round by round in the same process, and each line gives the median of the
 * per-round ratios: on a shared machine, the comparison that survives the noise.
 *
 *   deno run -A bench/linear_shapes.ts [--rounds 7] [--calls 40] [--baseline ../main]
 *
 * Prints one JSON line per shape and part.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { tensorOps } from "../lib/tensor/ops.ts";
import { randn, type Tensor } from "../lib/tensor/tensor.ts";
import { releaseGradientArrays } from "../lib/tensor/_gradient_pool.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "7" },
    calls: { type: "string", default: "40" },
    baseline: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);

/** What the bench needs of a checkout: the op registry, randn and the gradient pool. */
interface Engine {
  readonly ops: typeof tensorOps;
  readonly randn: typeof randn;
  readonly release: typeof releaseGradientArrays;
}

async function loadEngine(dir: string): Promise<Engine> {
  const root = new URL(`${dir.replace(/\/$/, "")}/`, `file://${Deno.cwd()}/`);
  const ops = await import(new URL("lib/tensor/ops.ts", root).href);
  const tensor = await import(new URL("lib/tensor/tensor.ts", root).href);
  const pool = await import(new URL("lib/tensor/_gradient_pool.ts", root).href);
  return { ops: ops.tensorOps, randn: tensor.randn, release: pool.releaseGradientArrays };
}

const engines: Engine[] = [{ ops: tensorOps, randn, release: releaseGradientArrays }];
if (values.baseline !== undefined) engines.push(await loadEngine(values.baseline));

const ROWS = 512;
const SHAPES = [[64, 192], [64, 64], [64, 256], [256, 64], [64, 27]];
const PARTS = ["forward", "dx", "dW", "db"] as const;

/** One call of `part` of linear on [ROWS, inSize] · [outSize, inSize]ᵀ + [outSize]. */
function call(engine: Engine, inSize: number, outSize: number, part: string): () => void {
  const [x, w, b]: Tensor[] = [[ROWS, inSize], [outSize, inSize], [outSize]].map((shape, seed) =>
    engine.randn(shape, { seed, dtype: "float32" })
  );
  const grad = engine.randn([ROWS, outSize], { seed: 3, dtype: "float32" }).data;
  const op = engine.ops.linear;
  if (part === "forward") return () => void op.forward([x, w, b], undefined);
  const needs = [part === "dx", part === "dW", part === "db"];
  const context = { grad: grad as Float32Array, inputs: [x, w, b], saved: ROWS, needs, out: x };
  return () => engine.release(op.backwardFloat32!({ ...context, params: undefined }));
}

function microseconds(run: () => void): number {
  const start = performance.now();
  for (let i = 0; i < calls; i++) run();
  return ((performance.now() - start) / calls) * 1000;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

for (const [inSize, outSize] of SHAPES) {
  for (const part of PARTS) {
    const runs = engines.map((engine) => call(engine, inSize, outSize, part));
    runs.forEach((run) => microseconds(run)); // warm-up: compiled, pools filled
    const times = runs.map(() => [] as number[]);
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const t = runs.map((run) => microseconds(run));
      t.forEach((value, i) => times[i].push(value));
      if (t.length > 1) ratios.push(t[0] / t[1]);
    }
    console.log(JSON.stringify({
      bench: "linear_shapes",
      shape: `${ROWS}x${inSize}->${outSize}`,
      part,
      us: Math.round(median(times[0]) * 10) / 10,
      ...(runs.length > 1
        ? {
          baselineUs: Math.round(median(times[1]) * 10) / 10,
          ratio: Math.round(median(ratios) * 1000) / 1000,
        }
        : {}),
    }));
  }
}
