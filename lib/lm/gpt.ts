/**
 * A GPT: a decoder-only transformer language model (Radford et al., 2018/2019), written as
 * nanoGPT's `model.py` is, from the tensor engine's ops.
 *
 * ```text
 * x = wte[idx] + wpe[0..T)                       token + learned position embeddings
 * for each of n_layer blocks (pre-LayerNorm):
 *   x = x + proj(attention(ln_1(x)))              causal multi-head self-attention
 *   x = x + proj(gelu(fc(ln_2(x))))               4× MLP
 * logits = lm_head(ln_f(x))                      lm_head tied to wte (or its own weight)
 * ```
 *
 * Attention is the registry's fused `selfAttention` op in training and evaluation: the heads
 * read straight from the q|k|v projection, and scores, causal mask, softmax and weighted sum
 * in one op, gradient-checked like every op. Generation keeps a cache of each layer's keys
 * and values (split into heads, with the `attention` op), so a new token costs one position
 * of computation instead of the whole context.
 *
 * @module
 */

import { type Random, randomSourceOf, type SeedOptions } from "../util/random.ts";
import { attention, concat, linear, noGrad, selfAttention, Tensor } from "../tensor/tensor.ts";
import { Dropout, Embedding, LayerNorm, Linear } from "../nn/modules.ts";
import type { TokenIds } from "./model.ts";
import type { DType } from "../tensor/mod.ts";

/**
 * The shape and training-time options of a {@linkcode GPT}.
 *
 * @example nanoGPT's CPU configuration for character-level Shakespeare.
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GPTConfig } from "./gpt.ts";
 * const config: GPTConfig = { vocabSize: 74, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 };
 * assert.equal(config.nEmbd % config.nHead, 0);
 * ```
 */
export interface GPTConfig {
  /** How many distinct tokens there are. */
  readonly vocabSize: number;
  /** The longest context the model sees (the size of the position table). */
  readonly blockSize: number;
  /** How many transformer blocks. */
  readonly nLayer: number;
  /** Attention heads per block; must divide `nEmbd`. */
  readonly nHead: number;
  /** Width of the residual stream. */
  readonly nEmbd: number;
  /** Dropout probability on embeddings, attention weights and residual branches (default 0). */
  readonly dropout?: number;
  /** Whether Linear layers and LayerNorms have biases (default true). */
  readonly bias?: boolean;
  /** Whether the output head reuses the token embedding's table (default true, as GPT-2). */
  readonly tieWeights?: boolean;
  /**
   * How weights start: `"gpt2"` (default) draws every Linear and Embedding weight from
   * N(0, 0.02²), the residual projections from N(0, (0.02/√(2·nLayer))²), biases 0;
   * `"pytorch"` keeps PyTorch's defaults (Linear uniform ±1/√in, Embedding N(0, 1)), as
   * makemore's transformer does.
   */
  readonly init?: "gpt2" | "pytorch";
  /**
   * Seed of the initial weights and of the dropout masks. Required when a model is built
   * (the library's seeding policy: nothing random without a seed); optional in the type so
   * that a config can describe a shape alone.
   */
  readonly seed?: number;
  /**
   * Element type of the parameters, and so of every activation: `"float64"` (default, as the
   * gradient checks need) or `"float32"` (as PyTorch trains: half the memory traffic, and the
   * matrix kernels do four lanes a vector instead of two). The same initial draws, rounded.
   */
  readonly dtype?: DType;
}

/**
 * The keys and values of every layer seen so far, for generation one token at a time.
 * Create one with {@linkcode GPT.newCache}; `length` is the number of cached positions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT } from "./gpt.ts";
 * const gpt = new GPT({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4, seed: 1 });
 * const cache = gpt.newCache();
 * gpt.forward([[1, 2]], { cache });
 * assert.equal(cache.length, 2);
 * ```
 */
export class KVCache {
  /** Per layer, the keys `[B, nHead, length, headSize]` (null before the first token). */
  readonly keys: (Tensor | null)[];
  /** Per layer, the values `[B, nHead, length, headSize]`. */
  readonly values: (Tensor | null)[];

  /** An empty cache for `nLayer` layers. */
  constructor(nLayer: number) {
    this.keys = new Array(nLayer).fill(null);
    this.values = new Array(nLayer).fill(null);
  }

  /** How many positions are cached. */
  get length(): number {
    const k = this.keys[0];
    return k === null ? 0 : k.shape[2];
  }

  /** Forgets every position. */
  clear(): void {
    this.keys.fill(null);
    this.values.fill(null);
  }
}

/**
 * The sizes of a transformer block (or of its attention) and where its initial weights come
 * from: a `seed`, or a `source` to draw from (one is required).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BlockOptions } from "./gpt.ts";
 * const options: BlockOptions = { nEmbd: 8, nHead: 2, seed: 1 };
 * assert.equal(options.nEmbd % options.nHead, 0);
 * ```
 */
export interface BlockOptions extends SeedOptions {
  /** Width of the residual stream. */
  readonly nEmbd: number;
  /** Attention heads; must divide `nEmbd`. */
  readonly nHead: number;
  /** Dropout probability (default 0). */
  readonly dropout?: number;
  /** Whether the Linear layers have biases (default true). */
  readonly bias?: boolean;
  /** Element type of the parameters (default `"float64"`; see {@linkcode GPTConfig.dtype}). */
  readonly dtype?: DType;
}

/**
 * Causal multi-head self-attention: each position mixes the values of itself and the
 * positions before it, weighted by softmax(q·kᵀ/√d), in `nHead` heads side by side.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CausalSelfAttention } from "./gpt.ts";
 * import { randn } from "../tensor/tensor.ts";
 * const attention = new CausalSelfAttention({ nEmbd: 8, nHead: 2, seed: 1 });
 * const y = attention.forward(randn([1, 3, 8], { seed: 1 }));
 * assert.deepEqual(y.shape, [1, 3, 8]);
 * ```
 */
export class CausalSelfAttention {
  /** Queries, keys and values of every head at once: `nEmbd → 3·nEmbd`. */
  readonly cAttn: Linear;
  /** The output projection back into the residual stream: `nEmbd → nEmbd`. */
  readonly cProj: Linear;
  /** Dropout on the attention weights. */
  readonly attnDropout: Dropout;
  /** Dropout on the output. */
  readonly residDropout: Dropout;
  /** Heads. */
  readonly nHead: number;
  /** Width of the residual stream. */
  readonly nEmbd: number;

  /** Attention over `nEmbd`-wide vectors in `nHead` heads. */
  constructor(options: BlockOptions) {
    const { nEmbd, nHead, dtype } = options;
    if (!Number.isSafeInteger(nHead) || nHead <= 0 || nEmbd % nHead !== 0) {
      throw new RangeError(
        `CausalSelfAttention: nHead must be a positive integer dividing nEmbd (${nEmbd}), ` +
          `got ${nHead}`,
      );
    }
    const random = randomSourceOf("CausalSelfAttention", options);
    const bias = options.bias ?? true;
    this.nEmbd = nEmbd;
    this.nHead = nHead;
    this.cAttn = new Linear(nEmbd, 3 * nEmbd, { bias, source: random, dtype });
    this.cProj = new Linear(nEmbd, nEmbd, { bias, source: random, dtype });
    this.attnDropout = new Dropout(options.dropout ?? 0, { source: random });
    this.residDropout = new Dropout(options.dropout ?? 0, { source: random });
  }

  /**
   * `x` `[B, T, C]` attended causally. With a `cache` (and its `layer`), the keys and values
   * of `x` are appended to those cached, and each query sees every cached position too.
   */
  forward(x: Tensor, cache?: KVCache, layer = 0): Tensor {
    const [batch, time, channels] = x.shape;
    const nHead = this.nHead;
    const headSize = channels / nHead;
    const qkv = this.cAttn.forward(x);
    const weightDropout = this.attnDropout;
    if (cache === undefined && (weightDropout.p === 0 || !weightDropout.training)) {
      // Training and evaluation without a cache: heads read straight from q|k|v, one op.
      return dropped(this.residDropout, this.cProj.forward(selfAttention(qkv, { heads: nHead })));
    }
    // [B, T, C] → [B, nHead, T, headSize]
    const heads = (start: number): Tensor =>
      qkv.slice({ axis: 2, start, end: start + channels })
        .reshape([batch, time, nHead, headSize])
        .permute([0, 2, 1, 3]);
    const q = heads(0);
    let k = heads(channels);
    let v = heads(2 * channels);
    if (cache !== undefined) {
      const pastK = cache.keys[layer];
      const pastV = cache.values[layer];
      if (pastK !== null && pastV !== null) {
        k = concat([pastK, k], 2);
        v = concat([pastV, v], 2);
      }
      cache.keys[layer] = k;
      cache.values[layer] = v;
    }
    // Query i (at absolute position past + i) sees keys 0..past + i.
    const y = causalAttention(q, k, v, this.attnDropout) // [B, nHead, T, headSize]
      .permute([0, 2, 1, 3])
      .reshape([batch, time, channels]);
    return dropped(this.residDropout, this.cProj.forward(y));
  }

  /** The attention's trained tensors, in order: cAttn then cProj. */
  parameters(): Tensor[] {
    return [...this.cAttn.parameters(), ...this.cProj.parameters()];
  }
}

/**
 * One pre-LayerNorm transformer block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))` with a
 * 4× wide GELU MLP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Block } from "./gpt.ts";
 * import { randn } from "../tensor/tensor.ts";
 * const block = new Block({ nEmbd: 8, nHead: 2, seed: 1 });
 * assert.deepEqual(block.forward(randn([2, 3, 8], { seed: 1 })).shape, [2, 3, 8]);
 * ```
 */
export class Block {
  /** LayerNorm before attention. */
  readonly ln1: LayerNorm;
  /** The attention. */
  readonly attn: CausalSelfAttention;
  /** LayerNorm before the MLP. */
  readonly ln2: LayerNorm;
  /** The MLP's widening layer, `nEmbd → 4·nEmbd`. */
  readonly cFc: Linear;
  /** The MLP's projection back, `4·nEmbd → nEmbd`. */
  readonly cProj: Linear;
  /** Dropout on the MLP's output. */
  readonly mlpDropout: Dropout;

  /** A block of width `nEmbd` with `nHead` attention heads. */
  constructor(options: BlockOptions) {
    const random = randomSourceOf("Block", options);
    const bias = options.bias ?? true;
    const { nEmbd, nHead, dropout, dtype } = options;
    this.ln1 = new LayerNorm(nEmbd, { dtype });
    this.attn = new CausalSelfAttention({ nEmbd, nHead, dropout, bias, dtype, source: random });
    this.ln2 = new LayerNorm(nEmbd, { dtype });
    this.cFc = new Linear(nEmbd, 4 * nEmbd, { bias, source: random, dtype });
    this.cProj = new Linear(4 * nEmbd, nEmbd, { bias, source: random, dtype });
    this.mlpDropout = new Dropout(dropout ?? 0, { source: random });
  }

  /** `x` `[B, T, C]` through the block (see {@linkcode CausalSelfAttention.forward}). */
  forward(x: Tensor, cache?: KVCache, layer = 0): Tensor {
    const attended = x.add(this.attn.forward(this.ln1.forward(x), cache, layer));
    const mlp = dropped(
      this.mlpDropout,
      this.cProj.forward(this.cFc.forward(this.ln2.forward(attended)).gelu()),
    );
    return attended.add(mlp);
  }
}

/**
 * Options of {@linkcode GPT.forward}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GPTForwardOptions } from "./gpt.ts";
 * const options: GPTForwardOptions = { targets: [[2, 3]] };
 * assert.ok(options.cache === undefined);
 * ```
 */
export interface GPTForwardOptions {
  /** Next-token targets, same shape as the input: the loss is their mean cross-entropy. */
  readonly targets?: TokenIds;
  /** Keys and values of earlier positions; this call's are appended to it. */
  readonly cache?: KVCache;
}

/**
 * What {@linkcode GPT.forward} returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT, type GPTOutput } from "./gpt.ts";
 * const gpt = new GPT({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4, seed: 1 });
 * const out: GPTOutput = gpt.forward([[1, 2, 3]], { targets: [[2, 3, 4]] });
 * assert.ok(out.loss !== null && out.logits.shape.join() === "1,3,5");
 * ```
 */
export interface GPTOutput {
  /** Next-token logits `[B, T, vocabSize]`. */
  readonly logits: Tensor;
  /** Mean cross-entropy against the targets, or null without targets. */
  readonly loss: Tensor | null;
}

/**
 * A GPT language model (nanoGPT's `GPT`): see the module documentation for its structure.
 * Parameter names follow nanoGPT's (`transformer.h.0.attn.c_attn.weight`, …), so that a
 * checkpoint's tensors line up with PyTorch's one to one.
 *
 * @example Train a step, then read next-token probabilities.
 * ```ts
 * import assert from "node:assert/strict";
 * import { GPT } from "./gpt.ts";
 * const gpt = new GPT({ vocabSize: 6, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8, seed: 1 });
 * const { loss } = gpt.forward([[0, 1, 2, 3]], { targets: [[1, 2, 3, 4]] });
 * assert.ok(Math.abs(loss!.item() - Math.log(6)) < 0.1); // small init: near uniform
 * loss!.backward();
 * assert.ok(gpt.parameters().every((p) => p.grad !== null));
 * ```
 */
export class GPT {
  /** The configuration, defaults filled in. */
  readonly config: Readonly<Required<GPTConfig>>;
  /** Token embedding `[vocabSize, nEmbd]` (also the output head when tied). */
  readonly wte: Embedding;
  /** Position embedding `[blockSize, nEmbd]`. */
  readonly wpe: Embedding;
  /** Dropout after the embeddings. */
  readonly drop: Dropout;
  /** The transformer blocks. */
  readonly blocks: readonly Block[];
  /** The final LayerNorm. */
  readonly lnF: LayerNorm;
  /** The output head's weight `[vocabSize, nEmbd]`: `wte.weight` itself when tied. */
  readonly lmHead: Tensor;

  /**
   * A freshly initialised model.
   *
   * @throws {RangeError} when a size is not a positive integer, `nHead` does not divide
   * `nEmbd`, `dropout` is not in [0, 1) or `init` is unknown.
   */
  constructor(config: GPTConfig) {
    const full: Required<GPTConfig> = {
      dropout: 0,
      bias: true,
      tieWeights: true,
      init: "gpt2",
      dtype: "float64",
      ...config,
      seed: config.seed as number,
    };
    for (const key of ["vocabSize", "blockSize", "nLayer", "nHead", "nEmbd"] as const) {
      const n = full[key];
      if (!Number.isSafeInteger(n) || n <= 0) {
        throw new RangeError(`GPT: ${key} must be a positive integer, got ${n}`);
      }
    }
    if (full.nEmbd % full.nHead !== 0) {
      throw new RangeError(`GPT: nHead (${full.nHead}) must divide nEmbd (${full.nEmbd})`);
    }
    if (!(full.dropout >= 0 && full.dropout < 1)) {
      throw new RangeError(`GPT: dropout must be in [0, 1), got ${full.dropout}`);
    }
    if (full.init !== "gpt2" && full.init !== "pytorch") {
      throw new RangeError(`GPT: init must be "gpt2" or "pytorch", got ${String(full.init)}`);
    }
    if (full.dtype !== "float64" && full.dtype !== "float32") {
      throw new RangeError(`GPT: dtype must be "float64" or "float32", got ${String(full.dtype)}`);
    }
    // With a seed (never a source) the policy's generator is a Random, whose normal() GPT-2's
    // initialisation draws from.
    const random = randomSourceOf("GPT", { seed: config.seed }) as Random;
    this.config = Object.freeze(full);
    const { vocabSize, blockSize, nLayer, nEmbd, dropout, bias, dtype } = full;
    this.wte = new Embedding(vocabSize, nEmbd, { source: random, dtype });
    this.wpe = new Embedding(blockSize, nEmbd, { source: random, dtype });
    this.drop = new Dropout(dropout, { source: random });
    const blocks: Block[] = [];
    for (let i = 0; i < nLayer; i++) {
      blocks.push(new Block({ nEmbd, nHead: full.nHead, dropout, bias, source: random, dtype }));
    }
    this.blocks = blocks;
    this.lnF = new LayerNorm(nEmbd, { dtype });
    this.lmHead = full.tieWeights
      ? this.wte.weight
      : new Linear(nEmbd, vocabSize, { bias: false, source: random, dtype }).weight;
    if (full.init === "gpt2") this.#initGpt2(random);
  }

  #initGpt2(random: Random): void {
    const std = 0.02;
    const residualStd = 0.02 / Math.sqrt(2 * this.config.nLayer);
    const normal = (t: Tensor, s: number) => {
      for (let i = 0; i < t.data.length; i++) t.data[i] = s * random.normal();
    };
    normal(this.wte.weight, std);
    normal(this.wpe.weight, std);
    for (const block of this.blocks) {
      normal(block.attn.cAttn.weight, std);
      normal(block.attn.cProj.weight, residualStd);
      normal(block.cFc.weight, std);
      normal(block.cProj.weight, residualStd);
    }
    if (!this.config.tieWeights) normal(this.lmHead, std);
  }

  /**
   * Every trained tensor with its nanoGPT name, each tensor once (a tied head is the token
   * embedding and is listed under `transformer.wte.weight` only). Without biases, the
   * LayerNorms' zero shifts are not trained and not listed.
   */
  namedParameters(): Map<string, Tensor> {
    const named = new Map<string, Tensor>();
    const bias = this.config.bias;
    const add = (name: string, t: Tensor | null) => {
      if (t !== null) named.set(name, t);
    };
    const linear = (name: string, l: Linear) => {
      add(`${name}.weight`, l.weight);
      add(`${name}.bias`, l.bias);
    };
    const norm = (name: string, n: LayerNorm) => {
      add(`${name}.weight`, n.weight);
      if (bias) add(`${name}.bias`, n.bias);
    };
    add("transformer.wte.weight", this.wte.weight);
    add("transformer.wpe.weight", this.wpe.weight);
    this.blocks.forEach((block, i) => {
      const at = `transformer.h.${i}`;
      norm(`${at}.ln_1`, block.ln1);
      linear(`${at}.attn.c_attn`, block.attn.cAttn);
      linear(`${at}.attn.c_proj`, block.attn.cProj);
      norm(`${at}.ln_2`, block.ln2);
      linear(`${at}.mlp.c_fc`, block.cFc);
      linear(`${at}.mlp.c_proj`, block.cProj);
    });
    norm("transformer.ln_f", this.lnF);
    if (!this.config.tieWeights) add("lm_head.weight", this.lmHead);
    return named;
  }

  /** Every trained tensor, each once, in {@linkcode namedParameters}' order. */
  parameters(): Tensor[] {
    return [...this.namedParameters().values()];
  }

  /** How many numbers are trained (the tied head counted once). */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Dropout on (`true`, training) or off (`false`, evaluation and generation). */
  train(training: boolean): void {
    this.drop.training = training;
    for (const block of this.blocks) {
      block.attn.attnDropout.training = training;
      block.attn.residDropout.training = training;
      block.mlpDropout.training = training;
    }
  }

  /** An empty key/value cache for generation. */
  newCache(): KVCache {
    return new KVCache(this.config.nLayer);
  }

  /**
   * Logits for every position of `idx` (`B` rows of `T` token ids, or one flat row), and the
   * loss when `targets` are given. With a `cache`, `idx` continues the cached positions.
   *
   * @throws {RangeError} when rows differ in length, a token is not in the vocabulary, or
   * the positions would pass `blockSize`.
   */
  forward(
    idx: TokenIds,
    options?: GPTForwardOptions,
  ): GPTOutput {
    const [tokens, batch, time] = tokenGrid("idx", idx);
    const { vocabSize, blockSize } = this.config;
    const cache = options?.cache;
    const start = cache === undefined ? 0 : cache.length;
    if (start + time > blockSize) {
      throw new RangeError(
        `GPT.forward: positions ${start}..${start + time - 1} pass the block size ${blockSize}`,
      );
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= vocabSize) {
        throw new RangeError(`GPT.forward: token ${t} at ${i} is not in [0, ${vocabSize})`);
      }
    }
    const positions = new Float64Array(time);
    for (let t = 0; t < time; t++) positions[t] = start + t;
    const tok = this.wte.forward(new Tensor(tokens, [batch, time]));
    const pos = this.wpe.forward(positions);
    let x = dropped(this.drop, tok.add(pos));
    this.blocks.forEach((block, layer) => {
      x = block.forward(x, cache, layer);
    });
    const logits = linear(this.lnF.forward(x), this.lmHead);
    if (options?.targets === undefined) return { logits, loss: null };
    const [targets, tb, tt] = tokenGrid("targets", options.targets);
    if (tb !== batch || tt !== time) {
      throw new RangeError(
        `GPT.forward: targets are ${tb}×${tt}, the input ${batch}×${time}`,
      );
    }
    return { logits, loss: logits.crossEntropy(new Tensor(targets, [batch, time])) };
  }
}

/**
 * Options of {@linkcode generate}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GenerateOptions } from "./gpt.ts";
 * const options: GenerateOptions = { maxNewTokens: 10, pick: (p) => p.indexOf(Math.max(...p)) };
 * assert.equal(options.maxNewTokens, 10);
 * ```
 */
export interface GenerateOptions {
  /** How many tokens to generate. */
  readonly maxNewTokens: number;
  /**
   * Chooses the next token from the last position's logits (a fresh array the function may
   * change), e.g. a temperature/top-k sampler or argmax.
   */
  readonly pick: (logits: Float64Array) => number;
  /** Whether to keep a key/value cache (default true): same tokens, less work. */
  readonly cache?: boolean;
}

/**
 * Generates tokens after `prompt`, one at a time, yielding each as soon as it is chosen
 * (for streaming). The model runs in evaluation mode without a graph.
 *
 * The context is at most `blockSize` tokens. When it is full, it restarts from its last
 * `⌊blockSize/2⌋` tokens (their positions renumbered from 0), so the cached keys and values
 * are rebuilt once per `blockSize/2` tokens rather than for every token as a sliding window
 * would need. With or without the cache, the context follows this rule, so both give the
 * same tokens.
 *
 * @throws {RangeError} when the prompt is empty or holds a token outside the vocabulary.
 *
 * @example Greedy continuation.
 * ```ts
 * import assert from "node:assert/strict";
 * import { generate, GPT } from "./gpt.ts";
 * const gpt = new GPT({ vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 4, seed: 1 });
 * const argmax = (l: Float64Array) => l.indexOf(Math.max(...l));
 * const tokens = [...generate(gpt, [1, 2], { maxNewTokens: 6, pick: argmax })];
 * assert.equal(tokens.length, 6);
 * ```
 */
export function* generate(
  model: GPT,
  prompt: readonly number[],
  options: GenerateOptions,
): Generator<number, void, undefined> {
  const { blockSize, vocabSize } = model.config;
  if (prompt.length === 0) throw new RangeError("generate: the prompt is empty");
  if (!Number.isSafeInteger(options.maxNewTokens) || options.maxNewTokens < 0) {
    throw new RangeError(
      `generate: maxNewTokens must be a whole number ≥ 0, got ${options.maxNewTokens}`,
    );
  }
  const useCache = options.cache ?? true;
  const keep = Math.max(1, Math.floor(blockSize / 2));
  // The context: the last blockSize tokens of the prompt to start with.
  let context = prompt.slice(-blockSize);
  const cache = model.newCache();
  let pending = context; // tokens not yet in the cache
  model.train(false);
  try {
    for (let n = 0; n < options.maxNewTokens; n++) {
      const logits = noGrad(() => {
        if (!useCache) return model.forward([context]).logits;
        return model.forward([pending], { cache }).logits;
      });
      const last = Float64Array.from(logits.data.subarray(logits.data.length - vocabSize));
      const next = options.pick(last);
      if (!Number.isInteger(next) || next < 0 || next >= vocabSize) {
        throw new RangeError(`generate: pick chose ${next}, not a token in [0, ${vocabSize})`);
      }
      yield next;
      if (context.length === blockSize) {
        context = [...context.slice(context.length - keep + 1), next];
        cache.clear();
        pending = context;
      } else {
        context = [...context, next];
        pending = [next];
      }
    }
  } finally {
    model.train(true);
  }
}

/**
 * softmax(q·kᵀ/√d)·v, each query seeing the keys of its own and earlier positions (the
 * queries are the last positions of the keys): the fused `attention` op, or, when dropout
 * on the attention weights is on, the same made of matmul, tril and softmax with the
 * dropout between softmax and the weighted sum.
 */
function causalAttention(q: Tensor, k: Tensor, v: Tensor, weightDropout: Dropout): Tensor {
  if (weightDropout.p === 0 || !weightDropout.training) return attention(q, k, v);
  const past = k.shape[2] - q.shape[2];
  // Column ≤ row + past; −1e9 instead of −∞ keeps every value finite (its exp is exactly 0).
  const scores = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(q.shape[3]))
    .tril({ diagonal: past, fill: -1e9 });
  return weightDropout.forward(scores.softmax(-1)).matmul(v);
}

/** `x` through dropout, skipped outright when p is 0 (no mask to draw, no graph node). */
function dropped(dropout: Dropout, x: Tensor): Tensor {
  return dropout.p === 0 ? x : dropout.forward(x);
}

/** Flat token ids of a grid of rows, with its batch and time sizes. */
function tokenGrid(
  what: string,
  grid: TokenIds,
): [Float64Array, number, number] {
  if (grid instanceof Tensor) {
    if (grid.shape.length !== 2) {
      throw new RangeError(`GPT.forward: ${what} must be [B, T], got [${grid.shape.join(", ")}]`);
    }
    return [Float64Array.from(grid.data), grid.shape[0], grid.shape[1]];
  }
  if (!Array.isArray(grid) || grid.length === 0) {
    throw new RangeError(`GPT.forward: ${what} must be a non-empty array of rows`);
  }
  const batch = grid.length;
  const time = grid[0].length;
  if (time === 0) throw new RangeError(`GPT.forward: ${what} rows are empty`);
  const flat = new Float64Array(batch * time);
  for (let b = 0; b < batch; b++) {
    if (grid[b].length !== time) {
      throw new RangeError(
        `GPT.forward: ${what} row ${b} has ${grid[b].length} tokens, row 0 has ${time}`,
      );
    }
    for (let t = 0; t < time; t++) flat[b * time + t] = grid[b][t];
  }
  return [flat, batch, time];
}
