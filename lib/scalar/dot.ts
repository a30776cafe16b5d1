/**
 * Drawing a computational graph: `toDot` writes the graph a `Value` depends on in Graphviz's
 * DOT language, the way micrograd's `draw_dot` does, so `dot -Tsvg` can render it.
 *
 * @module
 */

import { topologicalOrder, Value } from "./value.ts";

/**
 * Options of {@linkcode toDot}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DotOptions } from "./dot.ts";
 * const options: DotOptions = { rankdir: "TB", digits: 6, maxNodes: 500 };
 * assert.ok(options.rankdir === "TB");
 * ```
 */
export interface DotOptions {
  /** Direction of the drawing: `"LR"` left to right (default) or `"TB"` top to bottom. */
  readonly rankdir?: "LR" | "TB";
  /** Significant digits shown for `data` and `grad`: an integer in [1, 17] (default 4). */
  readonly digits?: number;
  /**
   * Most Values the graph may hold (default {@linkcode DEFAULT_DOT_MAX_NODES}); a larger graph
   * is refused, since Graphviz cannot lay it out in reasonable time anyway. `Infinity` lifts
   * the limit.
   */
  readonly maxNodes?: number;
}

/**
 * How many Values {@linkcode toDot} draws unless its options say otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_DOT_MAX_NODES } from "./dot.ts";
 * assert.ok(DEFAULT_DOT_MAX_NODES === 10_000);
 * ```
 */
export const DEFAULT_DOT_MAX_NODES = 10_000;

/**
 * The computational graph `root` depends on, as a Graphviz DOT digraph.
 *
 * Every Value becomes a record node `{ label | data … | grad … }` (the label field only when
 * the Value has one); every Value made by an op also gets a small ellipse naming the op, with
 * edges input → op → output. A binary op's first input's edge is written before its second's,
 * and an input used twice (`x.mul(x)`) gets two edges. Node names follow the topological order
 * (`v0`, `v1`, … and `v3_op` for the op making `v3`), so the same graph always gives the same
 * text.
 *
 * @throws {TypeError} when `root` is not a Value.
 * @throws {RangeError} when an option is invalid, or the graph holds more than `maxNodes`
 * Values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toDot } from "./dot.ts";
 * import { Value } from "./value.ts";
 * const w = new Value(0, { label: "w" });
 * const loss = w.mul(2).sub(8).pow(2);
 * loss.backward();
 * const dot = toDot(loss);
 * assert.ok(dot.startsWith("digraph {"));
 * assert.ok(dot.includes('label="{ w | data 0 | grad -32 }"'));
 * assert.ok(dot.includes('[shape=ellipse, label="pow"]'));
 * // Render it with: dot -Tsvg graph.dot -o graph.svg
 * ```
 */
export function toDot(root: Value, options: DotOptions = {}): string {
  if (!(root instanceof Value)) {
    throw new TypeError(`toDot: root must be a Value, got ${describe(root)}`);
  }
  const rankdir = options.rankdir ?? "LR";
  if (rankdir !== "LR" && rankdir !== "TB") {
    throw new RangeError(`toDot: rankdir must be "LR" or "TB", got ${describe(rankdir)}`);
  }
  const digits = options.digits ?? 4;
  if (!Number.isInteger(digits) || digits < 1 || digits > 17) {
    throw new RangeError(`toDot: digits must be an integer in [1, 17], got ${describe(digits)}`);
  }
  const maxNodes = options.maxNodes ?? DEFAULT_DOT_MAX_NODES;
  if (typeof maxNodes !== "number" || !(maxNodes >= 1)) {
    throw new RangeError(`toDot: maxNodes must be a number ≥ 1, got ${describe(maxNodes)}`);
  }

  const order = topologicalOrder(root);
  if (order.length > maxNodes) {
    throw new RangeError(
      `toDot: the graph has ${order.length} Values, more than maxNodes = ${maxNodes}; ` +
        "pass a larger maxNodes (or Infinity) to draw it anyway",
    );
  }
  // Index in the topological order names each node. A Map rather than a field on Value: the
  // drawing is rare, the engine's node layout is not worth a field for it.
  const index = new Map<Value, number>();
  for (let i = 0; i < order.length; i++) index.set(order[i], i);

  // In LR the braces turn the record's fields back into one row; in TB a row is the default.
  const [open, close] = rankdir === "LR" ? ["{ ", " }"] : ["", ""];
  const lines = ["digraph {", `  rankdir=${rankdir};`];
  for (let i = 0; i < order.length; i++) {
    const node = order[i];
    const fields = [
      `data ${formatNumber(node.data, digits)}`,
      `grad ${formatNumber(node.grad, digits)}`,
    ];
    if (node.label !== "") fields.unshift(escapeRecordText(node.label));
    lines.push(`  v${i} [shape=record, label="${open}${fields.join(" | ")}${close}"];`);
    if (node.op === null) continue;
    lines.push(`  v${i}_op [shape=ellipse, label="${escapeQuoted(node.op.name)}"];`);
    lines.push(`  v${index.get(node.a as Value)} -> v${i}_op;`);
    if (node.b !== null) lines.push(`  v${index.get(node.b)} -> v${i}_op;`);
    lines.push(`  v${i}_op -> v${i};`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** `x` to `digits` significant digits, without trailing zeros: 0.1, 8, 2.501e+5 → 250100. */
function formatNumber(x: number, digits: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(digits))) : String(x);
}

/**
 * Text that shows literally inside a quoted record label: braces, bars and angle brackets
 * would otherwise delimit fields and ports, a backslash would start an escape, a quote would
 * end the string, and a raw line break would not be drawn as one.
 */
function escapeRecordText(text: string): string {
  return text
    .replace(/[\\{}|<>"]/g, (c) => `\\${c}`)
    .replace(/\r\n|\r|\n/g, "\\n");
}

/** Text that shows literally inside a quoted, non-record label. */
function escapeQuoted(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\r\n|\r|\n/g, "\\n");
}

function describe(x: unknown): string {
  return typeof x === "string" ? JSON.stringify(x) : `${typeof x} ${String(x)}`;
}
