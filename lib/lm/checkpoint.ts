/**
 * Checkpoints in the safetensors format, so trained weights open unchanged in Python
 * (`safetensors.numpy.load_file`, or NumPy reading the header by hand):
 *
 * ```text
 * [8 bytes: header length N, unsigned little-endian]
 * [N bytes: JSON header, padded with spaces to a multiple of 8]
 * [tensor bytes: each tensor's float64 elements, little-endian, row-major, back to back]
 * ```
 *
 * The header maps each tensor name to `{ "dtype": "F64", "shape": [...], "data_offsets":
 * [begin, end] }` (offsets into the tensor bytes) and holds `__metadata__`, a map of strings:
 * here the model type, its config and training state as JSON. The optimizer's moments are
 * tensors named `optimizer.<kind>.<parameter>` beside the weights, so one file restores a
 * run exactly. Files are written to a temporary name and renamed, so a file on disk is
 * always complete.
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";

/**
 * Everything a checkpoint holds: named tensors and string metadata.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SafetensorsContents } from "./checkpoint.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const contents: SafetensorsContents = {
 *   tensors: new Map([["w", tensor([1, 2])]]),
 *   metadata: { model: "bigram" },
 * };
 * assert.equal(contents.tensors.size, 1);
 * ```
 */
export interface SafetensorsContents {
  /** Tensors by name, in the order they are stored. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** String metadata (`__metadata__` in the header). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Thrown when bytes are not a checkpoint this library can read, or a checkpoint does not fit
 * the model it is loaded into. The message says what is wrong and where.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, decodeSafetensors } from "./checkpoint.ts";
 * assert.throws(() => decodeSafetensors(new Uint8Array(3)), CheckpointError);
 * ```
 */
export class CheckpointError extends Error {
  /** An error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** Largest header this reader accepts (safetensors' own limit is 100 MB). */
const MAX_HEADER = 100_000_000;

/**
 * The safetensors bytes of `tensors` (float64, dtype `F64`) with `metadata`.
 *
 * @throws {RangeError} for an empty tensor name or the reserved name `__metadata__`.
 *
 * @example Round trip.
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "./checkpoint.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const bytes = encodeSafetensors(new Map([["w", tensor([[1, 2], [3, 4]])]]), { step: "7" });
 * const back = decodeSafetensors(bytes);
 * assert.deepEqual(back.tensors.get("w")!.shape, [2, 2]);
 * assert.deepEqual(Array.from(back.tensors.get("w")!.data), [1, 2, 3, 4]);
 * assert.equal(back.metadata.step, "7");
 * ```
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "" || name === "__metadata__") {
      throw new RangeError(`encodeSafetensors: ${JSON.stringify(name)} is not a tensor name`);
    }
    const bytes = t.size * 8;
    header[name] = { dtype: "F64", shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Padding the header to 8 bytes aligns every float64 for readers that map the file.
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  json += " ".repeat(padded - headerBytes.length);
  headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.size; i++, at += 8) view.setFloat64(at, t.data[i], true);
  }
  return out;
}

/**
 * The tensors and metadata in safetensors `bytes`. Float64 (`F64`) and float32 (`F32`)
 * tensors are read (the latter widened to float64); any other dtype is refused.
 *
 * @throws {CheckpointError} for a truncated file, a header that is not JSON or not the
 * safetensors layout, offsets that overlap or leave gaps, an unsupported dtype, or an
 * element that is not finite.
 *
 * @example A truncated file is named as such.
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "./checkpoint.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const bytes = encodeSafetensors(new Map([["w", tensor([1, 2, 3])]]));
 * assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4)), /truncated/);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`decodeSafetensors: expected a Uint8Array, got ${typeof bytes}`);
  }
  if (bytes.length < 8) {
    throw new CheckpointError(
      `safetensors: truncated: ${bytes.length} bytes, fewer than the 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER)) {
    throw new CheckpointError(
      `safetensors: header length ${headerLength} is implausible (over ${MAX_HEADER} bytes): ` +
        `not a safetensors file, or corrupt`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > bytes.length) {
    throw new CheckpointError(
      `safetensors: truncated: the header needs ${n} bytes after the first 8, the file has ` +
        `${bytes.length - 8}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (error) {
    throw new CheckpointError(
      `safetensors: the ${n}-byte header is not valid UTF-8 JSON (${(error as Error).message})`,
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new CheckpointError("safetensors: the header is not a JSON object");
  }
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] =
    [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = checkedMetadata(entry);
      continue;
    }
    entries.push({ name, ...checkedEntry(name, entry) });
  }
  // Tensors must tile the data area exactly, as the format requires.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin);
  let expected = 0;
  for (const e of byOffset) {
    if (e.begin !== expected) {
      throw new CheckpointError(
        `safetensors: tensor "${e.name}" starts at byte ${e.begin}, expected ${expected} ` +
          `(tensors must follow one another without gaps or overlaps)`,
      );
    }
    expected = e.end;
  }
  if (expected > dataLength) {
    throw new CheckpointError(
      `safetensors: truncated: the tensors need ${expected} data bytes, the file has ` +
        `${dataLength}`,
    );
  }
  if (expected < dataLength) {
    throw new CheckpointError(
      `safetensors: ${dataLength - expected} bytes after the last tensor: corrupt file`,
    );
  }
  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    const width = e.dtype === "F64" ? 8 : 4;
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const at = dataStart + e.begin + i * width;
      data[i] = width === 8 ? view.getFloat64(at, true) : view.getFloat32(at, true);
      if (!Number.isFinite(data[i])) {
        throw new CheckpointError(
          `safetensors: tensor "${e.name}" element ${i} is ${data[i]}, not a finite number`,
        );
      }
    }
    tensors.set(e.name, new Tensor(data, e.shape));
  }
  return { tensors, metadata };
}

function checkedMetadata(entry: unknown): Record<string, string> {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new CheckpointError("safetensors: __metadata__ must be an object of strings");
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== "string") {
      throw new CheckpointError(`safetensors: __metadata__.${key} is not a string`);
    }
  }
  return entry as Record<string, string>;
}

function checkedEntry(
  name: string,
  entry: unknown,
): { dtype: string; shape: number[]; begin: number; end: number } {
  const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof entry !== "object" || entry === null) {
    throw new CheckpointError(`safetensors: header entry "${name}" is not an object`);
  }
  if (e.dtype !== "F64" && e.dtype !== "F32") {
    throw new CheckpointError(
      `safetensors: tensor "${name}" has dtype ${JSON.stringify(e.dtype)}; only F64 and F32 ` +
        `are read`,
    );
  }
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new CheckpointError(
      `safetensors: tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of sizes`,
    );
  }
  const offsets = e.data_offsets;
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new CheckpointError(
      `safetensors: tensor "${name}" has data_offsets ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as number[];
  const bytes = shape.reduce((a: number, b: number) => a * b, 1) * (e.dtype === "F64" ? 8 : 4);
  if (end - begin !== bytes) {
    throw new CheckpointError(
      `safetensors: tensor "${name}" of shape [${shape.join(",")}] needs ${bytes} bytes, ` +
        `its offsets span ${end - begin}`,
    );
  }
  return { dtype: e.dtype, shape: shape as number[], begin, end };
}

/**
 * Writes `bytes` to `path` so that the file is never seen half-written: the bytes go to a
 * temporary file beside it, which is then renamed over `path` (atomic on one file system).
 *
 * @example
 * ```ts ignore
 * await writeFileAtomic("model.safetensors", encodeSafetensors(tensors));
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${Deno.pid}-${Date.now()}`;
  try {
    await Deno.writeFile(temporary, bytes);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * A model checkpoint: what the model is (`type` and `config`), its parameters by name, and
 * optionally the optimizer and training state needed to resume a run exactly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Checkpoint } from "./checkpoint.ts";
 * import { zeros } from "../tensor/tensor.ts";
 * const checkpoint: Checkpoint = {
 *   type: "bigram",
 *   config: { vocabSize: 3 },
 *   parameters: new Map([["logits", zeros([3, 3])]]),
 * };
 * assert.equal(checkpoint.type, "bigram");
 * ```
 */
export interface Checkpoint {
  /** The model's type, e.g. `"bigram"` or `"transformer"`. */
  readonly type: string;
  /** The model's configuration (JSON-serialisable). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The parameters by name. */
  readonly parameters: ReadonlyMap<string, Tensor>;
  /** Optimizer state: per-parameter tensors by kind (`m`, `v`, …) and JSON scalars. */
  readonly optimizer?: OptimizerCheckpoint;
  /** Anything else the training loop needs to resume (step, best loss…), as JSON. */
  readonly training?: Readonly<Record<string, unknown>>;
}

/**
 * An optimizer's state in a checkpoint: `slots` maps a kind (e.g. `"m"`) to one tensor per
 * parameter name; `scalars` holds the rest (step count, hyperparameters).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OptimizerCheckpoint } from "./checkpoint.ts";
 * const state: OptimizerCheckpoint = { slots: new Map(), scalars: { step: 0 } };
 * assert.equal(state.scalars.step, 0);
 * ```
 */
export interface OptimizerCheckpoint {
  /** Per-parameter state tensors: kind → (parameter name → tensor). */
  readonly slots: ReadonlyMap<string, ReadonlyMap<string, Tensor>>;
  /** The optimizer's scalar state and settings (JSON-serialisable). */
  readonly scalars: Readonly<Record<string, unknown>>;
}

/** Format tag in the metadata, so a safetensors file of another origin is recognised. */
const FORMAT = "dcslm-checkpoint-1";

/**
 * The safetensors bytes of a checkpoint: parameters under their own names, optimizer slots
 * as `optimizer.<kind>.<name>`, and the type, config, optimizer scalars and training state
 * as JSON strings in the metadata.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointFromBytes, checkpointToBytes } from "./checkpoint.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const bytes = checkpointToBytes({
 *   type: "bigram",
 *   config: { vocabSize: 2 },
 *   parameters: new Map([["logits", tensor([[0.5, -1], [2, 0]])]]),
 *   training: { step: 10 },
 * });
 * const back = checkpointFromBytes(bytes);
 * assert.equal(back.type, "bigram");
 * assert.equal(back.training!.step, 10);
 * assert.deepEqual(Array.from(back.parameters.get("logits")!.data), [0.5, -1, 2, 0]);
 * ```
 */
export function checkpointToBytes(checkpoint: Checkpoint): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of checkpoint.parameters) {
    if (name.startsWith("optimizer.")) {
      throw new RangeError(`checkpoint: parameter name "${name}" uses the reserved prefix`);
    }
    tensors.set(name, t);
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
    type: checkpoint.type,
    config: JSON.stringify(checkpoint.config),
  };
  if (checkpoint.optimizer !== undefined) {
    for (const [kind, slot] of checkpoint.optimizer.slots) {
      if (kind.includes(".")) throw new RangeError(`checkpoint: slot kind "${kind}" has a dot`);
      for (const [name, t] of slot) tensors.set(`optimizer.${kind}.${name}`, t);
    }
    metadata.optimizer = JSON.stringify(checkpoint.optimizer.scalars);
  }
  if (checkpoint.training !== undefined) metadata.training = JSON.stringify(checkpoint.training);
  return encodeSafetensors(tensors, metadata);
}

/**
 * The checkpoint in safetensors `bytes` written by {@linkcode checkpointToBytes}.
 *
 * @throws {CheckpointError} for bytes that are not a safetensors file, or one without this
 * library's checkpoint metadata.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointFromBytes, encodeSafetensors } from "./checkpoint.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * const foreign = encodeSafetensors(new Map([["w", tensor([1])]]));
 * assert.throws(() => checkpointFromBytes(foreign), /not a DCSLM checkpoint/);
 * ```
 */
export function checkpointFromBytes(bytes: Uint8Array): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== FORMAT) {
    throw new CheckpointError(
      `checkpoint: not a DCSLM checkpoint (metadata format ${JSON.stringify(metadata.format)}, ` +
        `expected "${FORMAT}")`,
    );
  }
  const parameters = new Map<string, Tensor>();
  const slots = new Map<string, Map<string, Tensor>>();
  for (const [name, t] of tensors) {
    if (!name.startsWith("optimizer.")) {
      parameters.set(name, t);
      continue;
    }
    const rest = name.slice("optimizer.".length);
    const dot = rest.indexOf(".");
    const kind = rest.slice(0, dot);
    if (!slots.has(kind)) slots.set(kind, new Map());
    slots.get(kind)!.set(rest.slice(dot + 1), t);
  }
  const checkpoint: Checkpoint = {
    type: metadata.type,
    config: parseJson("config", metadata.config) as Record<string, unknown>,
    parameters,
    optimizer: metadata.optimizer === undefined ? undefined : {
      slots,
      scalars: parseJson("optimizer", metadata.optimizer) as Record<string, unknown>,
    },
    training: metadata.training === undefined
      ? undefined
      : parseJson("training", metadata.training) as Record<string, unknown>,
  };
  return checkpoint;
}

function parseJson(what: string, text: string | undefined): unknown {
  try {
    const value = JSON.parse(text ?? "");
    if (typeof value !== "object" || value === null) throw new Error("not an object");
    return value;
  } catch (error) {
    throw new CheckpointError(
      `checkpoint: metadata "${what}" is not a JSON object (${(error as Error).message})`,
    );
  }
}

/**
 * Saves `checkpoint` to `path` atomically (temporary file, then rename).
 *
 * @example
 * ```ts ignore
 * await saveCheckpoint("runs/bigram.safetensors", { type, config, parameters });
 * ```
 */
export async function saveCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await writeFileAtomic(path, checkpointToBytes(checkpoint));
}

/**
 * Reads the checkpoint at `path`.
 *
 * @throws {CheckpointError} naming the file when it is not a valid checkpoint.
 *
 * @example
 * ```ts ignore
 * const checkpoint = await loadCheckpoint("runs/bigram.safetensors");
 * ```
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const bytes = await Deno.readFile(path);
  try {
    return checkpointFromBytes(bytes);
  } catch (error) {
    if (error instanceof CheckpointError) throw new CheckpointError(`${path}: ${error.message}`);
    throw error;
  }
}

/**
 * Copies a checkpoint's parameters into a model's `named` parameters, after checking that
 * the checkpoint is of model `type` (when given) and that both hold exactly the same names
 * with the same shapes. Nothing is copied unless everything fits.
 *
 * @throws {CheckpointError} for another model type, a missing or extra parameter, or a
 * shape that differs, naming each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadParametersInto } from "./checkpoint.ts";
 * import { tensor, zeros } from "../tensor/tensor.ts";
 * const model = new Map([["w", zeros([2])]]);
 * const saved = { type: "toy", config: {}, parameters: new Map([["w", tensor([3, 4])]]) };
 * loadParametersInto(model, saved, "toy");
 * assert.deepEqual(Array.from(model.get("w")!.data), [3, 4]);
 * assert.throws(() => loadParametersInto(model, saved, "mlp"), /a "toy" model, not a "mlp"/);
 * const wider = { ...saved, parameters: new Map([["w", tensor([1, 2, 3])]]) };
 * assert.throws(
 *   () => loadParametersInto(model, wider),
 *   /"w" has shape \[3\] in the checkpoint, \[2\] in the model/,
 * );
 * ```
 */
export function loadParametersInto(
  named: ReadonlyMap<string, Tensor>,
  checkpoint: Checkpoint,
  type?: string,
): void {
  if (type !== undefined && checkpoint.type !== type) {
    throw new CheckpointError(
      `checkpoint: it holds a "${checkpoint.type}" model, not a "${type}" model`,
    );
  }
  const parameters = checkpoint.parameters;
  const problems: string[] = [];
  for (const [name, t] of named) {
    const stored = parameters.get(name);
    if (stored === undefined) problems.push(`"${name}" is missing from the checkpoint`);
    else if (stored.shape.join() !== t.shape.join()) {
      problems.push(
        `"${name}" has shape [${stored.shape.join(",")}] in the checkpoint, ` +
          `[${t.shape.join(",")}] in the model`,
      );
    }
  }
  for (const name of parameters.keys()) {
    if (!named.has(name)) problems.push(`"${name}" is in the checkpoint but not in the model`);
  }
  if (problems.length > 0) {
    throw new CheckpointError(`checkpoint does not fit the model: ${problems.join("; ")}`);
  }
  for (const [name, t] of named) t.data.set((parameters.get(name) as Tensor).data);
}
