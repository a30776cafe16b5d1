/**
 * Every WebAssembly kernel module the engine can load, by name, with the emitter call that
 * makes its bytes: relaxed SIMD's fused multiply-add (`fused`) or separate multiply and add
 * (`separate`, for a machine where relaxed SIMD does not validate), and for the matrix
 * products each element type and micro-kernel shape. `.ci/module_bytes.ts` writes them all to
 * `_module_bytes.ts`, which the kernels load; the tests emit them again and compare.
 *
 * @module
 */

import { simdModuleBytes } from "./_simd_module.ts";
import { elementKind, gemmModuleBytes } from "./_gemm_module.ts";
import { attentionModuleBytes } from "./_attention_module.ts";

/** A module's name. */
export type ModuleVariant =
  | "simd-fused"
  | "simd-separate"
  | "gemm-f64-fused"
  | "gemm-f32-fused"
  | "gemm-f64-separate"
  | "gemm-f32-separate"
  | "attention-fused"
  | "attention-separate";

/** The emitter call of each module. */
export const moduleVariants: Readonly<Record<ModuleVariant, () => Uint8Array<ArrayBuffer>>> = {
  "simd-fused": () => simdModuleBytes({ fused: true }),
  "simd-separate": () => simdModuleBytes({ fused: false }),
  "gemm-f64-fused": () => gemmModuleBytes(elementKind(8, true), { fused: true }),
  "gemm-f32-fused": () => gemmModuleBytes(elementKind(4, true), { fused: true }),
  "gemm-f64-separate": () => gemmModuleBytes(elementKind(8, false), { fused: false }),
  "gemm-f32-separate": () => gemmModuleBytes(elementKind(4, false), { fused: false }),
  "attention-fused": () => attentionModuleBytes({ fused: true }),
  "attention-separate": () => attentionModuleBytes({ fused: false }),
};
