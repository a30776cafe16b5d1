import assert from "node:assert/strict";
import { tensor, zeros } from "../../lib/tensor/tensor.ts";
import {
  CheckpointError,
  checkpointFromBytes,
  checkpointToBytes,
  decodeSafetensors,
  encodeSafetensors,
  loadParametersInto,
} from "../../lib/lm/checkpoint.ts";
import { Mlp } from "../../lib/lm/mlp.ts";
import { TensorAdamW } from "../../lib/lm/adamw.ts";

const config = { vocabSize: 4, blockSize: 3, nLayer: 1, nHead: 1, nEmbd: 2, nEmbd2: 3 };

Deno.test("safetensors layout: u64 LE header length, JSON header padded to 8, LE float64 data", () => {
  const bytes = encodeSafetensors(new Map([["a", tensor([1.5, -2])], ["b", tensor([[3]])]]), {
    note: "x",
  });
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.a, { dtype: "F64", shape: [2], data_offsets: [0, 16] });
  assert.deepEqual(header.b, { dtype: "F64", shape: [1, 1], data_offsets: [16, 24] });
  assert.deepEqual(header.__metadata__, { note: "x" });
  assert.equal(bytes.length, 8 + n + 24);
  assert.equal(view.getFloat64(8 + n, true), 1.5);
  assert.equal(view.getFloat64(8 + n + 8, true), -2);
  assert.equal(view.getFloat64(8 + n + 16, true), 3);
});

Deno.test("safetensors: float32 tensors written elsewhere are read, widened", () => {
  const header = JSON.stringify({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } });
  const h = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + h.length + 8);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(h.length), true);
  bytes.set(h, 8);
  view.setFloat32(8 + h.length, 0.5, true);
  view.setFloat32(8 + h.length + 4, -4, true);
  assert.deepEqual(Array.from(decodeSafetensors(bytes).tensors.get("w")!.data), [0.5, -4]);
});

Deno.test("corrupt, truncated and foreign files are refused with a clear error", () => {
  const good = encodeSafetensors(new Map([["w", tensor([1, 2, 3])]]), { a: "b" });
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 5), /truncated: 5 bytes/],
    [good.subarray(0, 20), /truncated: the header needs/],
    [
      good.subarray(0, good.length - 1),
      /truncated: the tensors need 24 data bytes, the file has 23/,
    ],
    [new Uint8Array([...good, 0]), /1 bytes after the last tensor/],
  ];
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  const badJson = good.slice();
  badJson[8] = 0x7b + 1; // "|" instead of "{"
  cases.push([badJson, /header is not valid UTF-8 JSON/]);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  cases.push([huge, /header length \d+ is implausible/]);
  const withHeader = (header: unknown, data = 0) => {
    const h = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + h.length + data);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    return out;
  };
  cases.push([withHeader([1]), /not a JSON object/]);
  cases.push([
    withHeader({ w: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, 8),
    /dtype "I64"/,
  ]);
  cases.push([
    withHeader({ w: { dtype: "F64", shape: [2], data_offsets: [0, 8] } }, 8),
    /needs 16 bytes/,
  ]);
  cases.push([
    withHeader({ w: { dtype: "F64", shape: "x", data_offsets: [0, 8] } }, 8),
    /shape "x"/,
  ]);
  cases.push([
    withHeader({ w: { dtype: "F64", shape: [1], data_offsets: [0] } }, 8),
    /data_offsets/,
  ]);
  cases.push([withHeader({ w: 3 }), /entry "w" is not an object/]);
  cases.push([withHeader({ __metadata__: { a: 1 } }), /__metadata__.a is not a string/]);
  cases.push([withHeader({ __metadata__: [] }), /__metadata__ must be an object/]);
  cases.push([
    withHeader({
      a: { dtype: "F64", shape: [1], data_offsets: [0, 8] },
      b: { dtype: "F64", shape: [1], data_offsets: [16, 24] },
    }, 24),
    /"b" starts at byte 16, expected 8/,
  ]);
  const nan = encodeSafetensors(new Map([["w", tensor([1])]]));
  new DataView(nan.buffer).setFloat64(nan.length - 8, NaN, true);
  cases.push([nan, /"w" element 0 is NaN/]);
  for (const [bytes, message] of cases) {
    assert.throws(() => decodeSafetensors(bytes), (e: Error) => {
      assert.ok(e instanceof CheckpointError, `${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.ok(n > 0);
  assert.throws(() => encodeSafetensors(new Map([["", tensor([1])]])), RangeError);
  assert.throws(() => decodeSafetensors("x" as unknown as Uint8Array), TypeError);
  assert.throws(() => checkpointFromBytes(good), /not a DCSLM checkpoint/);
});

Deno.test("a checkpoint carries parameters, optimizer state and training state", () => {
  const model = new Mlp(config, { seed: 1 });
  const optimizer = new TensorAdamW(model.namedParameters(), { learningRate: 0.01 });
  model.forward([[0, 1, 2]]).sum().backward();
  optimizer.step();
  const bytes = checkpointToBytes({
    type: model.type,
    config: { ...model.config },
    parameters: model.namedParameters(),
    optimizer: optimizer.state(),
    training: { step: 1, best: null },
  });
  const back = checkpointFromBytes(bytes);
  assert.equal(back.type, "mlp");
  assert.deepEqual(back.config, { ...config });
  assert.deepEqual(back.training, { step: 1, best: null });
  const fresh = new Mlp(config, { seed: 2 });
  loadParametersInto(fresh.namedParameters(), back, "mlp");
  assert.deepEqual(
    Array.from(fresh.forward([[0, 1]]).data),
    Array.from(model.forward([[0, 1]]).data),
  );
  const restored = new TensorAdamW(fresh.namedParameters(), { learningRate: 0.01 });
  restored.loadState(back.optimizer!);
  assert.equal(restored.stepCount, 1);
  assert.deepEqual(
    restored.state().slots.get("v")!.get("wte.weight")!.data,
    optimizer.state().slots.get("v")!.get("wte.weight")!.data,
  );

  // Another model type, another shape: refused, and nothing is overwritten.
  const other = new Mlp({ ...config, nEmbd2: 4 }, { seed: 3 });
  const before = Array.from(other.namedParameters().get("mlp.0.weight")!.data);
  assert.throws(
    () => loadParametersInto(other.namedParameters(), back, "gru"),
    /a "mlp" model, not a "gru" model/,
  );
  assert.throws(
    () => loadParametersInto(other.namedParameters(), back),
    /"mlp.0.weight" has shape \[3,6\] in the checkpoint, \[4,6\] in the model/,
  );
  assert.deepEqual(Array.from(other.namedParameters().get("mlp.0.weight")!.data), before);
  const partial = new Map(back.parameters);
  partial.delete("wte.weight");
  partial.set("extra", zeros([1]));
  assert.throws(
    () => loadParametersInto(fresh.namedParameters(), { ...back, parameters: partial }),
    /"wte.weight" is missing from the checkpoint; "extra" is in the checkpoint but not in the model/,
  );
  assert.throws(
    () => checkpointToBytes({ ...back, parameters: new Map([["optimizer.x", zeros([1])]]) }),
    /reserved prefix/,
  );
});

Deno.test("optimizer state of other settings or shapes is refused", () => {
  const w = tensor([1, 2], { requiresGrad: true });
  const optimizer = new TensorAdamW(new Map([["w", w]]), { learningRate: 0.1 });
  const state = optimizer.state();
  const other = new TensorAdamW(new Map([["w", tensor([1, 2], { requiresGrad: true })]]), {
    learningRate: 0.1,
    beta2: 0.99,
  });
  assert.throws(() => other.loadState(state), /the state has beta2 0.999, this optimizer 0.99/);
  const wide = new TensorAdamW(new Map([["w", tensor([1, 2, 3], { requiresGrad: true })]]), {
    learningRate: 0.1,
  });
  assert.throws(() => wide.loadState(state), /"m" of "w" has shape \[2\], the parameter \[3\]/);
  const renamed = new TensorAdamW(new Map([["u", tensor([1, 2], { requiresGrad: true })]]), {
    learningRate: 0.1,
  });
  assert.throws(() => renamed.loadState(state), /the state's "m" lacks "u"/);
  assert.throws(
    () => optimizer.loadState({ ...state, scalars: { ...state.scalars, name: "SGD" } }),
    /optimizer SGD/,
  );
  assert.throws(
    () => optimizer.loadState({ ...state, scalars: { ...state.scalars, step: -1 } }),
    /step -1/,
  );
  assert.throws(() => optimizer.loadState({ ...state, slots: new Map() }), /no "m" in the state/);
  assert.throws(
    () => optimizer.loadState({ ...state, slots: new Map([["m", new Map()]]) }),
    /"m" has 0 tensors, the model 1/,
  );
});
