import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { twoMoons } from "../../lib/util/datasets.ts";
import { Lcg32, Random } from "../../lib/util/random.ts";
import { sha256OfFloat64 } from "../_sha256.ts";

Deno.test("twoMoons: the defaults are W1's data, bit for bit", async (t) => {
  const { points, labels } = twoMoons({ seed: 1337 });
  await t.step("first and last points as WORKLOADS.md states them", () => {
    assert.equal(points.length, 100);
    assert.deepEqual(points[0], [0.9484151679556817, -0.07467068885453046]);
    assert.deepEqual(points[99], [1.9841241117101163, 0.3722491614054888]);
  });
  await t.step("labels: 50 outer at −1, then 50 inner at +1", () => {
    assert.deepEqual(labels, [...Array(50).fill(-1), ...Array(50).fill(1)]);
  });
  await t.step("SHA-256 of X then y", async () => {
    const flat = [...points.flat(), ...labels];
    assert.equal(
      await sha256OfFloat64(flat),
      "4255e15935c6536da8a4bee4a9c197f18fd301d6407963d39326f24257ef0be1",
    );
  });
  await t.step("the explicit W1 options give the same data", () => {
    assert.deepEqual(twoMoons({ samples: 100, noise: 0.1, seed: 1337 }), { points, labels });
    assert.deepEqual(twoMoons({ source: new Lcg32(1337) }), { points, labels });
  });
});

Deno.test("twoMoons: without noise the points lie on the two half circles", () => {
  fc.assert(fc.property(fc.integer({ min: 4, max: 60 }), (samples) => {
    const { points, labels } = twoMoons({ samples, noise: 0 });
    const outer = Math.floor(samples / 2);
    assert.equal(points.length, samples);
    assert.equal(labels.filter((y) => y === -1).length, outer);
    for (let j = 0; j < samples; j++) {
      const inner = j >= outer;
      const i = inner ? j - outer : j;
      const t = (Math.PI * i) / ((inner ? samples - outer : outer) - 1);
      // The polynomial cosine and sine agree with Math's to a couple of ulps on [0, π].
      const [x, y] = points[j];
      const expected = inner
        ? [1 - Math.cos(t), 1 - Math.sin(t) - 0.5]
        : [Math.cos(t), Math.sin(t)];
      assert.ok(Math.abs(x - expected[0]) < 1e-15, `x of point ${j}: ${x} vs ${expected[0]}`);
      assert.ok(Math.abs(y - expected[1]) < 1e-15, `y of point ${j}: ${y} vs ${expected[1]}`);
      assert.equal(labels[j], inner ? 1 : -1);
    }
  }));
});

Deno.test("twoMoons: noise scales with its option and follows the source", () => {
  const clean = twoMoons({ samples: 400, noise: 0 }).points;
  const offsets = (noise: number, seed: number) =>
    twoMoons({ samples: 400, noise, seed }).points.flatMap((p, j) => [
      p[0] - clean[j][0],
      p[1] - clean[j][1],
    ]);
  const small = offsets(0.1, 5);
  const std = Math.sqrt(small.reduce((s, d) => s + d * d, 0) / small.length);
  assert.ok(Math.abs(std - 0.1) < 0.01, `noise standard deviation ${std}`);
  assert.ok(Math.max(...small.map(Math.abs)) <= 0.6, "Irwin–Hall noise is bounded by 6σ");
  const large = offsets(0.3, 5);
  large.forEach((d, i) => assert.ok(Math.abs(d - 3 * small[i]) < 1e-12));
  assert.notDeepEqual(offsets(0.1, 6), small);
  const fromRandom = twoMoons({ samples: 10, source: new Random(3) });
  assert.deepEqual(fromRandom, twoMoons({ samples: 10, source: new Random(3) }));
  assert.notDeepEqual(fromRandom, twoMoons({ samples: 10, seed: 1337 }));
});

Deno.test("twoMoons: refuses bad options, naming them", () => {
  for (const samples of [3, 0, -4, 10.5, NaN]) {
    assert.throws(() => twoMoons({ samples }), {
      name: "RangeError",
      message: `twoMoons: samples must be an integer ≥ 4, got ${samples}`,
    });
  }
  for (const noise of [-0.1, Infinity, NaN]) {
    assert.throws(() => twoMoons({ noise }), {
      name: "RangeError",
      message: `twoMoons: noise must be a finite number ≥ 0, got ${noise}`,
    });
  }
  // Noise needs a seed or a source; without noise there is nothing to draw.
  assert.throws(() => twoMoons({ samples: 10 }), /^RangeError: twoMoons: give a seed or a source/);
  assert.throws(
    () => twoMoons({ seed: 1, source: new Random(1) }),
    /^RangeError: twoMoons: give a seed or a source, not both$/,
  );
  assert.throws(
    () => twoMoons({ source: {} as Random }),
    /^TypeError: twoMoons: source must have a next\(\) method/,
  );
  assert.equal(twoMoons({ samples: 4, noise: 0 }).points.length, 4);
});
