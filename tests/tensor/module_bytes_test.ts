import assert from "node:assert/strict";
import { MODULE_BASE64 } from "../../lib/tensor/kernels/_module_bytes.ts";
import { moduleBytes } from "../../lib/tensor/kernels/_modules.ts";
import { type ModuleVariant, moduleVariants } from "../../lib/tensor/kernels/_module_variants.ts";

Deno.test("the kernels' committed module bytes are what the emitters write (else run deno task kernels)", () => {
  assert.deepEqual(Object.keys(MODULE_BASE64).sort(), Object.keys(moduleVariants).sort());
  for (const [name, emit] of Object.entries(moduleVariants)) {
    const loaded = moduleBytes(name as ModuleVariant);
    assert.ok(WebAssembly.validate(loaded) || name.endsWith("-fused"), `${name} validates`);
    assert.deepEqual(loaded, emit(), `${name}: the committed bytes differ from the emitter's`);
  }
});
