/**
 * A `deno lint` rule that keeps the library's layers pointing one way: a file under `lib/X/`
 * may import from its own layer and from layers below it, never from one above. The order is
 * the stack's, bottom-up; `lib/util/` holds helpers every layer may use.
 *
 * @module
 */

/** Layers bottom-up: a layer may import only from layers at its rank or below. */
export const LAYER_RANKS: Readonly<Record<string, number>> = {
  util: 0,
  scalar: 1,
  tensor: 2,
  nn: 3,
  text: 4,
  lm: 5,
};

/** The layer a path under `lib/` belongs to, or `undefined` for a path outside `lib/`. */
export function layerOf(path: string): string | undefined {
  const match = /(?:^|\/)lib\/([^/]+)\//.exec(path.replaceAll("\\", "/"));
  return match?.[1];
}

/** Why importing `specifier` from `filename` breaks the layering, or `undefined` when it does not. */
export function layerViolation(filename: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const from = layerOf(filename);
  if (from === undefined) return undefined;
  const target = new URL(specifier, `file://${filename.replaceAll("\\", "/")}`).pathname;
  if (!target.includes("/lib/")) {
    return `lib/${from} imports ${specifier}, which is outside lib/`;
  }
  const to = layerOf(target);
  if (to === undefined) return `lib/${from} imports ${specifier}, which is in no layer`;
  const fromRank = LAYER_RANKS[from];
  const toRank = LAYER_RANKS[to];
  if (fromRank === undefined) return `lib/${from} is not a known layer (see LAYER_RANKS)`;
  if (toRank === undefined) return `lib/${to} is not a known layer (see LAYER_RANKS)`;
  if (toRank > fromRank) {
    return `lib/${from} imports ${specifier} from lib/${to}, a higher layer`;
  }
  return undefined;
}

const plugin: Deno.lint.Plugin = {
  name: "dcslm",
  rules: {
    layers: {
      create(context) {
        const check = (node: Deno.lint.Node, source: { value: string } | null | undefined) => {
          if (!source) return;
          const why = layerViolation(context.filename, source.value);
          if (why) context.report({ node, message: why });
        };
        return {
          ImportDeclaration(node) {
            check(node, node.source);
          },
          ExportNamedDeclaration(node) {
            check(node, node.source);
          },
          ExportAllDeclaration(node) {
            check(node, node.source);
          },
        };
      },
    },
  },
};

export default plugin;
