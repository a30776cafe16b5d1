import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { Block, CausalSelfAttention, generate, GPT, type GPTConfig } from "../../lib/lm/gpt.ts";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";
import { type Tensor, tensor } from "../../lib/tensor/tensor.ts";
import type { Linear } from "../../lib/nn/modules.ts";
import { AdamW } from "../../lib/nn/optim.ts";
import {
  checkpointFromBytes,
  checkpointToBytes,
  loadParametersInto,
} from "../../lib/lm/checkpoint.ts";
import { sampleToken } from "../../lib/lm/sample.ts";
import { Random } from "../../lib/util/random.ts";

const TINY: GPTConfig = { vocabSize: 5, blockSize: 4, nLayer: 2, nHead: 2, nEmbd: 4, seed: 1 };
const SEED = 20261128;

/** A grid of `batch` × `time` tokens below `vocab`, from a small LCG. */
function tokens(batch: number, time: number, vocab: number, seed: number): number[][] {
  let state = seed;
  return Array.from({ length: batch }, () =>
    Array.from({ length: time }, () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % vocab;
    }));
}

/**
 * Makes `model` compute with `leaves` in place of its parameters (in `parameters()` order),
 * so that gradcheckTensor, which hands fresh leaves to the function it checks, sees every
 * parameter of the whole model. A tied head follows the token embedding's leaf.
 */
function bind(model: GPT, leaves: readonly Tensor[]): void {
  const named = new Map([...model.namedParameters().keys()].map((name, i) => [name, leaves[i]]));
  const set = (owner: object, key: string, name: string) => {
    const leaf = named.get(name);
    if (leaf !== undefined) Object.assign(owner, { [key]: leaf });
  };
  const linear = (l: Linear, name: string) => {
    set(l, "weight", `${name}.weight`);
    set(l, "bias", `${name}.bias`);
  };
  set(model.wte, "weight", "transformer.wte.weight");
  set(model.wpe, "weight", "transformer.wpe.weight");
  model.blocks.forEach((block, i) => {
    const at = `transformer.h.${i}`;
    set(block.ln1, "weight", `${at}.ln_1.weight`);
    set(block.ln1, "bias", `${at}.ln_1.bias`);
    linear(block.attn.cAttn, `${at}.attn.c_attn`);
    linear(block.attn.cProj, `${at}.attn.c_proj`);
    set(block.ln2, "weight", `${at}.ln_2.weight`);
    set(block.ln2, "bias", `${at}.ln_2.bias`);
    linear(block.cFc, `${at}.mlp.c_fc`);
    linear(block.cProj, `${at}.mlp.c_proj`);
  });
  set(model.lnF, "weight", "transformer.ln_f.weight");
  set(model.lnF, "bias", "transformer.ln_f.bias");
  set(model, "lmHead", model.config.tieWeights ? "transformer.wte.weight" : "lm_head.weight");
}

Deno.test("GPT: the whole model is gradient-checked on every parameter", async (t) => {
  console.log(`gpt gradcheck seed ${SEED}`);
  const x = tokens(2, 4, 5, SEED);
  const y = tokens(2, 4, 5, SEED + 1);
  const configs: [string, GPTConfig][] = [
    ["tied head, biases, GPT-2 init", { ...TINY, seed: 1 }],
    ["tied head, GPT-2 init scaled up", { ...TINY, seed: 2 }],
    ["own head, no biases, PyTorch init", {
      ...TINY,
      tieWeights: false,
      bias: false,
      init: "pytorch",
      seed: 3,
    }],
    ["one head, three layers", { ...TINY, nHead: 1, nLayer: 3, seed: 4 }],
  ];
  for (const [name, config] of configs) {
    await t.step(name, () => {
      const model = new GPT(config);
      const start = model.parameters().map((p) => p.detach());
      // GPT-2's 0.02 makes every gradient tiny; scaling the start point up checks the
      // derivatives where they are large too.
      if (name.includes("scaled up")) {
        for (const p of start) p.data.forEach((v, i) => p.data[i] = 20 * v);
      }
      const report = gradcheckTensor(
        (...leaves) => {
          bind(model, leaves);
          return model.forward(x, { targets: y }).loss!;
        },
        start,
        { atol: 1e-8, rtol: 1e-4 },
      );
      assert.ok(report.passed);
      const total = start.reduce((n, p) => n + p.size, 0);
      assert.equal(report.analytic.reduce((n, a) => n + a.length, 0), total);
      // Every parameter takes part: each has some non-zero derivative.
      report.analytic.forEach((a, i) => assert.ok(a.some((v) => v !== 0), `parameter ${i}`));
    });
  }
});

Deno.test("GPT: a later token never changes an earlier position's logits", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 6, maxLength: 6 }),
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: 6 }),
      (row, at, replacement) => {
        const model = new GPT({
          vocabSize: 7,
          blockSize: 6,
          nLayer: 2,
          nHead: 2,
          nEmbd: 8,
          seed: 5,
          init: "pytorch",
        });
        const changed = row.slice();
        changed[at] = replacement;
        const a = model.forward([row]).logits.data;
        const b = model.forward([changed]).logits.data;
        const before = at * 7;
        assert.deepEqual(Array.from(a.subarray(0, before)), Array.from(b.subarray(0, before)));
        if (replacement !== row[at]) {
          // The position itself (and those after it) do see the change.
          assert.notDeepEqual(Array.from(a.subarray(before)), Array.from(b.subarray(before)));
        }
      },
    ),
    { seed: SEED, numRuns: 40 },
  );
});

Deno.test("GPT: the tied head is the token embedding; its gradient sums both uses", () => {
  const tied = new GPT({ ...TINY, seed: 6, init: "pytorch" });
  assert.equal(tied.lmHead, tied.wte.weight);
  assert.equal(tied.parameters().filter((p) => p === tied.wte.weight).length, 1);
  const untied = new GPT({ ...TINY, seed: 6, init: "pytorch", tieWeights: false });
  // Same values everywhere, the untied head a copy of the embedding.
  untied.parameters().forEach((p, i) => {
    if (i < tied.parameters().length) p.data.set(tied.parameters()[i].data);
  });
  untied.lmHead.data.set(tied.wte.weight.data);
  const x = tokens(2, 4, 5, 7);
  const y = tokens(2, 4, 5, 8);
  const lossTied = tied.forward(x, { targets: y }).loss!;
  const lossUntied = untied.forward(x, { targets: y }).loss!;
  assert.equal(lossTied.item(), lossUntied.item());
  lossTied.backward();
  lossUntied.backward();
  const sum = untied.wte.weight.grad!.data.map((g, i) => g + untied.lmHead.grad!.data[i]);
  tied.wte.weight.grad!.data.forEach((g, i) => assert.ok(Math.abs(g - sum[i]) < 1e-15));
  assert.ok(untied.lmHead.grad!.data.some((g) => g !== 0));
  assert.equal(untied.parameterCount(), tied.parameterCount() + 5 * 4);
});

Deno.test("GPT: GPT-2 initialisation: std 0.02, residual projections 0.02/√(2·nLayer)", () => {
  const model = new GPT({ vocabSize: 64, blockSize: 64, nLayer: 8, nHead: 4, nEmbd: 64, seed: 9 });
  const std = (t: Tensor) => {
    let s = 0;
    for (const v of t.data) s += v * v;
    return Math.sqrt(s / t.size);
  };
  const near = (actual: number, expected: number) =>
    assert.ok(Math.abs(actual / expected - 1) < 0.05, `${actual} vs ${expected}`);
  near(std(model.wte.weight), 0.02);
  near(std(model.wpe.weight), 0.02);
  for (const block of model.blocks) {
    near(std(block.attn.cAttn.weight), 0.02);
    near(std(block.cFc.weight), 0.02);
    near(std(block.attn.cProj.weight), 0.02 / 4);
    near(std(block.cProj.weight), 0.02 / 4);
    assert.ok(block.cFc.bias!.data.every((v) => v === 0));
    assert.ok(block.ln1.weight.data.every((v) => v === 1));
  }
  // nanoGPT's shakespeare_char model at our vocabulary: 0.81M parameters.
  const ref = new GPT({ vocabSize: 74, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128, seed: 0 });
  assert.equal(ref.parameterCount(), 74 * 128 + 64 * 128 + 4 * (12 * 128 * 128 + 13 * 128) + 256);
});

Deno.test("GPT: logits with a key/value cache equal those of the whole sequence", () => {
  const model = new GPT({
    vocabSize: 6,
    blockSize: 8,
    nLayer: 2,
    nHead: 2,
    nEmbd: 8,
    seed: 10,
    init: "pytorch",
  });
  const row = [1, 4, 2, 5, 0, 3, 3];
  const whole = model.forward([row]).logits.data;
  const cache = model.newCache();
  const parts = [[1, 4, 2], [5], [0, 3], [3]];
  let at = 0;
  for (const part of parts) {
    const logits = model.forward([part], { cache }).logits.data;
    logits.forEach((v, i) => assert.ok(Math.abs(v - whole[at * 6 + i]) < 1e-12));
    at += part.length;
    assert.equal(cache.length, at);
  }
  assert.throws(() => model.forward([[1, 2]], { cache }), /positions 7..8 pass the block size 8/);
  cache.clear();
  assert.equal(cache.length, 0);
});

Deno.test("generate: cached and uncached give the same tokens, past the block size", () => {
  const model = new GPT({
    vocabSize: 7,
    blockSize: 6,
    nLayer: 2,
    nHead: 2,
    nEmbd: 8,
    seed: 11,
    init: "pytorch",
  });
  // A deterministic "sampler" that depends on every logit, so any difference shows.
  const pick = (logits: Float64Array) => {
    let h = 0;
    for (const v of logits) h = (h * 31 + Math.floor(Math.abs(v) * 1e6)) % 1000003;
    return h % 7;
  };
  for (const prompt of [[3], [1, 2, 3, 4, 5, 6, 0, 1]]) {
    const cached = [...generate(model, prompt, { maxNewTokens: 20, pick })];
    const uncached = [...generate(model, prompt, { maxNewTokens: 20, pick, cache: false })];
    assert.equal(cached.length, 20);
    assert.deepEqual(cached, uncached);
  }
  assert.ok(model.drop.training, "generation puts training mode back");
  assert.throws(() => [...generate(model, [], { maxNewTokens: 1, pick })], /prompt is empty/);
  assert.throws(
    () => [...generate(model, [1], { maxNewTokens: 1, pick: () => 9 })],
    /pick chose 9, not a token in \[0, 7\)/,
  );
  assert.throws(
    () => [...generate(model, [1], { maxNewTokens: -1, pick })],
    /maxNewTokens must be a whole number ≥ 0/,
  );
});

Deno.test("GPT: dropout is active in training and off in evaluation", () => {
  const model = new GPT({ ...TINY, dropout: 0.5, seed: 12 });
  const x = tokens(1, 4, 5, 13);
  const a = model.forward(x).logits.data;
  const b = model.forward(x).logits.data;
  assert.notDeepEqual(Array.from(a), Array.from(b));
  model.train(false);
  assert.deepEqual(
    Array.from(model.forward(x).logits.data),
    Array.from(model.forward(x).logits.data),
  );
});

Deno.test("GPT: parts and bad input", () => {
  const attention = new CausalSelfAttention({ nEmbd: 4, nHead: 2, seed: 1 });
  assert.equal(attention.parameters().length, 4);
  assert.ok(new Block({ nEmbd: 4, nHead: 1, seed: 1 }).attn instanceof CausalSelfAttention);
  // Nothing random is made without a seed or a source (the library's seeding policy).
  assert.throws(() => new GPT({ ...TINY, seed: undefined }), /GPT: give a seed or a source/);
  assert.throws(() => new Block({ nEmbd: 4, nHead: 1 }), /Block: give a seed or a source/);
  assert.throws(
    () => new CausalSelfAttention({ nEmbd: 4, nHead: 2 }),
    /CausalSelfAttention: give a seed or a source/,
  );
  assert.throws(
    () => new CausalSelfAttention({ nEmbd: 6, nHead: 4, seed: 1 }),
    /nHead must be a positive integer dividing nEmbd \(6\), got 4/,
  );
  assert.throws(
    () => new GPT({ ...TINY, nLayer: 0 }),
    /GPT: nLayer must be a positive integer, got 0/,
  );
  assert.throws(() => new GPT({ ...TINY, nHead: 3 }), /GPT: nHead \(3\) must divide nEmbd \(4\)/);
  assert.throws(() => new GPT({ ...TINY, dropout: 1 }), /GPT: dropout must be in \[0, 1\), got 1/);
  // @ts-expect-error: an unknown init is refused at run time too
  assert.throws(() => new GPT({ ...TINY, init: "xavier" }), /init must be "gpt2" or "pytorch"/);
  const model = new GPT(TINY);
  assert.throws(() => model.forward([[1, 2, 3, 4, 0]]), /positions 0..4 pass the block size 4/);
  assert.throws(() => model.forward([[1, 5]]), /token 5 at 1 is not in \[0, 5\)/);
  assert.throws(() => model.forward([[1, 2], [3]]), /idx row 1 has 1 tokens, row 0 has 2/);
  assert.throws(() => model.forward([]), /idx must be a non-empty array of rows/);
  assert.throws(() => model.forward([[]]), /idx rows are empty/);
  assert.throws(
    () => model.forward([[1, 2]], { targets: [[1]] }),
    /targets are 1×1, the input 1×2/,
  );
  assert.throws(() => model.forward(tensor([1, 2])), /idx must be \[B, T\], got \[2\]/);
  const { logits, loss } = model.forward(tensor([[1, 2]]), { targets: tensor([[2, 3]]) });
  assert.deepEqual(logits.shape, [1, 2, 5]);
  assert.ok(loss!.item() > 0);
});

Deno.test("GPT: a saved model reloads and generates the same text", () => {
  const config: GPTConfig = { vocabSize: 7, blockSize: 6, nLayer: 2, nHead: 2, nEmbd: 8, seed: 14 };
  const model = new GPT({ ...config, init: "pytorch" });
  // Train a little so the weights are not those of any fresh model.
  const optimizer = new AdamW(model.parameters(), { learningRate: 0.05 });
  for (let k = 0; k < 3; k++) {
    optimizer.zeroGrad();
    model.forward(tokens(2, 6, 7, 20 + k), { targets: tokens(2, 6, 7, 30 + k) }).loss!.backward();
    optimizer.step();
  }
  const bytes = checkpointToBytes({
    type: "gpt",
    config: { model: model.config },
    parameters: model.namedParameters(),
  });
  const saved = checkpointFromBytes(bytes);
  const reloaded = new GPT((saved.config as { model: GPTConfig }).model);
  assert.notDeepEqual(Array.from(reloaded.wte.weight.data), Array.from(model.wte.weight.data));
  loadParametersInto(reloaded.namedParameters(), saved, "gpt");
  const text = (m: GPT) => {
    const sampling = { random: new Random(3), temperature: 0.8, topK: 5 };
    return [...generate(m, [1, 2], {
      maxNewTokens: 15,
      pick: (logits) => sampleToken(logits, sampling),
    })];
  };
  assert.deepEqual(text(reloaded), text(model));
  assert.equal(reloaded.lmHead, reloaded.wte.weight, "the tie survives a reload");
});

Deno.test("GPT in float32: the float64 model's numbers within float32 accuracy, and it trains", () => {
  const config: GPTConfig = { ...TINY, blockSize: 8, nEmbd: 8, seed: 21 };
  const wide = new GPT(config);
  const narrow = new GPT({ ...config, dtype: "float32" });
  for (const p of narrow.parameters()) assert.equal(p.dtype, "float32");
  // The same draws, rounded: the float64 model given the rounded weights computes the same
  // function in float64, so the two differ only by float32 rounding along the way.
  wide.parameters().forEach((p, i) => p.data.set(narrow.parameters()[i].data));
  const x = tokens(2, 8, 5, 22);
  const y = tokens(2, 8, 5, 23);
  const loss32 = narrow.forward(x, { targets: y }).loss!;
  const loss64 = wide.forward(x, { targets: y }).loss!;
  assert.equal(loss32.dtype, "float32");
  // A few dozen float32 roundings deep: 64 float32 epsilons of the scale of the numbers.
  const tolerance = 64 * 2 ** -23;
  const lossGap = Math.abs(loss32.item() - loss64.item());
  assert.ok(lossGap <= tolerance * loss64.item(), `${loss32.item()} ${loss64.item()}`);
  loss32.backward();
  loss64.backward();
  narrow.parameters().forEach((p, i) => {
    const q = wide.parameters()[i];
    assert.equal(p.grad!.dtype, "float32");
    let scale = 0;
    for (const g of q.grad!.data) scale = Math.max(scale, Math.abs(g));
    for (let e = 0; e < p.size; e++) {
      const gap = Math.abs(p.grad!.data[e] - q.grad!.data[e]);
      assert.ok(gap <= tolerance * scale, `parameter ${i} element ${e}: ${gap} of ${scale}`);
    }
  });
  const optimizer = new AdamW(narrow.parameters(), { learningRate: 1e-2 });
  for (let step = 0; step < 20; step++) {
    optimizer.zeroGrad();
    narrow.forward(x, { targets: y }).loss!.backward();
    optimizer.step();
  }
  const after = narrow.forward(x, { targets: y }).loss!.item();
  assert.ok(after < loss32.item() - 0.5, `loss ${loss32.item()} → ${after}`);
  assert.throws(
    () => new GPT({ ...config, dtype: "float16" as "float32" }),
    /GPT: dtype must be "float64" or "float32", got float16/,
  );
});
