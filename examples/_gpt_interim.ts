/**
 * Stand-ins used by examples/shakespeare.ts until the shared language-model pieces land:
 * a character vocabulary, nanoGPT's batch sampler, a temperature/top-k sampler and a
 * safetensors reader/writer for the model's weights. Each is the smallest thing that works.
 *
 * @module
 */

import { Tensor } from "../lib/tensor/tensor.ts";
import type { GPT } from "../lib/lm/gpt.ts";
import type { Random } from "../lib/util/random.ts";

/** Characters sorted by code point, as nanoGPT's shakespeare_char/prepare.py. */
export class Chars {
  readonly chars: string[];
  readonly #index = new Map<string, number>();
  constructor(chars: readonly string[]) {
    this.chars = [...chars];
    this.chars.forEach((c, i) => this.#index.set(c, i));
  }
  static fromText(text: string): Chars {
    return new Chars([...new Set(text)].sort());
  }
  get vocabSize(): number {
    return this.chars.length;
  }
  encode(text: string): Int32Array {
    const out = new Int32Array(text.length);
    let i = 0;
    for (const c of text) {
      const id = this.#index.get(c);
      if (id === undefined) {
        throw new RangeError(`Chars.encode: character ${JSON.stringify(c)} at ${i} is unknown`);
      }
      out[i++] = id;
    }
    return out.subarray(0, i);
  }
  decode(ids: ArrayLike<number>): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]];
    return s;
  }
}

/** nanoGPT's get_batch: `batch` random windows x = data[i..i+T), y = data[i+1..i+T]. */
export function randomBatch(
  data: Int32Array,
  batch: number,
  block: number,
  random: Random,
): [Tensor, Tensor] {
  const x = new Float64Array(batch * block);
  const y = new Float64Array(batch * block);
  for (let b = 0; b < batch; b++) {
    const i = random.integer(data.length - block);
    for (let t = 0; t < block; t++) {
      x[b * block + t] = data[i + t];
      y[b * block + t] = data[i + t + 1];
    }
  }
  return [new Tensor(x, [batch, block]), new Tensor(y, [batch, block])];
}

/** Samples from softmax(logits / temperature) restricted to the top k. */
export function sampler(
  random: Random,
  temperature: number,
  topK: number | undefined,
): (logits: Float64Array) => number {
  return (logits) => {
    const scaled = logits.map((l) => l / temperature);
    if (topK !== undefined && topK < scaled.length) {
      const kth = [...scaled].sort((a, b) => b - a)[topK - 1];
      for (let i = 0; i < scaled.length; i++) if (scaled[i] < kth) scaled[i] = -Infinity;
    }
    let max = -Infinity;
    for (const l of scaled) max = Math.max(max, l);
    let total = 0;
    const p = scaled.map((l) => {
      const e = Math.exp(l - max);
      total += e;
      return e;
    });
    let u = random.next() * total;
    for (let i = 0; i < p.length; i++) {
      u -= p[i];
      if (u < 0) return i;
    }
    return p.length - 1;
  };
}

/** Writes the model's named tensors (F64) and string metadata as a safetensors file. */
export function saveSafetensors(
  path: string,
  model: GPT,
  metadata: Record<string, string>,
): void {
  const named = model.namedParameters();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of named) {
    header[name] = { dtype: "F64", shape: t.shape, data_offsets: [offset, offset + t.size * 8] };
    offset += t.size * 8;
  }
  let json = JSON.stringify(header);
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of named) {
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.size * 8), at);
    at += t.size * 8;
  }
  Deno.writeFileSync(path + ".tmp", bytes);
  Deno.renameSync(path + ".tmp", path);
}

/** The metadata of a safetensors file written by {@linkcode saveSafetensors}. */
export function readMetadata(path: string): Record<string, string> {
  const bytes = Deno.readFileSync(path);
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  return header.__metadata__ ?? {};
}

/** Copies the tensors of a safetensors file into the model's parameters of the same names. */
export function loadSafetensors(path: string, model: GPT): void {
  const bytes = Deno.readFileSync(path);
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const body = bytes.slice(8 + length);
  for (const [name, t] of model.namedParameters()) {
    const entry = header[name];
    if (entry === undefined) throw new RangeError(`${path}: no tensor ${name}`);
    const [from, to] = entry.data_offsets as [number, number];
    if (entry.dtype !== "F64" || to - from !== t.size * 8) {
      throw new RangeError(`${path}: ${name} is ${entry.dtype} ${entry.shape}, not F64 ${t.shape}`);
    }
    t.data.set(new Float64Array(body.buffer, from, t.size));
  }
}
