/**
 * fast-check arbitraries built from the tensor op registry's plain-data cases (symbolic
 * shapes, value domains, parameter rules), so that lib/ never imports a test library.
 */

import { fc } from "../_seed.ts";
import type { Dim, OpCase, ParamSpec, TensorInputSpec } from "../../lib/tensor/ops.ts";
import { Tensor } from "../../lib/tensor/tensor.ts";
import { domainArbitrary } from "../scalar/_arbitraries.ts";

/** One drawn call of an op: its inputs (data and shape) and its parameter object. */
export interface DrawnCall {
  readonly inputs: readonly { readonly data: readonly number[]; readonly shape: number[] }[];
  readonly params: Record<string, unknown> | undefined;
}

/** Fresh constant tensors of a drawn call's inputs. */
export function drawnTensors(call: DrawnCall): Tensor[] {
  return call.inputs.map((t) => new Tensor(Float64Array.from(t.data), t.shape));
}

const DEFAULT_SIZES: readonly [number, number] = [1, 3];

function symbolsOf(c: OpCase): string[] {
  const names = new Set<string>();
  const add = (dims: readonly Dim[]) => {
    for (const d of dims) if (typeof d === "string" && d !== "...") names.add(d);
  };
  for (const input of c.inputs) add(input.shape);
  for (const spec of Object.values(c.params ?? {})) {
    if (spec.kind === "indices") {
      add(spec.shape);
      names.add(spec.below);
    }
  }
  return [...names];
}

function resolve(dims: readonly Dim[], sizes: Record<string, number>): number[] {
  return dims.map((d) => (typeof d === "number" ? d : sizes[d]));
}

/** Shapes of the inputs: symbols resolved, the "..." batch shortened or collapsed per input. */
function shapesArbitrary(
  c: OpCase,
): fc.Arbitrary<{ shapes: number[][]; sizes: Record<string, number> }> {
  const symbolArbs: Record<string, fc.Arbitrary<number>> = {};
  for (const name of symbolsOf(c)) {
    const [min, max] = c.sizes?.[name] ?? DEFAULT_SIZES;
    symbolArbs[name] = fc.integer({ min, max });
  }
  const batchArb = fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: c.maxBatchRank ?? 2 });
  return fc.tuple(fc.record(symbolArbs), batchArb).chain(([sizes, batch]) => {
    const perInput = c.inputs.map((input) =>
      input.shape[0] === "..."
        ? fc.tuple(
          fc.nat(batch.length),
          fc.array(fc.boolean(), { minLength: batch.length, maxLength: batch.length }),
        )
        : fc.constant<[number, boolean[]]>([0, []])
    );
    return fc.tuple(...perInput).map((choices) => {
      // When only one input has a batch, it keeps it whole (there is nothing to broadcast
      // against); otherwise each input drops some leading axes and collapses others to 1.
      const batched = c.inputs.filter((input) => input.shape[0] === "...").length;
      const shapes = c.inputs.map((input, i) => {
        const rest = resolve(input.shape[0] === "..." ? input.shape.slice(1) : input.shape, sizes);
        if (input.shape[0] !== "...") return rest;
        if (batched < 2) return [...batch, ...rest];
        const [drop, ones] = choices[i];
        const own = batch.map((s, axis) => (ones[axis] ? 1 : s)).slice(drop);
        return [...own, ...rest];
      });
      return { shapes, sizes };
    });
  });
}

function valuesArbitrary(spec: TensorInputSpec, size: number): fc.Arbitrary<number[]> {
  const gap = spec.separation;
  if (gap === undefined) {
    return fc.array(domainArbitrary(spec.domain), { minLength: size, maxLength: size });
  }
  // Distinct points of a grid of spacing `gap` (a filter on random doubles would starve:
  // fast-check favours a few special values, so ties would be common).
  const { min, max } = spec.domain;
  const steps = Math.floor((max - min) / gap);
  if (steps + 1 < size) throw new RangeError(`separation ${gap} leaves too few values`);
  return fc.uniqueArray(fc.integer({ min: 0, max: steps }), { minLength: size, maxLength: size })
    .map((ks) => ks.map((k) => min + k * gap));
}

function primeFactors(n: number): number[] {
  const factors: number[] = [];
  for (let p = 2; n > 1; p++) {
    while (n % p === 0) {
      factors.push(p);
      n /= p;
    }
  }
  return factors;
}

function product(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

function paramArbitrary(
  spec: ParamSpec,
  shapes: number[][],
  sizes: Record<string, number>,
): fc.Arbitrary<unknown> {
  switch (spec.kind) {
    case "constant":
      return fc.constant(spec.value);
    case "oneOf":
      return fc.constantFrom(...spec.values);
    case "axis": {
      const rank = shapes[spec.input].length;
      if (rank === 0) return fc.constant(undefined);
      const axis = fc.integer({ min: -rank, max: rank - 1 });
      return spec.optional ? fc.option(axis, { nil: undefined }) : axis;
    }
    case "newAxis": {
      const rank = shapes[spec.input].length;
      return fc.integer({ min: -rank - 1, max: rank });
    }
    case "permutation": {
      const rank = shapes[spec.input].length;
      const axes = [...Array(rank).keys()];
      return fc.tuple(
        fc.shuffledSubarray(axes, { minLength: rank, maxLength: rank }),
        fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
      ).map(([perm, negative]) => perm.map((a, i) => (negative[i] ? a - rank : a)));
    }
    case "reshape": {
      const factors = primeFactors(product(shapes[spec.input]));
      return fc.tuple(
        fc.array(fc.nat(3), { minLength: factors.length, maxLength: factors.length }),
        fc.nat(4),
        fc.option(fc.nat(3), { nil: undefined }),
      ).map(([buckets, rank, wildcard]) => {
        const dims = new Array<number>(Math.max(rank, ...buckets.map((b) => b + 1))).fill(1);
        factors.forEach((f, i) => (dims[buckets[i]] *= f));
        if (wildcard !== undefined && wildcard < dims.length) dims[wildcard] = -1;
        return dims;
      });
    }
    case "slice": {
      const shape = shapes[spec.input];
      return fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) => {
        const size = shape[axis];
        return fc.tuple(
          fc.integer({ min: 0, max: size - 1 }),
          fc.integer({ min: 1, max: size }),
          fc.boolean(),
          fc.boolean(),
        ).map(([start, length, negativeStart, negativeAxis]) => {
          const end = Math.min(size, start + length);
          return {
            axis: negativeAxis ? axis - shape.length : axis,
            start: negativeStart ? start - size : start,
            end: end === size ? undefined : end,
          };
        });
      });
    }
    case "indices": {
      const shape = resolve(spec.shape, sizes);
      const count = product(shape);
      return fc.array(fc.nat(sizes[spec.below] - 1), { minLength: count, maxLength: count })
        .map((values) => ({ values, shape }));
    }
  }
}

/** Calls of an op drawn from one of its cases. */
export function opCallArbitrary(c: OpCase): fc.Arbitrary<DrawnCall> {
  return shapesArbitrary(c).chain(({ shapes, sizes }): fc.Arbitrary<DrawnCall> => {
    const inputs = fc.tuple(
      ...c.inputs.map((spec, i) =>
        valuesArbitrary(spec, product(shapes[i])).map((data) => ({ data, shape: shapes[i] }))
      ),
    );
    const entries = Object.entries(c.params ?? {});
    if (entries.length === 0) {
      return inputs.map((xs) => ({ inputs: xs, params: undefined }));
    }
    const paramArbs: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, spec] of entries) paramArbs[name] = paramArbitrary(spec, shapes, sizes);
    return fc.tuple(inputs, fc.record(paramArbs)).map(([xs, drawn]) => {
      // A slice's axis, start and end are drawn jointly, then spread into the parameters.
      const params: Record<string, unknown> = {};
      for (const [name, spec] of entries) {
        if (spec.kind === "slice") Object.assign(params, drawn[name]);
        else params[name] = drawn[name];
      }
      return { inputs: xs, params };
    });
  });
}
