/**
 * The kernels' WebAssembly modules as the engine loads them: the bytes `.ci/module_bytes.ts`
 * wrote from the emitters into `_module_bytes.ts` (checked against the emitters by
 * `tests/tensor/module_bytes_test.ts`), so that starting the engine emits nothing.
 *
 * @module
 */

import { MODULE_BASE64 } from "./_module_bytes.ts";
import type { ModuleVariant } from "./_module_variants.ts";

/** The bytes of module `name`. */
export function moduleBytes(name: ModuleVariant): Uint8Array<ArrayBuffer> {
  const text = atob(MODULE_BASE64[name]);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
