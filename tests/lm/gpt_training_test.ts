import assert from "node:assert/strict";
import fc from "fast-check";
import { GPT } from "../../lib/lm/gpt.ts";
import { AdamW } from "../../lib/nn/optim.ts";
import { clipGradNorm } from "../../lib/nn/clip.ts";
import { cosineWithWarmup } from "../../lib/nn/schedules.ts";
import { Tensor, tensor } from "../../lib/tensor/tensor.ts";

const SEED = 1128;

Deno.test("AdamW with nanoGPT's groups decays exactly the 2-D weights", () => {
  const model = new GPT({ vocabSize: 5, blockSize: 4, nLayer: 2, nHead: 2, nEmbd: 4, seed: 1 });
  const parameters = model.parameters();
  const lr = 0.1;
  const weightDecay = 0.5;
  const optimizer = new AdamW(parameters, {
    learningRate: lr,
    weightDecay,
    decays: (p) => p instanceof Tensor && p.rank >= 2,
  });
  // Biases start at 0 and LayerNorm shifts too: give every parameter a non-zero value so
  // that decay, where it applies, shows.
  for (const p of parameters) p.data.fill(2);
  optimizer.zeroGrad(); // no gradient: only the decay moves anything
  optimizer.step();
  const named = [...model.namedParameters()];
  const decayed = named.filter(([, p]) => p.data.every((v) => v === 2 - lr * weightDecay * 2));
  const kept = named.filter(([, p]) => p.data.every((v) => v === 2));
  assert.equal(decayed.length + kept.length, named.length);
  assert.deepEqual(
    decayed.map(([name]) => name),
    named.filter(([, p]) => p.rank === 2).map(([name]) => name),
  );
  // Embeddings (the tied head among them) and every Linear weight: 2 + 4 per block.
  assert.equal(decayed.length, 2 + 4 * 2);
  assert.ok(kept.every(([name]) => name.endsWith(".bias") || /ln_|ln_f/.test(name)));
  let flat = 0;
  for (const p of parameters) {
    const mask = optimizer.decayMask.subarray(flat, flat + p.size);
    assert.ok(mask.every((m) => m === (p.rank >= 2 ? 1 : 0)));
    flat += p.size;
  }
  // Without a filter every parameter decays, as before.
  assert.ok(new AdamW(parameters, { learningRate: lr }).decayMask.every((m) => m === 1));
});

Deno.test("the reference run's schedule: warm-up, middle and end", () => {
  const lr = cosineWithWarmup({ peak: 1e-3, final: 1e-4, warmupSteps: 100, totalSteps: 2000 });
  assert.equal(lr(0), 1e-3 * 1 / 100);
  assert.equal(lr(49), 1e-3 * 50 / 100);
  assert.equal(lr(99), 1e-3);
  assert.equal(lr(100), 1e-3); // the top of the cosine
  // Halfway through the decay the rate is halfway between peak and floor.
  assert.ok(Math.abs(lr(1050) - (1e-3 + 1e-4) / 2) < 1e-18);
  assert.ok(lr(1049) > lr(1050) && lr(1050) > lr(1051));
  assert.equal(lr(2000), 1e-4);
  assert.equal(lr(5000), 1e-4);
  assert.ok(Math.abs(lr(1999) - 1e-4) < 1e-9 && lr(1999) > 1e-4);
});

Deno.test("clipGradNorm scales the global norm to exactly the limit", () => {
  console.log(`clip seed ${SEED}`);
  fc.assert(
    fc.property(
      fc.array(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 6 }),
        { minLength: 1, maxLength: 4 },
      ),
      fc.double({ min: 0.01, max: 5, noNaN: true }),
      (grads, limit) => {
        const parameters = grads.map((g) => {
          const p = tensor(g.map(() => 0), { requiresGrad: true });
          p.mul(tensor(g)).sum().backward(); // gradient g
          return p;
        });
        const before = Math.hypot(...grads.flat());
        const norm = clipGradNorm(parameters, limit);
        assert.equal(norm, Math.sqrt(grads.flat().reduce((s, g) => s + g * g, 0)));
        const after = Math.sqrt(
          parameters.reduce((s, p) => s + p.grad!.data.reduce((t, g) => t + g * g, 0), 0),
        );
        if (before > limit) {
          assert.ok(Math.abs(after - limit) <= 1e-12 * limit, `${after} vs ${limit}`);
          // The direction is kept: every gradient scaled by the same factor.
          parameters.forEach((p, i) =>
            p.grad!.data.forEach((g, j) =>
              assert.ok(Math.abs(g - grads[i][j] * limit / norm) <= 1e-12 * Math.abs(grads[i][j]))
            )
          );
        } else {
          parameters.forEach((p, i) => assert.deepEqual(Array.from(p.grad!.data), grads[i]));
        }
      },
    ),
    { seed: SEED, numRuns: 200 },
  );
  const none = tensor([1], { requiresGrad: true }); // no gradient yet: counts as zeros
  assert.equal(clipGradNorm([none], 1), 0);
  assert.throws(
    () => clipGradNorm([none], 0),
    /clipGradNorm: maxNorm must be a finite number > 0, got 0/,
  );
  const huge = tensor([0, 0], { requiresGrad: true });
  huge.mul(tensor([1e200, 1e200])).sum().backward();
  assert.throws(() => clipGradNorm([huge], 1), /the gradients' norm is Infinity/);
});
