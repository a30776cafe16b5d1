/**
 * A small encoder of the WebAssembly binary format: enough to write the tensor kernels as
 * TypeScript that emits their bytes, so the kernels' source is readable code and no build
 * step or toolchain is needed. The engine loads the bytes `deno task kernels` wrote from these
 * emitters (`_module_bytes.ts`), and a test emits them again and requires the same bytes. A module here has one imported shared memory (`env.memory`) and a list of
 * exported functions; a function body is a flat list of instructions, each a method of
 * {@link FunctionBuilder} named after its WebAssembly text-format mnemonic.
 *
 * Reference: the WebAssembly core specification, "Binary Format" (sections, LEB128 integers,
 * instructions), and the fixed-width SIMD and relaxed-SIMD proposals for the `0xfd` opcodes.
 *
 * @module
 */

/** A WebAssembly value type. */
export type ValueType = "i32" | "f32" | "f64" | "v128";

const VALUE_TYPE_CODE: Readonly<Record<ValueType, number>> = {
  i32: 0x7f,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
};

/** Unsigned LEB128: 7 bits a byte, low bits first, high bit set on every byte but the last. */
export function unsignedLeb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Signed LEB128 of a 32-bit integer: as unsigned, until the rest is all sign bits. */
export function signedLeb128(value: number): number[] {
  const bytes: number[] = [];
  value |= 0;
  while (true) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

function utf8Name(name: string): number[] {
  const bytes = new TextEncoder().encode(name);
  return [...unsignedLeb128(bytes.length), ...bytes];
}

function vector(items: readonly number[][]): number[] {
  return [...unsignedLeb128(items.length), ...items.flat()];
}

function section(id: number, contents: number[]): number[] {
  return [id, ...unsignedLeb128(contents.length), ...contents];
}

/** A SIMD instruction: the `0xfd` prefix and its opcode as unsigned LEB128. */
function simd(opcode: number): number[] {
  return [0xfd, ...unsignedLeb128(opcode)];
}

/**
 * The body of one function: its parameters and locals, and the instructions appended by the
 * mnemonic-named methods (`f.localGet(x).i32Const(4).i32Add()` is `local.get x; i32.const 4;
 * i32.add`). Memory instructions take a constant byte `offset` added to the address.
 */
export class FunctionBuilder {
  /** Bytes of the instructions so far. */
  readonly code: number[] = [];
  /** Types of the locals declared after the parameters. */
  readonly locals: ValueType[] = [];

  /** A function of `params` (locals 0 … params.length − 1) returning `results`. */
  constructor(readonly params: readonly ValueType[], readonly results: readonly ValueType[]) {}

  /** Declares a local of `type`; returns its index. */
  local(type: ValueType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  private op(...bytes: number[]): this {
    for (const byte of bytes) this.code.push(byte);
    return this;
  }

  // Control. Blocks have no result (block type 0x40); labels count outwards from 0.
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(label: number): this {
    return this.op(0x0c, ...unsignedLeb128(label));
  }
  brIf(label: number): this {
    return this.op(0x0d, ...unsignedLeb128(label));
  }
  /** Calls function `index` of the module. */
  call(index: number): this {
    return this.op(0x10, ...unsignedLeb128(index));
  }

  // Locals.
  localGet(index: number): this {
    return this.op(0x20, ...unsignedLeb128(index));
  }
  localSet(index: number): this {
    return this.op(0x21, ...unsignedLeb128(index));
  }
  localTee(index: number): this {
    return this.op(0x22, ...unsignedLeb128(index));
  }

  // i32 arithmetic and comparisons.
  i32Const(value: number): this {
    return this.op(0x41, ...signedLeb128(value));
  }
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32GtS(): this {
    return this.op(0x4a);
  }
  i32LeS(): this {
    return this.op(0x4c);
  }
  i32GeS(): this {
    return this.op(0x4e);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Or(): this {
    return this.op(0x72);
  }
  i32ShrU(): this {
    return this.op(0x76);
  }
  select(): this {
    return this.op(0x1b);
  }

  // Scalar memory access (alignment hint: natural).
  f32Load(offset = 0): this {
    return this.op(0x2a, 2, ...unsignedLeb128(offset));
  }
  f64Load(offset = 0): this {
    return this.op(0x2b, 3, ...unsignedLeb128(offset));
  }
  f32Store(offset = 0): this {
    return this.op(0x38, 2, ...unsignedLeb128(offset));
  }
  f64Store(offset = 0): this {
    return this.op(0x39, 3, ...unsignedLeb128(offset));
  }
  f32Const(value: number): this {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return this.op(0x43, ...bytes);
  }
  f64Const(value: number): this {
    const bytes = new Uint8Array(new Float64Array([value]).buffer);
    return this.op(0x44, ...bytes);
  }

  // 128-bit SIMD. Vector loads and stores hint 16-byte alignment (not required).
  v128Load(offset = 0): this {
    return this.op(...simd(0x00), 4, ...unsignedLeb128(offset));
  }
  v128Store(offset = 0): this {
    return this.op(...simd(0x0b), 4, ...unsignedLeb128(offset));
  }
  /** Loads one f32 and repeats it in all four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.op(...simd(0x09), 2, ...unsignedLeb128(offset));
  }
  /** Loads one f64 and repeats it in both lanes. */
  v128Load64Splat(offset = 0): this {
    return this.op(...simd(0x0a), 3, ...unsignedLeb128(offset));
  }
  f32x4Splat(): this {
    return this.op(...simd(0x13));
  }
  f64x2Splat(): this {
    return this.op(...simd(0x14));
  }
  f32x4Add(): this {
    return this.op(...simd(0xe4));
  }
  f32x4Mul(): this {
    return this.op(...simd(0xe6));
  }
  f64x2Add(): this {
    return this.op(...simd(0xf0));
  }
  f64x2Mul(): this {
    return this.op(...simd(0xf2));
  }
  /** a·b + c, possibly fused (one rounding) where the machine has FMA: relaxed SIMD. */
  f32x4RelaxedMadd(): this {
    return this.op(...simd(0x105));
  }
  /** a·b + c, possibly fused (one rounding) where the machine has FMA: relaxed SIMD. */
  f64x2RelaxedMadd(): this {
    return this.op(...simd(0x107));
  }

  // Scalar f64 arithmetic (the reductions that keep the reference's order of additions).
  f64Add(): this {
    return this.op(0xa0);
  }
  f64Sub(): this {
    return this.op(0xa1);
  }
  f64Mul(): this {
    return this.op(0xa2);
  }
  f64Div(): this {
    return this.op(0xa3);
  }
  f64Max(): this {
    return this.op(0xa5);
  }
  f64Sqrt(): this {
    return this.op(0x9f);
  }
  f64ConvertI32S(): this {
    return this.op(0xb7);
  }

  // More 128-bit SIMD: float64 lanes, a bit select, and the 64-bit integer shift that builds a
  // power of two from its exponent.
  f64x2Sub(): this {
    return this.op(...simd(0xf1));
  }
  f64x2Div(): this {
    return this.op(...simd(0xf3));
  }
  /** Pseudo-minimum `b < a ? b : a` (one instruction; a NaN in `a` is kept). */
  f64x2Pmin(): this {
    return this.op(...simd(0xf6));
  }
  /** Pseudo-maximum `a < b ? b : a` (one instruction; a NaN in `a` is kept). */
  f64x2Pmax(): this {
    return this.op(...simd(0xf7));
  }
  f64x2ExtractLane(lane: number): this {
    return this.op(...simd(0x21), lane);
  }
  f64x2ReplaceLane(lane: number): this {
    return this.op(...simd(0x22), lane);
  }
  /** Lane-wise a < b: all ones where true. */
  f64x2Lt(): this {
    return this.op(...simd(0x49));
  }
  f64x2Abs(): this {
    return this.op(...simd(0xec));
  }
  f64x2Sqrt(): this {
    return this.op(...simd(0xef));
  }
  /** Rounds each lane to the nearest integer, ties to even. */
  f64x2Nearest(): this {
    return this.op(...simd(0x94));
  }
  f64x2Floor(): this {
    return this.op(...simd(0x75));
  }
  /** Bits of a where the mask c has ones, of b elsewhere (operands a, b, c). */
  v128Bitselect(): this {
    return this.op(...simd(0x52));
  }
  /** Shifts each 64-bit lane left by an i32 count. */
  i64x2Shl(): this {
    return this.op(...simd(0xcb));
  }

  // float32 lanes (four a vector) and scalars, the conversions between float32 and float64
  // lanes, and the 32-bit integer lanes that build a float32 power of two from its exponent.
  f32x4Sub(): this {
    return this.op(...simd(0xe5));
  }
  f32x4Div(): this {
    return this.op(...simd(0xe7));
  }
  f32x4Pmax(): this {
    return this.op(...simd(0xeb));
  }
  f32x4Nearest(): this {
    return this.op(...simd(0x6a));
  }
  f32x4Sqrt(): this {
    return this.op(...simd(0xe3));
  }
  /** Loads 8 bytes (two f32s) into the low half of a vector and zeroes the high half. */
  v128Load64Zero(offset = 0): this {
    return this.op(...simd(0x5d), 3, ...unsignedLeb128(offset));
  }
  /** Stores the low 8 bytes (two f32s) of a vector. */
  v128Store64Lane0(offset = 0): this {
    return this.op(...simd(0x5b), 3, ...unsignedLeb128(offset), 0);
  }
  /** Widens the two low f32 lanes to two f64 lanes (exact). */
  f64x2PromoteLowF32x4(): this {
    return this.op(...simd(0x5f));
  }
  /** Rounds two f64 lanes to f32 (to nearest, ties to even) in the low lanes; high lanes 0. */
  f32x4DemoteF64x2Zero(): this {
    return this.op(...simd(0x5e));
  }
  /** Truncates two f64 lanes to i32 in the low lanes (saturating; NaN gives 0); high lanes 0. */
  i32x4TruncSatF64x2SZero(): this {
    return this.op(...simd(0xfc));
  }
  /** The low 8 bytes of the first operand, then the low 8 bytes of the second. */
  i64x2ConcatLow(): this {
    return this.i8x16Shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
  }
  i32x4Splat(): this {
    return this.op(...simd(0x11));
  }
  i32x4Add(): this {
    return this.op(...simd(0xae));
  }
  i32x4Shl(): this {
    return this.op(...simd(0xab));
  }
  f32Max(): this {
    return this.op(0x97);
  }
  f32DemoteF64(): this {
    return this.op(0xb6);
  }
  f64PromoteF32(): this {
    return this.op(0xbb);
  }
  i8x16Shuffle(lanes: readonly number[]): this {
    return this.op(...simd(0x0d), ...lanes);
  }
  i32x4GtS(): this {
    return this.op(...simd(0x3b));
  }
  v128And(): this {
    return this.op(...simd(0x4e));
  }
  v128Or(): this {
    return this.op(...simd(0x50));
  }
  i32x4Eq(): this {
    return this.op(...simd(0x37));
  }
  i64x2Eq(): this {
    return this.op(...simd(0xd6));
  }
  /** Whether any bit of the vector is set (an i32). */
  v128AnyTrue(): this {
    return this.op(...simd(0x53));
  }

  /** The code-section entry: size, locals (one group per local), instructions, `end`. */
  encode(): number[] {
    const locals = vector(this.locals.map((type) => [1, VALUE_TYPE_CODE[type]]));
    const body = [...locals, ...this.code, 0x0b];
    return [...unsignedLeb128(body.length), ...body];
  }
}

/** An exported function of a {@link encodeModule} module. */
export interface ExportedFunction {
  /** Export name. */
  readonly name: string;
  /** Its body. */
  readonly body: FunctionBuilder;
}

/**
 * The bytes of a module importing a shared memory `env.memory` (`maxPages` × 64 KiB at most)
 * and exporting `functions`, in order (function i may call function j by index j).
 */
export function encodeModule(
  functions: readonly ExportedFunction[],
  maxPages: number,
): Uint8Array<ArrayBuffer> {
  const signature = (f: FunctionBuilder) => [
    0x60,
    ...vector(f.params.map((t) => [VALUE_TYPE_CODE[t]])),
    ...vector(f.results.map((t) => [VALUE_TYPE_CODE[t]])),
  ];
  const memoryImport = [
    ...utf8Name("env"),
    ...utf8Name("memory"),
    0x02, // kind: memory
    0x03, // limits: shared, with a maximum
    ...unsignedLeb128(1),
    ...unsignedLeb128(maxPages),
  ];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d, // "\0asm"
    0x01,
    0x00,
    0x00,
    0x00, // version 1
    ...section(1, vector(functions.map((f) => signature(f.body)))),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(functions.map((_, i) => unsignedLeb128(i)))),
    ...section(
      7,
      vector(functions.map((f, i) => [...utf8Name(f.name), 0x00, ...unsignedLeb128(i)])),
    ),
    ...section(10, vector(functions.map((f) => f.body.encode()))),
  ]);
}
