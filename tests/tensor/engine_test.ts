import assert from "node:assert/strict";
import { Lcg32, Random } from "../../lib/util/random.ts";
import {
  applyOp,
  arange,
  concat,
  crossEntropy,
  dropout,
  type DropoutOptions,
  fromScalar,
  full,
  gather,
  layerNorm,
  linear,
  noGrad,
  ones,
  rand,
  randn,
  selfAttention,
  stack,
  Tensor,
  tensor,
  tensorTopologicalOrder,
  zeros,
} from "../../lib/tensor/tensor.ts";
import { resolveReshape, tensorOps } from "../../lib/tensor/ops.ts";
import { gradcheckTensor, TensorGradcheckError } from "../../lib/tensor/gradcheck.ts";

Deno.test("creation: nested arrays, filled shapes, ranges, seeded draws", async (t) => {
  await t.step("tensor() reads nested arrays row-major", () => {
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(m.shape, [2, 3]);
    assert.deepEqual(m.strides, [3, 1]);
    assert.deepEqual(m.toArray(), [[1, 2, 3], [4, 5, 6]]);
    assert.equal(m.rank, 2);
    assert.equal(m.size, 6);
    const s = tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.toArray(), 2.5);
    assert.deepEqual(tensor([]).shape, [0]);
    assert.deepEqual(tensor([[]]).shape, [1, 0]);
  });
  await t.step("bad nested arrays are refused with the offending path", () => {
    assert.throws(
      () => tensor([[1, 2], [3]]),
      /tensor: ragged nested arrays: \[1\] should be an array of 2/,
    );
    assert.throws(
      () => tensor([[1, 2], 3] as number[][]),
      /ragged nested arrays: \[1\] should be an array of 2 \(as the first one at that depth\), got number 3/,
    );
    assert.throws(() => tensor([1, NaN]), /tensor: element \[1\] must be finite, got NaN/);
    assert.throws(
      () => tensor([1, "2"] as unknown as number[]),
      /tensor: element \[1\] must be a number, got string "2"/,
    );
  });
  await t.step("zeros, ones, full, fromScalar, arange", () => {
    assert.deepEqual(Array.from(zeros([2, 2]).data), [0, 0, 0, 0]);
    assert.deepEqual(Array.from(ones([3]).data), [1, 1, 1]);
    assert.deepEqual(Array.from(full([2], -4).data), [-4, -4]);
    assert.equal(fromScalar(3, { requiresGrad: true }).requiresGrad, true);
    assert.deepEqual(Array.from(arange(5).data), [0, 1, 2, 3, 4]);
    assert.deepEqual(Array.from(arange(0, { start: 1, step: -0.5 }).data), [1, 0.5]);
    assert.deepEqual(arange(0).shape, [0]);
    assert.throws(() => arange(3, { step: 0 }), /arange: step must not be 0/);
    assert.throws(() => arange(Infinity), /arange: operand must be finite, got Infinity/);
    assert.throws(() => full([2], NaN), /full: operand must be finite, got NaN/);
    assert.throws(() => zeros([2, -1]), /full: shape \[2,-1\] has size -1, not an integer ≥ 0/);
    assert.throws(
      () => zeros(3 as unknown as number[]),
      /full: shape must be an array of sizes, got 3/,
    );
    assert.throws(
      () => fromScalar("1" as unknown as number),
      /fromScalar: operand must be a number or a Tensor, got string "1"/,
    );
  });
  await t.step("rand and randn: seeded, reproducible, from a shared generator too", () => {
    assert.deepEqual(
      Array.from(randn([4], { seed: 5 }).data),
      Array.from(randn([4], { seed: 5 }).data),
    );
    assert.notDeepEqual(
      Array.from(rand([4], { seed: 5 }).data),
      Array.from(rand([4], { seed: 6 }).data),
    );
    const source = new Random(11);
    const a = rand([2], { source });
    const b = rand([2], { source });
    assert.notDeepEqual(Array.from(a.data), Array.from(b.data));
    const u = rand([1000], { source: new Lcg32(3) }).data;
    assert.ok(u.every((x) => x >= 0 && x < 1));
    const z = randn([4000], { seed: 1 });
    const variance = z.pow(2).mean().item() - z.mean().item() ** 2;
    assert.ok(Math.abs(variance - 1) < 0.1);
    // Any uniform source serves randn too (Box–Muller from its draws).
    const g = randn([4000], { source: new Lcg32(1) });
    assert.ok(Math.abs(g.pow(2).mean().item() - g.mean().item() ** 2 - 1) < 0.1);
    // No hidden default generator: a seed or a source is required, once.
    assert.throws(() => rand([2]), /^RangeError: rand: give a seed or a source/);
    assert.throws(() => randn([2], {}), /^RangeError: randn: give a seed or a source/);
    assert.throws(
      () => rand([2], { seed: 1, source: new Random(1) }),
      /^RangeError: rand: give a seed or a source, not both$/,
    );
    assert.throws(
      () => rand([2], { source: {} as Random }),
      /^TypeError: rand: source must have a next\(\) method/,
    );
  });
  await t.step("the constructor checks its storage", () => {
    assert.throws(
      () => new Tensor([1, 2] as unknown as Float64Array, [2]),
      /Tensor: data must be a Float64Array or a Float32Array, got an array of 2/,
    );
    assert.throws(
      () => new Tensor(new Float64Array(3), [2, 2]),
      /Tensor: shape \[2,2\] holds 4 elements, data has 3/,
    );
    assert.throws(
      () => new Tensor(new Float64Array([Infinity]), []),
      /Tensor: data at \[\] is Infinity, not a finite number/,
    );
    assert.throws(
      () => new Tensor(new Float64Array(1), [1], { requiresGrad: 1 as unknown as boolean }),
      /Tensor: requiresGrad must be a boolean, got number 1/,
    );
  });
});

Deno.test("broadcasting: NumPy rules, with numbers as scalar constants", () => {
  const a = tensor([[1], [2], [3]]);
  const b = tensor([10, 20]);
  assert.deepEqual(a.add(b).toArray(), [[11, 21], [12, 22], [13, 23]]);
  assert.deepEqual(a.mul(2).sub(1).toArray(), [[1], [3], [5]]);
  assert.deepEqual(tensor(2).div(b).toArray(), [0.2, 0.1]);
  assert.throws(
    () => tensor([[1, 2, 3]]).add(tensor([1, 2])),
    /add: shapes \[1,3\] and \[2\] do not broadcast: sizes 3 and 2 differ at axis 1 of the result/,
  );
  assert.throws(() => a.add(NaN), /add: operand must be finite, got NaN/);
  assert.throws(
    () => a.mul("2" as unknown as number),
    /mul: operand must be a number or a Tensor, got string "2"/,
  );
  // The broadcast input's gradient is summed over the axes it was repeated along.
  const bias = tensor([1, 2], { requiresGrad: true });
  tensor([[1, 1], [2, 2], [3, 3]]).mul(bias).sum().backward();
  assert.deepEqual(Array.from(bias.grad!.data), [6, 6]);
});

Deno.test("backward: leaves accumulate, interior tensors hold this pass only", () => {
  const x = tensor([1, 2, 3], { requiresGrad: true });
  const y = x.mul(x); // dy/dx = 2x, x used twice
  const loss = y.sum();
  loss.backward();
  assert.deepEqual(Array.from(x.grad!.data), [2, 4, 6]);
  loss.backward();
  assert.deepEqual(Array.from(x.grad!.data), [4, 8, 12]); // leaf: accumulated
  assert.deepEqual(Array.from(y.grad!.data), [1, 1, 1]); // interior: this pass
  assert.equal(loss.grad!.item(), 1);
  x.zeroGrad();
  assert.equal(x.grad, null);
  // A constant input gets no gradient and is not part of the walk.
  const c = tensor([5, 5, 5]);
  const z = x.mul(c).sum();
  assert.equal(tensorTopologicalOrder(z).length, 3);
  z.backward();
  assert.equal(c.grad, null);
  // A leaf that is itself the root.
  const s = fromScalar(2, { requiresGrad: true });
  s.backward();
  assert.equal(s.grad!.item(), 1);
});

Deno.test("backward: a non-scalar needs an explicit gradient of its shape", () => {
  const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
  const y = x.mul(3);
  assert.throws(
    () => y.backward(),
    /backward: the output has shape \[2,2\], not one element: pass a gradient of that shape/,
  );
  assert.throws(
    () => y.backward(tensor([1, 2])),
    /backward: gradient \[2\] does not match the output's shape \[2,2\]/,
  );
  assert.throws(
    () => y.backward([1, 2] as unknown as Tensor),
    /backward: expected a Tensor, got an array of 2/,
  );
  y.backward(tensor([[1, 0], [0, 2]]));
  assert.deepEqual(Array.from(x.grad!.data), [3, 0, 0, 6]);
  assert.throws(() => tensor([1]).backward(), /backward: this tensor does not require a gradient/);
});

Deno.test("backward: a gradient that is not finite is named and changes nothing", () => {
  const x = tensor([1e-6, 1], { requiresGrad: true });
  x.mul(1).sum().backward();
  const before = Array.from(x.grad!.data);
  // 1e300/x is 1e306 at 1e-6, but its derivative −1e300/x² is −1e312: beyond float64.
  const y = tensor(1e300).div(x).sum();
  assert.throws(
    () => y.backward(),
    /backward: the gradient reaching input 1 of div \(shape \[2\]\) is -Infinity at \[0\]/,
  );
  assert.deepEqual(Array.from(x.grad!.data), before);
  // Leaf accumulation that would overflow is refused too, and leaves the old gradient.
  const w = tensor([1], { requiresGrad: true });
  w.mul(1e308).sum().backward();
  assert.throws(
    () => w.mul(1e308).sum().backward(),
    /backward: the accumulated gradient of a leaf \[1\] would be Infinity at \[0\]/,
  );
  assert.deepEqual(Array.from(w.grad!.data), [1e308]);
});

Deno.test("forward: results that are not finite are refused, naming the op and the element", () => {
  assert.throws(
    () => tensor([[0, 800]]).exp(),
    /exp: result element \[0,1\] is Infinity \(input 800\), not a finite number \(input shapes \[1,2\]\)/,
  );
  assert.throws(() => tensor([1, -1]).log(), /log: result element \[1\] is NaN \(input -1\)/);
  // A zero denominator is kept at DEFAULT_EPS, as in the scalar engine: 0/eps is 0.
  assert.deepEqual(tensor([1, 0]).div(tensor([[1, 0]])).toArray(), [[1, 0]]);
  assert.throws(
    () => tensor([1, 1e300]).div(tensor([[1, 0]])),
    /div: result element \[0,1\] is Infinity, not a finite number \(input shapes \[2\], \[1,2\]\)/,
  );
  assert.throws(
    () => tensor([-1, 2]).pow(tensor(0.5)),
    /pow: a Tensor exponent needs a positive base \(d\/dy x\^y = x\^y·ln x\), got base -1 at \[0\]/,
  );
  assert.throws(() => tensor([-1]).pow(0.5), /pow: result element \[0\] is NaN \(input -1\)/);
  assert.deepEqual(tensor([-2]).pow(3).toArray(), [-8]);
  assert.throws(() => tensor([1]).pow(Infinity), /pow: operand must be finite/);
});

Deno.test("noGrad and detach: no graph is recorded", () => {
  const w = tensor([1, 2], { requiresGrad: true });
  const inner = noGrad(() => noGrad(() => w.mul(2)).add(w));
  assert.equal(inner.requiresGrad, false);
  assert.equal(inner.op, null);
  assert.equal(w.mul(2).requiresGrad, true); // the scope has ended
  assert.throws(() =>
    noGrad(() => {
      throw new Error("inside");
    }), /inside/);
  assert.equal(w.mul(2).requiresGrad, true); // ended even after a throw
  const d = w.detach();
  assert.equal(d.requiresGrad, false);
  assert.equal(d.data, w.data); // shares storage
});

Deno.test("reductions: axis, keepDims, negative axes, argmax", () => {
  const x = tensor([[1, 5, 2], [7, 0, 3]]);
  assert.deepEqual(x.sum().toArray(), 18);
  assert.deepEqual(x.sum({ axis: 0 }).toArray(), [8, 5, 5]);
  assert.deepEqual(x.sum({ axis: -1, keepDims: true }).toArray(), [[8], [10]]);
  assert.deepEqual(x.sum({ keepDims: true }).shape, [1, 1]);
  assert.deepEqual(x.mean({ axis: 1 }).toArray(), [8 / 3, 10 / 3]);
  assert.deepEqual(x.max({ axis: 0 }).toArray(), [7, 5, 3]);
  assert.deepEqual(x.max().toArray(), 7);
  assert.deepEqual(x.argmax({ axis: 1 }).toArray(), [1, 0]);
  assert.deepEqual(x.argmax({ axis: 0 }).toArray(), [1, 0, 1]);
  assert.deepEqual(x.argmax().toArray(), 3);
  assert.deepEqual(tensor([2, 2, 1]).argmax().toArray(), 0); // the first of ties
  assert.equal(x.argmax().requiresGrad, false);
  assert.throws(
    () => x.sum({ axis: 2 }),
    /sum: axis 2 is out of range for shape \[2,3\] \(rank 2: an integer in \[-2, 2\) is needed\)/,
  );
  assert.throws(() => x.mean({ axis: 0.5 }), /mean: axis 0.5 is out of range/);
  assert.throws(
    () => zeros([2, 0]).max({ axis: 1 }),
    /max: cannot reduce an empty axis \(shape \[2,0\]\)/,
  );
  assert.throws(() => zeros([0]).argmax(), /argmax: cannot reduce an empty axis/);
  assert.deepEqual(zeros([2, 0]).sum({ axis: 1 }).toArray(), [0, 0]);
});

Deno.test("matmul: 2-d, batched, broadcast batches, and shape errors", () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([[7, 8], [9, 10], [11, 12]]);
  assert.deepEqual(a.matmul(b).toArray(), [[58, 64], [139, 154]]);
  const batch = stack([a, a.mul(2)]); // [2, 2, 3]
  assert.deepEqual(batch.matmul(b).toArray(), [[[58, 64], [139, 154]], [[116, 128], [278, 308]]]);
  assert.deepEqual(b.transpose().matmul(batch.transpose(1, 2)).shape, [2, 2, 2]);
  assert.throws(
    () => a.matmul(tensor([[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]])),
    {
      name: "RangeError",
      message: "matmul: [2,3] × [4,5]: inner sizes 3 and 4 differ",
    },
  );
  assert.throws(
    () => a.matmul(tensor([1, 2, 3])),
    /matmul: \[2,3\] × \[3\]: both operands need at least 2 axes/,
  );
  assert.throws(
    () => zeros([2, 2, 3]).matmul(zeros([3, 3, 2])),
    /matmul: \[2,2,3\] × \[3,3,2\]: batch shapes \[2\] and \[3\] do not broadcast/,
  );
  assert.throws(() => a.matmul([[1]] as unknown as Tensor), /matmul: expected a Tensor/);
});

Deno.test("shape ops: transpose, permute, reshape, slice, concat, stack", () => {
  const x = arange(6).reshape([2, 3]);
  assert.deepEqual(x.transpose().toArray(), [[0, 3], [1, 4], [2, 5]]);
  assert.deepEqual(arange(24).reshape([2, 3, 4]).permute([2, 0, 1]).shape, [4, 2, 3]);
  assert.deepEqual(x.reshape([-1]).shape, [6]);
  assert.deepEqual(x.reshape([3, -1]).shape, [3, 2]);
  assert.deepEqual(zeros([0, 3]).reshape([-1, 3]).shape, [0, 3]);
  assert.throws(
    () => x.reshape([4, 2]),
    /reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\]/,
  );
  assert.throws(() => x.reshape([-1, -1]), /reshape: shape \[-1,-1\] has more than one -1/);
  assert.throws(() => x.reshape([4, -1]), /cannot reshape \[2,3\] \(6 elements\) to \[4,-1\]/);
  assert.throws(() => resolveReshape([0, 3], [0, -1]), /cannot reshape \[0,3\]/);
  assert.throws(() => x.permute([0, 0]), /permute: axes \[0,0\] repeat an axis of \[2,3\]/);
  assert.throws(
    () => x.permute([0]),
    /permute: axes \[0\] must list each of the 2 axes of \[2,3\] once/,
  );
  assert.throws(() => x.transpose(0, 5), /transpose: axis 5 is out of range/);
  assert.deepEqual(x.slice({ axis: 1, start: 1 }).toArray(), [[1, 2], [4, 5]]);
  assert.deepEqual(x.slice({ axis: -1, start: -1 }).toArray(), [[2], [5]]);
  assert.deepEqual(x.slice({ axis: 0, end: 1 }).toArray(), [[0, 1, 2]]);
  assert.deepEqual(x.slice({ axis: 0, start: 1, end: 1 }).shape, [0, 3]);
  assert.throws(
    () => x.slice({ axis: 1, start: 4 }),
    /slice: start 4 is out of range for axis 1 of \[2,3\] \(an integer in \[-3, 3\] is needed\)/,
  );
  assert.throws(
    () => x.slice({ axis: 1, start: 2, end: 1 }),
    /slice: end 1 comes before start 2 on axis 1 of \[2,3\]/,
  );
  assert.deepEqual(concat([x, x], 1).shape, [2, 6]);
  assert.deepEqual(concat([x]).toArray(), x.toArray());
  assert.throws(
    () => concat([x, zeros([3, 3])], 1),
    /concat: \[2,3\] and \[3,3\] \(input 1\) differ on an axis other than the joined axis 1/,
  );
  assert.throws(() => concat([]), /concat: needs at least one tensor/);
  assert.throws(() => concat("x" as unknown as Tensor[]), /concat: expected an array of Tensors/);
  assert.deepEqual(stack([x, x], -1).shape, [2, 3, 2]);
  assert.deepEqual(stack([x, x], 2).shape, [2, 3, 2]);
  assert.throws(
    () => stack([x, x.transpose()]),
    /stack: \[2,3\] and \[3,2\] \(input 1\) differ: stacked tensors need one shape/,
  );
  assert.throws(() => stack([]), /stack: needs at least one tensor/);
  assert.throws(() => stack([x], 3), /stack: axis 3 is out of range/);
});

Deno.test("indexing: gather and crossEntropy check their integers", () => {
  const table = arange(6).reshape([3, 2]);
  assert.deepEqual(gather(table, tensor([[2], [0]])).shape, [2, 1, 2]);
  assert.deepEqual(table.gather([1]).toArray(), [[2, 3]]);
  assert.throws(() => gather(table, [3]), /gather: index 3 at position 0 is out of range \[0, 3\)/);
  assert.throws(() => gather(table, [-1]), /gather: index -1 at position 0 is out of range/);
  assert.throws(() => gather(table, [0, 1.5]), /gather: index 1.5 at position 1 is not an integer/);
  assert.throws(
    () => gather(fromScalar(1), [0]),
    /gather: the table must have at least one axis, got shape \[\]/,
  );
  assert.throws(
    () => gather(table, 3 as unknown as number[]),
    /gather: indices must be a Tensor or an array, got number 3/,
  );
  assert.throws(
    () => applyOp(tensorOps.gather, [table], { indices: { values: [0, 1], shape: [3] } }),
    /gather: 2 index values do not fill shape \[3\]/,
  );
  const logits = tensor([[1, 2, 3], [1, 1, 1]]);
  const expected = (Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3 + Math.log(3)) / 2;
  assert.ok(Math.abs(crossEntropy(logits, [2, 0]).item() - expected) < 1e-15);
  assert.ok(Math.abs(logits.crossEntropy(tensor([2, 0])).item() - expected) < 1e-15);
  assert.throws(
    () => crossEntropy(logits, [3, 0]),
    /crossEntropy: target 3 at position 0 is out of range \[0, 3\)/,
  );
  assert.throws(
    () => crossEntropy(logits, [0.5, 0]),
    /crossEntropy: target 0.5 at position 0 is not an integer/,
  );
  assert.throws(
    () => crossEntropy(logits, [0]),
    /crossEntropy: targets \[1\] do not match logits \[2,3\]: one target per row, shape \[2\]/,
  );
  assert.throws(
    () => crossEntropy(fromScalar(1), []),
    /crossEntropy: needs at least one axis, got a scalar/,
  );
  assert.throws(() => crossEntropy(zeros([0, 3]), []), /crossEntropy: logits \[0,3\] have no rows/);
  // Extreme logits stay finite: the log-sum-exp is computed from the maximum.
  assert.ok(Number.isFinite(crossEntropy(tensor([[1000, -1000]]), [1]).item()));
});

Deno.test("softmax, layerNorm, dropout, tril, linear: values and parameter errors", () => {
  const p = tensor([[1000, 1000], [0, Math.log(3)]]).softmax();
  assert.deepEqual(p.toArray(), [[0.5, 0.5], [0.25, 0.75]]);
  assert.ok(Math.abs(tensor([[1, 2, 3]]).logSoftmax().exp().sum().item() - 1) < 1e-15);
  assert.throws(() => tensor([1, 2]).softmax(1), /softmax: axis 1 is out of range/);
  assert.throws(
    () => layerNorm(tensor([[1, 2]]), ones([2]), zeros([2]), { eps: -1 }),
    /layerNorm: eps must be a finite number > 0, got -1/,
  );
  assert.throws(
    () => layerNorm(fromScalar(1), ones([1]), zeros([1])),
    /layerNorm: needs at least one axis/,
  );
  assert.throws(
    () => dropout(ones([2]), { p: 1, source: new Random(1) }),
    /dropout: p must be a probability in \[0, 1\), got 1/,
  );
  assert.deepEqual(dropout(ones([3]), { p: 0, source: new Random(1) }).toArray(), [1, 1, 1]);
  assert.throws(
    () => dropout(ones([2]), { p: 0.5 } as unknown as DropoutOptions),
    /^RangeError: dropout: give a source for the masks/,
  );
  const scores = ones([3, 3]).tril({ fill: -1e9 });
  assert.deepEqual(scores.toArray(), [[1, -1e9, -1e9], [1, 1, -1e9], [1, 1, 1]]);
  assert.deepEqual(ones([2, 3]).tril({ diagonal: 1 }).toArray(), [[1, 1, 0], [1, 1, 1]]);
  assert.deepEqual(scores.softmax().slice({ axis: 0, end: 1 }).toArray(), [[1, 0, 0]]);
  assert.throws(() => ones([3]).tril(), /tril: needs at least 2 axes, got \[3\]/);
  assert.throws(
    () => ones([2, 2]).tril({ diagonal: 0.5 }),
    /tril: diagonal must be an integer, got 0.5/,
  );
  assert.throws(
    () => linear(ones([2]), ones([2])),
    /linear: x \[2\] · weightᵀ \[2\]: weight must have 2 axes, \[out, in\]/,
  );
  assert.throws(
    () => linear(ones([2]), ones([3, 2]), ones([2])),
    /linear: x \[2\] · weightᵀ \[3,2\]: bias \[2\] should be \[3\]/,
  );
  assert.throws(
    () => applyOp(tensorOps.linear, [ones([2])], undefined),
    /linear: takes x, weight and an optional bias, got 1/,
  );
  assert.deepEqual(linear(ones([2]), tensor([[1, 2]])).toArray(), [3]);
});

Deno.test("display: toString and Deno's inspect", () => {
  const x = tensor([1, 2], { requiresGrad: true });
  assert.equal(String(x.mul(2)), "Tensor([2] [2, 4], op=mul, requiresGrad)");
  assert.equal(String(arange(10)), "Tensor([10] [0, 1, 2, 3, 4, 5, 6, 7, … (10 elements)])");
  assert.equal(Deno.inspect(fromScalar(1)), "Tensor([] [1])");
  assert.throws(() => arange(2).item(), /item: needs exactly one element, shape is \[2\]/);
});

Deno.test("gradcheckTensor: catches a wrong backward, and checks its options", () => {
  const wrongSquare = {
    ...tensorOps.mul,
    backward: () => [new Float64Array([1]), null],
  };
  const x = tensor([3]);
  assert.throws(
    () => gradcheckTensor((t) => applyOp(wrongSquare, [t, fromScalar(2)], undefined), [x]),
    (error: unknown) =>
      error instanceof TensorGradcheckError && !error.report.passed &&
      /gradcheckTensor: 1 gradient element\(s\) disagree; worst: input 0 \[1\] element 0: analytic 1, numeric 2/
        .test(error.message),
  );
  const report = gradcheckTensor((t) => applyOp(wrongSquare, [t, fromScalar(2)], undefined), [x], {
    raise: false,
  });
  assert.equal(report.failures, 1);
  assert.deepEqual(Array.from(x.data), [3]); // inputs untouched
  assert.throws(
    () => gradcheckTensor((t) => t, [x], { step: 0 }),
    /gradcheckTensor: step must be a finite number > 0, got 0/,
  );
  assert.throws(
    () => gradcheckTensor((t) => t, [x], { atol: -1 }),
    /atol must be a finite number ≥ 0/,
  );
  assert.throws(
    () => gradcheckTensor(() => 1 as unknown as Tensor, [x]),
    /gradcheckTensor: fn must return a Tensor, got number/,
  );
  // A result that does not depend on the input: every gradient is 0, analytic and numeric.
  assert.ok(gradcheckTensor(() => ones([2]), [x]).passed);
  // Hiding the dependency from the graph is caught.
  assert.ok(!gradcheckTensor((t) => t.detach(), [x], { raise: false }).passed);
  assert.equal(gradcheckTensor(() => zeros([0]), []).worst, null);
});

Deno.test("grad: a gradient of the wrong shape is refused when it is assigned", () => {
  const w = tensor([[1, 2, 3]], { requiresGrad: true });
  assert.throws(
    () => (w.grad = tensor([1, 2, 3])),
    /^RangeError: grad: a gradient of shape \[3\] cannot be assigned to a tensor of shape \[1,3\]$/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => (w.grad = [1, 2, 3] as any),
    /^TypeError: grad: must be a Tensor or null, got an array of 3$/,
  );
  assert.equal(w.grad, null); // nothing was stored
  w.grad = tensor([[0.5, 0.5, 0.5]]);
  w.mul(2).sum().backward();
  assert.deepEqual(w.grad.toArray(), [[2.5, 2.5, 2.5]]);
  w.grad = null;
  assert.equal(w.grad, null);
});

Deno.test("a non-finite element is found at every position, in every lane and the tail", () => {
  // The check sums x − x four lanes at a time and then the tail: each place must be seen.
  for (const Storage of [Float64Array, Float32Array]) {
    for (let length = 1; length <= 9; length++) {
      assert.doesNotThrow(() => new Tensor(new Storage(length).fill(-3.5), [length]));
      for (let at = 0; at < length; at++) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const data = new Storage(length).fill(1e30);
          data[at] = bad;
          if (at > 0) data[at - 1] = -0;
          assert.throws(
            () => new Tensor(data, [length]),
            new RegExp(`^RangeError: Tensor: data at \\[${at}\\] is ${bad}, not a finite number$`),
            `${Storage.name} of ${length}, ${bad} at ${at}`,
          );
        }
      }
    }
  }
});

Deno.test("backward: a float32 leaf's gradient beyond float32's range is refused, not rounded to Infinity", () => {
  const x = tensor([1, 2], { requiresGrad: true, dtype: "float32" });
  x.mul(2).sum().backward();
  assert.deepEqual(Array.from(x.grad!.data), [2, 2]);
  // 2·1e39 is finite in float64, the type the pass computes in, but not in float32.
  assert.throws(
    () => x.mul(2).backward(tensor([1e39, 1])),
    /^RangeError: backward: the accumulated gradient of a leaf \[2\] would be Infinity at \[0\]$/,
  );
  assert.ok(x.grad!.data instanceof Float32Array);
  assert.deepEqual(Array.from(x.grad!.data), [2, 2]);
});

Deno.test("backward: no two tensors share gradient storage, and no leaf shares the seed's", () => {
  // reshape and add hand their gradient on as it is: x, its reshape and the two operands of
  // the add would all hold one array if leaves' totals were not their own storage.
  for (const dtype of ["float64", "float32"] as const) {
    const x = tensor([1, 2, 3, 4], { requiresGrad: true, dtype });
    const y = tensor([5, 6, 7, 8], { requiresGrad: true, dtype });
    const r = x.reshape([4]);
    const z = r.add(y);
    const seed = tensor([1, 1, 1, 1]);
    z.backward(seed);
    const grads = [x, y, r, z].map((t) => t.grad!.data);
    for (let i = 0; i < grads.length; i++) {
      assert.ok(grads[i].buffer !== seed.data.buffer, `${dtype}: gradient ${i} is the seed`);
      for (let j = 0; j < i; j++) {
        if (i < 2 || j < 2) assert.ok(grads[i].buffer !== grads[j].buffer, `${dtype}: ${i}, ${j}`);
      }
    }
    // Writing into one leaf's gradient changes no other gradient and not the seed.
    x.grad!.data[0] = 100;
    assert.deepEqual([y, r, z].map((t) => t.grad!.data[0]), [1, 1, 1]);
    assert.equal(seed.data[0], 1);
    // A second pass accumulates into new storage: the first pass's gradient tensor is unchanged.
    const first = y.grad!;
    z.backward(seed);
    assert.deepEqual(Array.from(first.data), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(y.grad!.data), [2, 2, 2, 2]);
    assert.deepEqual(Array.from(x.grad!.data), [101, 2, 2, 2]);
    y.zeroGrad();
    assert.equal(y.grad, null);
    z.backward(seed);
    assert.deepEqual(Array.from(y.grad!.data), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(first.data), [1, 1, 1, 1]);
  }
});

Deno.test("backward: float32 gradients pass between ops that read them in float32, as widened ones would", () => {
  // linear → selfAttention → linear in float32: each op's gradient reaches the next in
  // float32. With an identity reshape between them (an op without a float32 backward, which
  // gets its gradient widened to float64) every gradient must come out bit for bit the same.
  const leaves = () =>
    [[2, 4, 6], [18, 6], [18], [3, 6]].map((shape, seed) =>
      randn(shape, { seed, requiresGrad: true, dtype: "float32" })
    );
  const weights = randn([2, 4, 3], { seed: 9 });
  const run = (identities: boolean) => {
    const [x, w1, b1, w2] = leaves();
    const same = (t: Tensor) => (identities ? t.reshape(t.shape) : t);
    const qkv = linear(x, w1, b1);
    const heads = selfAttention(same(qkv), { heads: 2 });
    linear(same(heads), w2).mul(weights).sum().backward();
    return { grads: [x, w1, b1, w2].map((t) => t.grad!), qkv, heads };
  };
  const direct = run(false);
  const widened = run(true);
  assert.ok(direct.heads.grad!.data instanceof Float32Array, "linear's ∂x stays float32");
  assert.ok(direct.qkv.grad!.data instanceof Float32Array, "selfAttention's ∂qkv stays float32");
  direct.grads.forEach((g, i) => {
    assert.equal(g.dtype, "float32");
    assert.deepEqual(Array.from(g.data), Array.from(widened.grads[i].data), `leaf ${i}`);
  });
});

Deno.test("backward: two float32 gradients whose sum is beyond float32's range are refused", () => {
  // h feeds two linears; each hands back ∂h = 2e38 (finite in float32), their sum is not.
  for (const dtype of ["float32", "float64"] as const) {
    const x = tensor([[1e-30]], { requiresGrad: true, dtype });
    const w = tensor([[2e38]], { dtype });
    const h = x.reshape([1, 1]);
    const loss = linear(h, w).add(linear(h, w)).sum();
    if (dtype === "float64") {
      loss.backward(); // 4e38 is finite in float64
      assert.equal(x.grad!.data[0], 4e38);
      continue;
    }
    assert.throws(
      () => loss.backward(),
      /^RangeError: backward: the gradient reaching input 0 of linear \(shape \[1,1\]\) is Infinity at \[0,0\]$/,
    );
    assert.equal(x.grad, null, "nothing changed");
  }
});

Deno.test("backward: the seed keeps its element type; a float32 root without one starts from float32", () => {
  const x = tensor([[1, 2], [3, 4]], { requiresGrad: true, dtype: "float32" });
  const w = tensor([[1, 0], [0, 1], [2, 2]], { requiresGrad: true, dtype: "float32" });
  const y = linear(x, w);
  y.backward(tensor([[1, 1, 1], [1, 1, 1]], { dtype: "float32" }));
  assert.ok(y.grad!.data instanceof Float32Array);
  assert.deepEqual(Array.from(x.grad!.data), [3, 3, 3, 3]);
  y.backward(tensor([[1, 1, 1], [1, 1, 1]])); // a float64 seed: accumulates the same
  assert.ok(y.grad!.data instanceof Float64Array);
  assert.deepEqual(Array.from(x.grad!.data), [6, 6, 6, 6]);
  const s = y.sum();
  s.backward();
  assert.ok(s.grad!.data instanceof Float32Array && s.grad!.data[0] === 1);
  assert.deepEqual(Array.from(w.grad!.data), [12, 18, 12, 18, 12, 18]);
});
