/**
 * Mutation testing of the derivatives: each mutant is one small edit to the library (a local
 * derivative scaled by 1.001, a sign flipped, `+=` made `=`, a bias correction dropped…),
 * applied to a temporary copy of the repository; the tests that cover that code run on it,
 * and a mutant is *killed* when they fail. A mutant that survives them is run against the
 * whole suite before it is reported as a survivor. Not part of CI: it takes many minutes.
 *
 *     deno task mutants                      # every mutant
 *     deno task mutants --only crossEntropy  # mutants whose id contains a text
 *     deno task mutants --list               # the ids, without running anything
 *     deno task mutants --sample 3           # every third mutant (a representative subset)
 *
 * Besides the hand-written mutants below, one mutant is generated per entry of each op
 * registry (every scalar op's gradA and gradB, every tensor op's backward for each input,
 * scaled by 1.001), so an op added to a registry is mutation-tested without anyone listing it.
 *
 * @module
 */

import { ops } from "../lib/scalar/ops.ts";
import { tensorOps, type TensorOpSpec } from "../lib/tensor/ops.ts";

/** One edit of one file, and the tests that should notice it. */
interface Mutant {
  readonly id: string;
  /** "gross" (a wrong formula) or "subtle" (right formula, off by 0.1% or less). */
  readonly kind: "gross" | "subtle";
  readonly file: string;
  /** Exact text to replace; it must occur exactly once in the file. */
  readonly find: string;
  readonly replace: string;
  /** Test files (or folders) run first; survivors are re-run against the whole suite. */
  readonly tests: readonly string[];
  /** Why this mutant cannot be told apart from the original, when it cannot. */
  readonly equivalent?: string;
}

const SCALAR_TESTS = ["tests/scalar/"];
const TENSOR_TESTS = ["tests/tensor/", "tests/nn/modules_test.ts"];
const OPTIM_TESTS = ["tests/nn/optim_test.ts", "tests/nn/losses_optim_test.ts"];

const handWritten: readonly Mutant[] = [
  // ---- scalar engine: the chain rule in propagate, the seed, accumulation -------------
  {
    id: "value: a.grad = share (= for +=)",
    kind: "gross",
    file: "lib/scalar/value.ts",
    find: "  a.grad += gradA;",
    replace: "  a.grad = gradA;",
    tests: SCALAR_TESTS,
  },
  {
    id: "value: ∂/∂a share × 1.001",
    kind: "subtle",
    file: "lib/scalar/value.ts",
    find: "const gradA = op.gradA(a.data, bData, out.data) * out.grad;",
    replace: "const gradA = op.gradA(a.data, bData, out.data) * out.grad * 1.001;",
    tests: SCALAR_TESTS,
  },
  {
    id: "value: ∂/∂b share × 1.001",
    kind: "subtle",
    file: "lib/scalar/value.ts",
    find: "const gradB = op.gradB(a.data, bData, out.data) * out.grad;",
    replace: "const gradB = op.gradB(a.data, bData, out.data) * out.grad * 1.001;",
    tests: SCALAR_TESTS,
  },
  {
    id: "value: seed gradient 1.001",
    kind: "subtle",
    file: "lib/scalar/value.ts",
    find: "    this.grad = 1;",
    replace: "    this.grad = 1.001;",
    tests: SCALAR_TESTS,
  },
  {
    id: "value: leaves forget earlier gradients",
    kind: "gross",
    file: "lib/scalar/value.ts",
    find: "for (let i = 0; i < heldLeaves.length; i++) heldLeaves[i].grad += heldGrads[i];",
    replace: "for (let i = 0; i < heldLeaves.length; i++) heldLeaves[i].grad += 0 * heldGrads[i];",
    tests: SCALAR_TESTS,
  },
  {
    id: "ops: div ∂/∂b sign flipped",
    kind: "gross",
    file: "lib/scalar/ops.ts",
    find: "gradB: (_a, b, out) => -out / b,",
    replace: "gradB: (_a, b, out) => out / b,",
    tests: SCALAR_TESTS,
  },
  {
    id: "ops: tanh' = 1 + out²",
    kind: "gross",
    file: "lib/scalar/ops.ts",
    find: "gradA: (_a, _b, out) => 1 - out * out,",
    replace: "gradA: (_a, _b, out) => 1 + out * out,",
    tests: SCALAR_TESTS,
  },
  {
    id: "ops: gelu' drops the tanh-derivative term by 0.1%",
    kind: "subtle",
    file: "lib/scalar/ops.ts",
    find: "0.5 * a * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * a * a);",
    replace: "0.5 * a * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * a * a) * 1.001;",
    tests: SCALAR_TESTS,
  },
  // ---- scalar losses and gradient descent ------------------------------------------------
  {
    id: "losses: mse divides by 1.001·n",
    kind: "subtle",
    file: "lib/scalar/losses.ts",
    find: "return (total as Value).div(predictions.length);",
    replace: "return (total as Value).div(predictions.length * 1.001);",
    tests: ["tests/scalar/losses_test.ts", "tests/nn/losses_optim_test.ts"],
  },
  {
    id: "losses: binary cross-entropy × 1.001",
    kind: "subtle",
    file: "lib/scalar/losses.ts",
    find: "return (total as Value).mul(1 / logits.length);",
    replace: "return (total as Value).mul(1.001 / logits.length);",
    tests: ["tests/scalar/losses_test.ts"],
  },
  {
    id: "losses: hinge × 1.001",
    kind: "subtle",
    file: "lib/scalar/losses.ts",
    find: "return (total as Value).mul(1.0 / scores.length);",
    replace: "return (total as Value).mul(1.001 / scores.length);",
    tests: ["tests/scalar/losses_test.ts", "tests/examples/"],
  },
  {
    id: "losses: l2Penalty × 1.001",
    kind: "subtle",
    file: "lib/scalar/losses.ts",
    find: "return (total as Value).mul(coefficient);",
    replace: "return (total as Value).mul(coefficient * 1.001);",
    tests: ["tests/scalar/losses_test.ts", "tests/examples/"],
  },
  {
    id: "losses: softmax divides by 1.001·Σ",
    kind: "subtle",
    file: "lib/scalar/losses.ts",
    find: "return exps.map((e) => e.div(total));",
    replace: "return exps.map((e) => e.div(total.mul(1.001)));",
    tests: ["tests/scalar/losses_test.ts"],
  },
  {
    id: "gradientDescentStep: step × 1.001",
    kind: "subtle",
    file: "lib/scalar/gradient_descent.ts",
    find: "    p.data -= learningRate * p.grad;",
    replace: "    p.data -= learningRate * p.grad * 1.001;",
    tests: ["tests/nn/losses_optim_test.ts", "tests/scalar/linreg_test.ts"],
  },
  // ---- tensor engine ------------------------------------------------------------------
  {
    id: "tensor backward: a second consumer's gradient replaces the first (= for +=)",
    kind: "gross",
    file: "lib/tensor/tensor.ts",
    find: "for (let e = 0; e < g.length; e++) held[e] += g[e];",
    replace: "for (let e = 0; e < g.length; e++) held[e] = g[e];",
    tests: TENSOR_TESTS,
  },
  {
    id: "tensor backward: a second consumer's gradient × 1.001",
    kind: "subtle",
    file: "lib/tensor/tensor.ts",
    find: "for (let e = 0; e < g.length; e++) sum[e] = held[e] + g[e];",
    replace: "for (let e = 0; e < g.length; e++) sum[e] = held[e] + g[e] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "tensor element-wise binary: ∂/∂a × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "gx[i] = spec.gradA(x[i], y[i], z[i]) * grad[i];",
    replace: "gx[i] = spec.gradA(x[i], y[i], z[i]) * grad[i] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "tensor element-wise binary: ∂/∂b × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "gy[i] = spec.gradB(x[i], y[i], z[i]) * grad[i];",
    replace: "gy[i] = spec.gradB(x[i], y[i], z[i]) * grad[i] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "tensor element-wise unary: ∂/∂a × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "gx[i] = spec.gradA(x[i], 0, z[i]) * grad[i];",
    replace: "gx[i] = spec.gradA(x[i], 0, z[i]) * grad[i] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "broadcast: no sum over repeated axes (= for +=)",
    kind: "gross",
    file: "lib/tensor/_broadcast.ts",
    find: "for (let i = 0; i < grad.length; i++) out[map[i]] += grad[i];",
    replace: "for (let i = 0; i < grad.length; i++) out[map[i]] = grad[i];",
    tests: TENSOR_TESTS,
  },
  {
    id: "mean: 1/n dropped",
    kind: "gross",
    file: "lib/tensor/ops.ts",
    find: "return [spreadBackward(grad, layout, 1 / layout.size)];",
    replace: "return [spreadBackward(grad, layout, 1)];",
    tests: TENSOR_TESTS,
  },
  {
    id: "mean: 1.001/n",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "return [spreadBackward(grad, layout, 1 / layout.size)];",
    replace: "return [spreadBackward(grad, layout, 1.001 / layout.size)];",
    tests: TENSOR_TESTS,
  },
  {
    id: "max: gradient × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "for (let i = 0; i < positions.length; i++) gx[positions[i]] += grad[i];",
    replace: "for (let i = 0; i < positions.length; i++) gx[positions[i]] += grad[i] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "linear: bias gradient × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "for (let j = 0; j < outSize; j++) gb[j] += grad[r * outSize + j];",
    replace: "for (let j = 0; j < outSize; j++) gb[j] += grad[r * outSize + j] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "linear: bias gradient of the last row only (= for +=)",
    kind: "gross",
    file: "lib/tensor/ops.ts",
    find: "for (let j = 0; j < outSize; j++) gb[j] += grad[r * outSize + j];",
    replace: "for (let j = 0; j < outSize; j++) gb[j] = grad[r * outSize + j];",
    tests: TENSOR_TESTS,
  },
  {
    id: "softmax: Σ g·y × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "gx[base + k * inner] = y[base + k * inner] * (grad[base + k * inner] - dot);",
    replace: "gx[base + k * inner] = y[base + k * inner] * (grad[base + k * inner] - dot * 1.001);",
    tests: TENSOR_TESTS,
  },
  {
    id: "logSoftmax: softmax·Σg × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "gx[at] = grad[at] - Math.exp(y[at]) * total;",
    replace: "gx[at] = grad[at] - Math.exp(y[at]) * total * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "crossEntropy: backward × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "const scale = grad[0] / rowCount;",
    replace: "const scale = (grad[0] * 1.001) / rowCount;",
    tests: TENSOR_TESTS,
  },
  {
    id: "crossEntropy: onehot 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "gx[r * classes + targets.values[r]] -= 1;",
    replace: "gx[r * classes + targets.values[r]] -= 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "crossEntropy: 1/rows dropped",
    kind: "gross",
    file: "lib/tensor/ops.ts",
    find: "const scale = grad[0] / rowCount;",
    replace: "const scale = grad[0];",
    tests: TENSOR_TESTS,
  },
  {
    id: "layerNorm: bias gradient × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "if (gb !== null) gb[i] += grad[base + i];",
    replace: "if (gb !== null) gb[i] += grad[base + i] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "layerNorm: weight gradient × 1.001",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "if (gw !== null) gw[i] += grad[base + i] * normalized[base + i];",
    replace: "if (gw !== null) gw[i] += grad[base + i] * normalized[base + i] * 1.001;",
    tests: TENSOR_TESTS,
  },
  {
    id: "layerNorm: mean(d) × 1.001 in ∂/∂x",
    kind: "subtle",
    file: "lib/tensor/ops.ts",
    find: "gx[base + i] = inverseStd[r] * (d - meanD - normalized[base + i] * meanDN);",
    replace: "gx[base + i] = inverseStd[r] * (d - meanD * 1.001 - normalized[base + i] * meanDN);",
    tests: TENSOR_TESTS,
  },
  {
    id: "layerNorm: the n·mean(d·n) term dropped",
    kind: "gross",
    file: "lib/tensor/ops.ts",
    find: "gx[base + i] = inverseStd[r] * (d - meanD - normalized[base + i] * meanDN);",
    replace: "gx[base + i] = inverseStd[r] * (d - meanD);",
    tests: TENSOR_TESTS,
  },
  // ---- optimizers ---------------------------------------------------------------------
  {
    id: "SGD: step × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "      next[i] = theta[i] - lr * g;",
    replace: "      next[i] = theta[i] - lr * g * 1.001;",
    tests: OPTIM_TESTS,
  },
  {
    id: "SGD: momentum buffer decays by 1.001·μ",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "bNext[i] = mu * b[i] + g;",
    replace: "bNext[i] = mu * 1.001 * b[i] + g;",
    tests: OPTIM_TESTS,
  },
  {
    id: "SGD: Nesterov look-ahead × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "g = this.nesterov ? g + mu * bNext[i] : bNext[i];",
    replace: "g = this.nesterov ? g + mu * bNext[i] * 1.001 : bNext[i];",
    tests: OPTIM_TESTS,
  },
  {
    id: "SGD: weight decay × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "      if (lambda > 0) g = g + lambda * theta[i];",
    replace: "      if (lambda > 0) g = g + lambda * 1.001 * theta[i];",
    tests: OPTIM_TESTS,
  },
  {
    id: "Adam: first moment (1 − β₁)·g × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "mNext[i] = beta1 * m[i] + (1 - beta1) * g;",
    replace: "mNext[i] = beta1 * m[i] + (1 - beta1) * g * 1.001;",
    tests: OPTIM_TESTS,
  },
  {
    id: "Adam: second moment (1 − β₂)·g² × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "vNext[i] = beta2 * v[i] + (1 - beta2) * g * g;",
    replace: "vNext[i] = beta2 * v[i] + (1 - beta2) * g * g * 1.001;",
    tests: OPTIM_TESTS,
  },
  {
    id: "Adam: no bias correction of the first moment",
    kind: "gross",
    file: "lib/nn/optim.ts",
    find: "const correction1 = 1 - Math.pow(beta1, t);",
    replace: "const correction1 = 1;",
    tests: OPTIM_TESTS,
  },
  {
    id: "Adam: step × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "next[i] = decayed - lr * mHat / (Math.sqrt(vHat) + eps);",
    replace: "next[i] = decayed - lr * 1.001 * mHat / (Math.sqrt(vHat) + eps);",
    tests: OPTIM_TESTS,
  },
  {
    id: "Adam: L2 (coupled) weight decay × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "if (lambda > 0 && !decoupled) g = g + lambda * theta[i];",
    replace: "if (lambda > 0 && !decoupled) g = g + lambda * 1.001 * theta[i];",
    tests: OPTIM_TESTS,
  },
  {
    id: "AdamW: decoupled weight decay × 1.001",
    kind: "subtle",
    file: "lib/nn/optim.ts",
    find: "decoupled && lambda > 0 ? theta[i] - lr * lambda * theta[i] : theta[i];",
    replace: "decoupled && lambda > 0 ? theta[i] - lr * lambda * 1.001 * theta[i] : theta[i];",
    tests: OPTIM_TESTS,
  },
];

/** One mutant per scalar registry entry and derivative: gradA (and gradB) × 1.001. */
function scalarRegistryMutants(): Mutant[] {
  const mutants: Mutant[] = [];
  for (const [key, spec] of Object.entries(ops)) {
    const which = `spec.name === ${JSON.stringify(spec.name)} && ` +
      `(spec.constantB ?? false) === ${spec.constantB}`;
    const derivatives = spec.arity === 2 && !spec.constantB ? ["gradA", "gradB"] : ["gradA"];
    for (const d of derivatives) {
      mutants.push({
        id: `scalar registry: ${key}.${d} × 1.001`,
        kind: "subtle",
        file: "lib/scalar/ops.ts",
        find: `    ${d}: spec.${d},\n`,
        replace: `    ${d}: ${which} ? (a: number, b: number, out: number) => ` +
          `spec.${d}(a, b, out) * 1.001 : spec.${d},\n`,
        tests: ["tests/scalar/ops_test.ts"],
      });
    }
  }
  return mutants;
}

/** One mutant per tensor registry entry and input: that input's gradient × 1.001. */
function tensorRegistryMutants(): Mutant[] {
  const mutants: Mutant[] = [];
  const seen = new Map<string, number>();
  const registry = Object.entries(tensorOps) as [string, TensorOpSpec][];
  for (const [, spec] of registry) {
    const signature = `${spec.name}/${spec.arity}`;
    seen.set(signature, (seen.get(signature) ?? 0) + 1);
  }
  for (const [key, spec] of registry) {
    const signature = `${spec.name}/${spec.arity}`;
    if (seen.get(signature) !== 1) {
      console.warn(`tensor registry: ${key} shares name and arity (${signature}); skipped`);
      continue;
    }
    const inputCount = Math.max(...spec.cases.map((c) => c.inputs.length));
    for (let k = 0; k < inputCount; k++) {
      const which = `spec.name === ${JSON.stringify(spec.name)} && ` +
        `spec.arity === ${JSON.stringify(spec.arity)}`;
      mutants.push({
        id: `tensor registry: ${key} input ${k} gradient × 1.001`,
        kind: "subtle",
        file: "lib/tensor/ops.ts",
        find: "    backward: spec.backward,\n",
        replace:
          `    backward: ${which} ? (context: BackwardContext<P>) => spec.backward(context)` +
          `.map((g, i) => g === null || i !== ${k} ? g : g.map((v) => v * 1.001)) ` +
          `: spec.backward,\n`,
        tests: ["tests/tensor/ops_test.ts"],
      });
    }
  }
  return mutants;
}

// ---------------------------------------------------------------------------------------

const COPIED = [
  "lib",
  "tests",
  "examples",
  "bench",
  "data",
  "docs",
  "mod.ts",
  "deno.json",
  "deno.lock",
];

function parseArguments(args: readonly string[]) {
  let only: string | undefined;
  let sample = 1;
  let list = false;
  let timeout = 600;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--only") only = args[++i];
    else if (args[i] === "--sample") sample = Number(args[++i]);
    else if (args[i] === "--timeout") timeout = Number(args[++i]);
    else if (args[i] === "--list") list = true;
    else throw new RangeError(`mutants: unknown argument ${args[i]}`);
  }
  if (!Number.isInteger(sample) || sample < 1) {
    throw new RangeError(`mutants: --sample needs an integer ≥ 1, got ${sample}`);
  }
  return { only, sample, list, timeout };
}

async function run(cwd: string, paths: readonly string[], timeout: number): Promise<boolean> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", "--quiet", ...paths],
    cwd,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout * 1000);
  const status = await child.status;
  clearTimeout(timer);
  return status.success;
}

const { only, sample, list, timeout } = parseArguments(Deno.args);
const everyMutant = [...scalarRegistryMutants(), ...tensorRegistryMutants(), ...handWritten]
  .filter((m) => only === undefined || m.id.includes(only))
  .filter((_, i) => i % sample === 0);

if (list) {
  for (const m of everyMutant) console.log(`${m.kind.padEnd(6)} ${m.id}`);
  Deno.exit(0);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const root = new URL("..", import.meta.url).pathname;
const copy = await Deno.makeTempDir({ prefix: "dcslm-mutants-" });
const cp = await new Deno.Command("cp", {
  args: ["-a", ...COPIED.map((p) => `${root}${p}`).filter(exists), copy],
}).output();
if (!cp.success) throw new Error(`mutants: copying the repository failed`);

console.log(`${everyMutant.length} mutants, on a copy in ${copy}`);
const survivors: Mutant[] = [];
const notApplied: Mutant[] = [];
let killed = 0;
let equivalent = 0;
const started = performance.now();
try {
  // The unmutated suite must pass, or every mutant would look killed.
  if (!(await run(copy, ["tests/scalar/ops_test.ts", "tests/tensor/ops_test.ts"], timeout))) {
    throw new Error("mutants: the tests fail without any mutant");
  }
  for (const m of everyMutant) {
    const path = `${copy}/${m.file}`;
    const original = await Deno.readTextFile(path);
    if (original.split(m.find).length !== 2) {
      notApplied.push(m);
      console.log(`n/a      ${m.id} (the text to replace is not in ${m.file} exactly once)`);
      continue;
    }
    await Deno.writeTextFile(path, original.replace(m.find, () => m.replace));
    const t0 = performance.now();
    try {
      let survived = await run(copy, m.tests, timeout);
      if (survived) survived = await run(copy, [], timeout); // the whole suite
      const seconds = ((performance.now() - t0) / 1000).toFixed(0);
      if (!survived) {
        killed++;
        console.log(`killed   ${m.id} (${seconds} s)`);
      } else if (m.equivalent !== undefined) {
        equivalent++;
        console.log(`equiv.   ${m.id}: ${m.equivalent}`);
      } else {
        survivors.push(m);
        console.log(`SURVIVED ${m.id} (${seconds} s)`);
      }
    } finally {
      await Deno.writeTextFile(path, original);
    }
  }
} finally {
  await Deno.remove(copy, { recursive: true });
}

const applied = everyMutant.length - notApplied.length;
const scored = applied - equivalent;
const minutes = ((performance.now() - started) / 60000).toFixed(1);
const subtle = everyMutant.filter((m) => m.kind === "subtle" && !notApplied.includes(m));
const subtleKilled = subtle.filter((m) => !survivors.includes(m) && m.equivalent === undefined);
console.log(
  `\nkilled ${killed} of ${scored} non-equivalent mutants (${
    (100 * killed / Math.max(1, scored)).toFixed(1)
  }%); subtle (≤ 0.1%) ones: ${subtleKilled.length} of ${subtle.length}; ` +
    `${equivalent} equivalent, ${notApplied.length} not applicable; ${minutes} min`,
);
for (const m of survivors) console.log(`survivor: ${m.id} (${m.file})`);
if (survivors.length > 0) Deno.exit(1);
