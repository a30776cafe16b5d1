import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { gradcheck } from "../../lib/scalar/gradcheck.ts";
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  hinge,
  l2Penalty,
  logSumExp,
  mse,
  softmax,
} from "../../lib/scalar/losses.ts";
import { Value } from "../../lib/scalar/value.ts";

const logit = fc.double({ min: -8, max: 8, noNaN: true });
const logits = fc.array(logit, { minLength: 1, maxLength: 5 });

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual}, expected ${expected}`,
  );
}

Deno.test("mse: mean of squared errors, gradient 2(p − t)/n", () => {
  const p = [new Value(3), new Value(-1)];
  const loss = mse(p, [1, 1]);
  loss.backward();
  assert.equal(loss.data, (4 + 4) / 2);
  assert.deepEqual(p.map((v) => v.grad), [2, -2]);
  assert.throws(() => mse([1], [1, 2]), {
    name: "RangeError",
    message: "mse: 1 predictions but 2 targets",
  });
  assert.throws(() => mse([], []), { name: "RangeError", message: "mse: no predictions" });
  assert.throws(() => mse(["1" as unknown as number], [1]), { name: "TypeError" });
});

Deno.test("binaryCrossEntropyWithLogits", async (t) => {
  await t.step("equals −y·log σ(z) − (1 − y)·log(1 − σ(z)), averaged", () => {
    fc.assert(fc.property(logits, fc.array(fc.double({ min: 0, max: 1, noNaN: true })), (z, ys) => {
      const y = z.map((_, i) => ys[i] ?? 0.5);
      const naive = z.reduce((s, zi, i) => {
        const p = 1 / (1 + Math.exp(-zi));
        return s - y[i] * Math.log(p) - (1 - y[i]) * Math.log(1 - p);
      }, 0) / z.length;
      close(binaryCrossEntropyWithLogits(z, y).data, naive, 1e-9, "bce");
    }));
  });
  await t.step("gradient σ(z) − y over n, and gradcheck", () => {
    fc.assert(fc.property(logits, fc.double({ min: 0, max: 1, noNaN: true }), (z, y) => {
      const targets = z.map((_, i) => (i === 0 ? y : i % 2));
      const leaves = z.map((v) => new Value(v));
      binaryCrossEntropyWithLogits(leaves, targets).backward();
      leaves.forEach((leaf, i) => {
        const expected = (1 / (1 + Math.exp(-z[i])) - targets[i]) / z.length;
        close(leaf.grad, expected, 1e-15, `grad ${i}`);
      });
      gradcheck((...xs) => binaryCrossEntropyWithLogits(xs, targets), z);
    }));
  });
  await t.step("logits of ±1000 give finite losses and saturated gradients", () => {
    const z = [new Value(1000), new Value(-1000), new Value(1000), new Value(-1000)];
    const loss = binaryCrossEntropyWithLogits(z, [0, 1, 1, 0]);
    loss.backward();
    assert.equal(loss.data, (1000 + 1000 + 0 + 0) / 4);
    assert.deepEqual(z.map((v) => v.grad), [0.25, -0.25, 0, 0]);
  });
  await t.step("bad targets and lists are refused", () => {
    for (const y of [-0.1, 1.5, NaN]) {
      assert.throws(() => binaryCrossEntropyWithLogits([0], [y]), {
        name: "RangeError",
        message: `binaryCrossEntropyWithLogits: target 0 must be a number in [0, 1], got ${y}`,
      });
    }
    assert.throws(() => binaryCrossEntropyWithLogits([0, 1], [1]), {
      name: "RangeError",
      message: "binaryCrossEntropyWithLogits: 2 logits but 1 targets",
    });
    assert.throws(() => binaryCrossEntropyWithLogits([], []), { message: /no logits/ });
    assert.throws(() => binaryCrossEntropyWithLogits([{} as Value], [1]), {
      name: "TypeError",
      message: /^binaryCrossEntropyWithLogits: expected a Value or a number, got object/,
    });
  });
});

Deno.test("logSumExp and softmax", async (t) => {
  await t.step("match the naive formulas where those do not overflow", () => {
    fc.assert(fc.property(logits, (z) => {
      const sum = z.reduce((s, zi) => s + Math.exp(zi), 0);
      close(logSumExp(z).data, Math.log(sum), 1e-12, "logSumExp");
      const p = softmax(z);
      p.forEach((pi, i) => close(pi.data, Math.exp(z[i]) / sum, 1e-14, `softmax ${i}`));
      close(p.reduce((s, pi) => s + pi.data, 0), 1, 1e-14, "Σ softmax");
    }));
  });
  await t.step("gradients: ∂lse/∂z = softmax(z); gradcheck of both", () => {
    fc.assert(fc.property(logits, fc.nat(), (z, pick) => {
      const leaves = z.map((v) => new Value(v));
      logSumExp(leaves).backward();
      const p = softmax(z).map((v) => v.data);
      leaves.forEach((leaf, i) => close(leaf.grad, p[i], 1e-14, `grad ${i}`));
      gradcheck((...xs) => logSumExp(xs), z);
      gradcheck((...xs) => softmax(xs)[pick % z.length], z);
    }));
  });
  await t.step("logits of ±1000 stay finite", () => {
    const z = [new Value(1000), new Value(-1000), new Value(999)];
    const lse = logSumExp(z);
    lse.backward();
    close(lse.data, 1000 + Math.log1p(Math.exp(-1)), 1e-12, "lse");
    close(z[0].grad, 1 / (1 + Math.exp(-1)), 1e-15, "grad of the largest");
    assert.equal(z[1].grad, 0);
    const p = softmax([1000, -1000]);
    assert.deepEqual(p.map((v) => v.data), [1, 0]);
    const q = softmax([-1000, -1000]);
    assert.deepEqual(q.map((v) => v.data), [0.5, 0.5]);
  });
  await t.step("empty logits are refused", () => {
    assert.throws(() => logSumExp([]), { name: "RangeError", message: "logSumExp: no logits" });
    assert.throws(() => softmax([]), { name: "RangeError", message: "softmax: no logits" });
  });
});

Deno.test("crossEntropy", async (t) => {
  await t.step("= −log softmax(z)[target], gradient softmax − onehot", () => {
    fc.assert(fc.property(logits, fc.nat(), (z, pick) => {
      const target = pick % z.length;
      const leaves = z.map((v) => new Value(v));
      const loss = crossEntropy(leaves, target);
      loss.backward();
      const p = softmax(z).map((v) => v.data);
      close(loss.data, -Math.log(p[target]), 1e-12, "loss");
      leaves.forEach((leaf, i) =>
        close(leaf.grad, p[i] - (i === target ? 1 : 0), 1e-14, `grad ${i}`)
      );
      gradcheck((...xs) => crossEntropy(xs, target), z);
    }));
  });
  await t.step("logits of ±1000 give finite losses and gradients", () => {
    const z = [new Value(1000), new Value(-1000)];
    const wrong = crossEntropy(z, 1);
    wrong.backward();
    assert.equal(wrong.data, 2000);
    assert.deepEqual(z.map((v) => v.grad), [1, -1]);
    const right = crossEntropy([1000, -1000], 0);
    assert.equal(right.data, 0);
  });
  await t.step("a target outside the classes is refused", () => {
    for (const target of [-1, 2, 0.5, NaN]) {
      assert.throws(() => crossEntropy([1, 2], target), {
        name: "RangeError",
        message: `crossEntropy: target must be an integer index in [0, 2), got ${target}`,
      });
    }
    assert.throws(() => crossEntropy([1, "x" as unknown as number], 0), { name: "TypeError" });
  });
});

Deno.test("hinge: micrograd's max-margin loss", async (t) => {
  await t.step("values: (Σ relu(1 − yᵢsᵢ)) · (1/n), folded left", () => {
    assert.equal(hinge([2, 0.5, -0.5], [1, 1, 1]).data, (0 + 0.5 + 1.5) * (1 / 3));
    assert.equal(hinge([-3], [-1]).data, 0);
    // W1's formulation, bit for bit: relu(1 + (−y)·s), summed in order, times 1/n.
    fc.assert(fc.property(fc.array(logit, { minLength: 1, maxLength: 8 }), (s) => {
      const y = s.map((_, i) => (i % 3 === 0 ? 1 : -1));
      let sum = 0;
      s.forEach((si, i) => (sum = sum + Math.max(1 + (-y[i]) * si, 0)));
      assert.equal(hinge(s, y).data, sum * (1.0 / s.length));
    }));
  });
  await t.step("gradient −y/n inside the margin, 0 outside; gradcheck away from the kink", () => {
    const s = [new Value(0.5), new Value(2)];
    hinge(s, [1, 1]).backward();
    assert.deepEqual(s.map((v) => v.grad), [-0.5, 0]);
    const score = fc.double({ min: -3, max: 3, noNaN: true }).filter((x) =>
      Math.abs(Math.abs(x) - 1) > 1e-3
    );
    fc.assert(fc.property(fc.array(score, { minLength: 1, maxLength: 5 }), (xs) => {
      const y = xs.map((_, i) => (i % 2 ? 1 : -1));
      gradcheck((...v) => hinge(v, y), xs);
    }));
  });
  await t.step("labels must be ±1", () => {
    assert.throws(() => hinge([1], [0]), {
      name: "RangeError",
      message: "hinge: label 0 must be -1 or 1, got 0",
    });
    assert.throws(() => hinge([1, 2], [1]), {
      name: "RangeError",
      message: "hinge: 2 scores but 1 targets",
    });
    assert.throws(() => hinge([], []), { name: "RangeError", message: "hinge: no scores" });
  });
});

Deno.test("l2Penalty: coefficient · Σ p², gradient 2·coefficient·p", () => {
  fc.assert(
    fc.property(
      fc.array(logit, { minLength: 1, maxLength: 6 }),
      fc.double({ min: 0, max: 2, noNaN: true }),
      (ps, c) => {
        const leaves = ps.map((p) => new Value(p));
        const penalty = l2Penalty(leaves, c);
        penalty.backward();
        let sum = 0;
        for (const p of ps) sum = sum + p * p;
        assert.equal(penalty.data, sum * c);
        leaves.forEach((leaf, i) => close(leaf.grad, 2 * c * ps[i], 1e-12, `grad ${i}`));
      },
    ),
  );
  for (const c of [-1, NaN, Infinity]) {
    assert.throws(() => l2Penalty([new Value(1)], c), {
      name: "RangeError",
      message: `l2Penalty: coefficient must be a finite number ≥ 0, got ${c}`,
    });
  }
  assert.throws(() => l2Penalty([], 1), {
    name: "RangeError",
    message: "l2Penalty: no parameters",
  });
});
