import assert from "node:assert/strict";
import plugin, { layerViolation } from "../.ci/layers_plugin.ts";

Deno.test("layers: the lint rule refuses an upward import and allows downward ones", async (t) => {
  await t.step("downward and same-layer imports pass", () => {
    assert.equal(layerViolation("/r/lib/tensor/ops.ts", "../scalar/ops.ts"), undefined);
    assert.equal(layerViolation("/r/lib/nn/optim.ts", "../util/_checks.ts"), undefined);
    assert.equal(layerViolation("/r/lib/nn/optim.ts", "./schedules.ts"), undefined);
    assert.equal(layerViolation("/r/tests/x_test.ts", "../lib/lm/mod.ts"), undefined);
  });
  await t.step("an upward import is named with both layers", () => {
    assert.match(
      layerViolation("/r/lib/scalar/value.ts", "../tensor/tensor.ts") ?? "",
      /lib\/scalar imports \.\.\/tensor\/tensor\.ts from lib\/tensor, a higher layer/,
    );
    assert.match(layerViolation("/r/lib/util/random.ts", "../nn/mod.ts") ?? "", /higher layer/);
  });
  await t.step("an import out of lib/ or into an unknown layer is refused", () => {
    assert.match(layerViolation("/r/lib/nn/x.ts", "../../mod.ts") ?? "", /outside lib/);
    assert.match(layerViolation("/r/lib/nn/x.ts", "../misc/a.ts") ?? "", /not a known layer/);
  });
  await t.step("the rule reports through deno lint's plugin API", () => {
    const source =
      'import { Tensor } from "../tensor/tensor.ts";\nexport * from "../nn/mod.ts";\nexport { Tensor };\n';
    const diagnostics = Deno.lint.runPlugin(plugin, "/r/lib/scalar/bad.ts", source);
    assert.equal(diagnostics.length, 2);
    assert.equal(diagnostics[0].id, "dcslm/layers");
    const clean = Deno.lint.runPlugin(plugin, "/r/lib/lm/ok.ts", source);
    assert.equal(clean.length, 0);
  });
});
