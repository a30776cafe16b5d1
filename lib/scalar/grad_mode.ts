/**
 * Whether ops record a graph: the one switch both engines read. It lives at the bottom of the
 * stack, beside the scalar engine, so that the tensor engine above can share it: a single
 * {@linkcode noGrad} then turns recording off for `Value`s and `Tensor`s alike.
 *
 * @module
 */

// Depth of nested `noGrad` scopes: while > 0, ops record no graph. A depth rather than a
// flag, so that an inner scope ending does not switch recording back on for an outer one.
let noGradDepth = 0;

/**
 * Whether ops record the graph that `backward` needs: true, except inside
 * {@linkcode noGrad}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isGradEnabled, noGrad } from "./grad_mode.ts";
 * assert.ok(isGradEnabled());
 * assert.ok(noGrad(() => !isGradEnabled()));
 * ```
 */
export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

/**
 * Runs `fn` without recording any graph, for both engines: a `Value` op made inside returns
 * a leaf (no `op`, no inputs), a `Tensor` op a tensor that does not require a gradient. For
 * evaluation, and for updates made by hand. Scopes nest; recording resumes when the
 * outermost one ends, even by a throw.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noGrad } from "./grad_mode.ts";
 * import { Value } from "./value.ts";
 * const w = new Value(3);
 * const y = noGrad(() => w.mul(2));
 * assert.ok(y.data === 6 && y.op === null && y.a === null);
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}
