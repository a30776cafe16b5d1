import assert from "node:assert/strict";
import { gradcheckTensor } from "../../lib/tensor/gradcheck.ts";
import { Tensor } from "../../lib/tensor/tensor.ts";
import type { Linear } from "../../lib/nn/modules.ts";
import { Transformer } from "../../lib/lm/transformer.ts";
import { createModel } from "../../lib/lm/ladder.ts";
import { sequenceLoss } from "../../lib/lm/model.ts";

const tiny = { vocabSize: 4, blockSize: 3, nLayer: 1, nHead: 2, nEmbd: 4, nEmbd2: 3 };

/** Points the model's layers at `leaves` (in namedParameters order), for gradcheckTensor. */
function bind(model: Transformer, leaves: readonly Tensor[]): void {
  const named = new Map([...model.namedParameters().keys()].map((name, i) => [name, leaves[i]]));
  const set = (owner: object, key: string, name: string) => {
    const leaf = named.get(name);
    assert.ok(leaf !== undefined, name);
    Object.assign(owner, { [key]: leaf });
  };
  const linear = (l: Linear, name: string) => {
    set(l, "weight", `${name}.weight`);
    set(l, "bias", `${name}.bias`);
  };
  const gpt = model.gpt;
  set(gpt.wte, "weight", "transformer.wte.weight");
  set(gpt.wpe, "weight", "transformer.wpe.weight");
  gpt.blocks.forEach((block, i) => {
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
  set(gpt.lnF, "weight", "transformer.ln_f.weight");
  set(gpt.lnF, "bias", "transformer.ln_f.bias");
  set(gpt, "lmHead", "lm_head.weight");
}

Deno.test("makemore's transformer: gradient-checked on every parameter, with padding ignored", () => {
  const seed = 17;
  const model = new Transformer(tiny, { seed });
  const values = [...model.namedParameters().values()].map((p) => {
    const data = p.data.slice();
    // LayerNorm shifts and biases start at 0: move them so every path carries a gradient.
    for (let i = 0; i < data.length; i++) if (data[i] === 0) data[i] = 0.1 * ((i % 5) - 2) + 0.05;
    return new Tensor(data, p.shape);
  });
  const report = gradcheckTensor(
    (...leaves) => {
      const fresh = new Transformer(tiny, { seed });
      bind(fresh, leaves);
      return sequenceLoss(fresh, [[0, 1, 2], [0, 3, 0]], [[1, 2, 0], [3, 0, -1]]);
    },
    values,
    { raise: false },
  );
  assert.ok(report.passed, `seed ${seed}: worst ${JSON.stringify(report.worst)}`);
  report.analytic.forEach((g, i) => assert.ok(g.some((v) => v !== 0), `parameter ${i}`));
});

Deno.test("makemore's transformer: attention is causal, and the ladder knows it", () => {
  const model = createModel("transformer", { ...tiny, blockSize: 5 }, { seed: 2 });
  const a = model.forward([[0, 1, 2, 3, 1]]).data;
  const b = model.forward([[0, 1, 2, 0, 3]]).data;
  // Positions 0..2 do not see positions 3 and 4; position 3 does.
  assert.deepEqual(Array.from(a.subarray(0, 12)), Array.from(b.subarray(0, 12)));
  assert.notDeepEqual(Array.from(a.subarray(12, 16)), Array.from(b.subarray(12, 16)));
  assert.throws(() => new Transformer(tiny, { parameters: new Map() }), /not supported/);
});
