import assert from "node:assert/strict";
import { fc } from "../_seed.ts";
import { DEFAULT_DOT_MAX_NODES, ops, type OpSpec, toDot, Value } from "../../mod.ts";

/** One statement of the DOT subset `toDot` writes, parsed. */
type Statement =
  | { kind: "record"; id: string; fields: string[]; braced: boolean }
  | { kind: "op"; id: string; name: string }
  | { kind: "edge"; from: string; to: string };

interface ParsedDot {
  rankdir: string;
  statements: Statement[];
}

/**
 * Reads back a record label: unescaped `|` separates fields, `\n` is a line break, `\c` is the
 * character c. An unescaped brace inside, angle bracket or quote means the escaping is wrong.
 */
function parseRecordLabel(label: string): { fields: string[]; braced: boolean } {
  const braced = label.startsWith("{ ") && label.endsWith(" }");
  const body = braced ? label.slice(2, -2) : label;
  const fields: string[] = [];
  let field = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "\\") {
      assert.ok(i + 1 < body.length, `dangling backslash in ${label}`);
      const next = body[++i];
      field += next === "n" ? "\n" : next;
    } else if (c === "|") {
      fields.push(field.trim());
      field = "";
    } else {
      assert.ok(!'{}<>"'.includes(c), `unescaped ${c} in record label ${label}`);
      field += c;
    }
  }
  fields.push(field.trim());
  return { fields, braced };
}

function unescapeQuoted(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** Parses `toDot`'s output line by line, failing on any line outside its grammar. */
function parseDot(dot: string): ParsedDot {
  const lines = dot.split("\n");
  assert.equal(lines[0], "digraph {");
  assert.equal(lines.at(-1), "", "output ends with a newline");
  assert.equal(lines.at(-2), "}");
  const rankdir = /^ {2}rankdir=(LR|TB);$/.exec(lines[1]);
  assert.ok(rankdir !== null, `bad rankdir line ${lines[1]}`);
  const quoted = String.raw`"((?:[^"\\]|\\.)*)"`;
  const recordLine = new RegExp(String.raw`^  (v\d+) \[shape=record, label=${quoted}\];$`);
  const opLine = new RegExp(String.raw`^  (v\d+_op) \[shape=ellipse, label=${quoted}\];$`);
  const edgeLine = /^ {2}(v\d+(?:_op)?) -> (v\d+(?:_op)?);$/;
  const statements: Statement[] = [];
  for (const line of lines.slice(2, -2)) {
    let m: RegExpExecArray | null;
    if ((m = recordLine.exec(line)) !== null) {
      statements.push({ kind: "record", id: m[1], ...parseRecordLabel(m[2]) });
    } else if ((m = opLine.exec(line)) !== null) {
      statements.push({ kind: "op", id: m[1], name: unescapeQuoted(m[2]) });
    } else if ((m = edgeLine.exec(line)) !== null) {
      statements.push({ kind: "edge", from: m[1], to: m[2] });
    } else {
      assert.fail(`line outside toDot's grammar: ${line}`);
    }
  }
  // Every edge joins declared nodes, declared before it, a Value to an op or an op to its Value.
  const declared = new Set<string>();
  for (const s of statements) {
    if (s.kind === "edge") {
      assert.ok(declared.has(s.from) && declared.has(s.to), `edge to undeclared node ${s.from}`);
      const joinsValueAndOp = s.to.endsWith("_op") !== s.from.endsWith("_op");
      assert.ok(joinsValueAndOp, `edge ${s.from} -> ${s.to} must join a Value and an op`);
      assert.notEqual(s.to, `${s.from}_op`, "a Value cannot feed the op that makes it");
    } else {
      assert.ok(!declared.has(s.id), `node ${s.id} declared twice`);
      declared.add(s.id);
    }
  }
  return { rankdir: rankdir[1], statements };
}

function records(parsed: ParsedDot) {
  return parsed.statements.filter((s) => s.kind === "record");
}
function opNodes(parsed: ParsedDot) {
  return parsed.statements.filter((s) => s.kind === "op");
}
function edges(parsed: ParsedDot) {
  return parsed.statements.filter((s) => s.kind === "edge");
}

/** Every Value `root` depends on, found by a walk independent of `topologicalOrder`. */
function reachable(root: Value): Set<Value> {
  const seen = new Set<Value>();
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop() as Value;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v.a !== null) stack.push(v.a);
    if (v.b !== null) stack.push(v.b);
  }
  return seen;
}

function seedLoss(): { w: Value; loss: Value } {
  const w = new Value(0, { label: "w" });
  const x = new Value(2, { label: "x" });
  const yTrue = new Value(8, { label: "y_true" });
  const loss = w.mul(x).sub(yTrue).pow(2);
  loss.label = "loss";
  return { w, loss };
}

Deno.test("toDot: the seed's loss", async (t) => {
  const { loss } = seedLoss();
  loss.backward();
  const dot = toDot(loss);
  const parsed = parseDot(dot);

  await t.step("one record per Value, one op node per non-leaf, three edges per binary op", () => {
    // w, x, w·x, y_true, w·x − y_true, the exponent 2, the square.
    assert.equal(records(parsed).length, 7);
    assert.deepEqual(opNodes(parsed).map((s) => s.kind === "op" && s.name), ["mul", "sub", "pow"]);
    assert.equal(edges(parsed).length, 9);
  });

  await t.step("records show label, data and grad to 4 significant digits", () => {
    const fields = records(parsed).map((s) => s.kind === "record" && s.fields);
    assert.deepEqual(fields, [
      ["w", "data 0", "grad -32"],
      ["x", "data 2", "grad 0"],
      ["data 0", "grad -16"],
      ["y_true", "data 8", "grad 16"],
      ["data -8", "grad -16"],
      ["data 2", "grad 0"], // the constant exponent is a leaf like any other
      ["loss", "data 64", "grad 1"],
    ]);
    assert.ok(records(parsed).every((s) => s.kind === "record" && s.braced));
  });

  await t.step("edges run input → op → output, first input first", () => {
    const pairs = edges(parsed).map((s) => s.kind === "edge" && `${s.from}->${s.to}`);
    assert.deepEqual(pairs, [
      "v0->v2_op",
      "v1->v2_op",
      "v2_op->v2",
      "v2->v4_op",
      "v3->v4_op",
      "v4_op->v4",
      "v4->v6_op",
      "v5->v6_op",
      "v6_op->v6",
    ]);
  });

  await t.step("left to right by default, top to bottom on request", () => {
    assert.equal(parsed.rankdir, "LR");
    assert.equal(toDot(loss, { rankdir: "LR" }), dot);
    const tb = parseDot(toDot(loss, { rankdir: "TB" }));
    assert.equal(tb.rankdir, "TB");
    assert.ok(records(tb).every((s) => s.kind === "record" && !s.braced));
    assert.deepEqual(records(tb), records(parsed).map((s) => ({ ...s, braced: false })));
  });

  await t.step("the same graph always gives the same text", () => {
    assert.equal(toDot(loss), dot);
    const again = seedLoss().loss;
    again.backward();
    assert.equal(toDot(again), dot);
  });
});

Deno.test("toDot: any graph, drawn in full", () => {
  const unaryOps: ((v: Value) => Value)[] = [(v) => v.tanh(), (v) => v.neg(), (v) => v.exp()];
  const binaryOps: ((a: Value, b: Value) => Value)[] = [
    (a, b) => a.add(b),
    (a, b) => a.mul(b),
    (a, b) => a.sub(b),
    (a) => a.pow(2),
  ];
  const step = fc.record({
    unary: fc.boolean(),
    op: fc.nat(),
    a: fc.nat(),
    b: fc.nat(),
  });
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
      fc.array(step, { minLength: 0, maxLength: 30 }),
      (leafData, steps) => {
        const pool = leafData.map((x) => new Value(x));
        for (const s of steps) {
          const a = pool[s.a % pool.length];
          const b = pool[s.b % pool.length];
          // Squash to keep exp and pow finite however deep the random graph gets.
          const made = s.unary
            ? unaryOps[s.op % unaryOps.length](a.tanh())
            : binaryOps[s.op % binaryOps.length](a.tanh(), b.tanh());
          pool.push(made);
        }
        const root = pool[pool.length - 1];
        root.backward();
        const parsed = parseDot(toDot(root, { maxNodes: Infinity }));
        const values = [...reachable(root)];
        const interior = values.filter((v) => v.op !== null);
        assert.equal(records(parsed).length, values.length);
        assert.equal(opNodes(parsed).length, interior.length);
        const expectedEdges = interior.reduce((n, v) => n + (v.b === null ? 2 : 3), 0);
        assert.equal(edges(parsed).length, expectedEdges);
        const names = (list: string[]) => list.sort().join(",");
        assert.equal(
          names(opNodes(parsed).map((s) => (s.kind === "op" ? s.name : ""))),
          names(interior.map((v) => (v.op as OpSpec).name)),
        );
        // Each op node has exactly one outgoing edge, to its own Value.
        for (const s of opNodes(parsed)) {
          const out = edges(parsed).filter((e) => e.kind === "edge" && e.from === s.id);
          assert.deepEqual(out, [{ kind: "edge", from: s.id, to: s.id.slice(0, -3) }]);
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("toDot: escaping", async (t) => {
  await t.step("record syntax characters in labels are escaped and read back intact", () => {
    const label = 'a|b{c}<d> "e" \\f\ng\r\nh';
    const v = new Value(1.5, { label });
    const dot = toDot(v);
    assert.ok(dot.includes(String.raw`a\|b\{c\}\<d\> \"e\" \\f\ng\nh`));
    const [record] = records(parseDot(dot));
    assert.deepEqual(record.kind === "record" && record.fields, [
      'a|b{c}<d> "e" \\f\ng\nh',
      "data 1.5",
      "grad 0",
    ]);
  });

  await t.step("op names are quoted safely", () => {
    const odd: OpSpec = { ...ops.neg, name: 'we"ird\\op\nname' };
    const v = new Value(1).neg();
    v.op = odd;
    const dot = toDot(v);
    assert.ok(dot.includes(String.raw`label="we\"ird\\op\nname"`));
    const [op] = opNodes(parseDot(dot));
    assert.equal(op.kind === "op" && op.name, 'we"ird\\op\nname');
  });
});

Deno.test("toDot: number formatting", async (t) => {
  await t.step("4 significant digits by default, compact", () => {
    const v = new Value(1 / 3);
    v.grad = 250070.52800000823;
    assert.ok(toDot(v).includes('label="{ data 0.3333 | grad 250100 }"'));
    const tiny = new Value(1.3661767652399879e-43);
    assert.ok(toDot(tiny).includes('label="{ data 1.366e-43 | grad 0 }"'));
  });

  await t.step("digits chooses the precision", () => {
    const v = new Value(1 / 3);
    assert.ok(toDot(v, { digits: 1 }).includes("data 0.3 |"));
    // 17 digits identify every double, so the compact form is the shortest exact one.
    const exact = /data (\S+) \|/.exec(toDot(v, { digits: 17 }));
    assert.equal(exact?.[1], "0.3333333333333333");
    assert.equal(Number(exact?.[1]), 1 / 3);
  });

  await t.step("a non-finite grad someone stored is shown as such", () => {
    const v = new Value(1);
    v.grad = Number.NaN;
    assert.ok(toDot(v).includes("grad NaN"));
    v.grad = -Infinity;
    assert.ok(toDot(v).includes("grad -Infinity"));
  });
});

Deno.test("toDot: limits and bad input", async (t) => {
  function chain(values: number): Value {
    let y = new Value(0.5);
    for (let i = 1; i < values; i++) y = y.tanh();
    return y;
  }

  await t.step("a 100,000-Value chain is drawn without overflowing the stack", () => {
    const y = chain(100_000);
    const parsed = parseDot(toDot(y, { maxNodes: Infinity }));
    assert.equal(records(parsed).length, 100_000);
    assert.equal(edges(parsed).length, 2 * 99_999);
  });

  await t.step("more Values than maxNodes is a RangeError naming both counts", () => {
    const y = chain(DEFAULT_DOT_MAX_NODES + 1);
    assert.throws(() => toDot(y), {
      name: "RangeError",
      message: /toDot: the graph has 10001 Values, more than maxNodes = 10000/,
    });
    assert.equal(records(parseDot(toDot(chain(DEFAULT_DOT_MAX_NODES)))).length, 10_000);
    assert.throws(() => toDot(chain(3), { maxNodes: 2 }), /has 3 Values.*maxNodes = 2/);
    assert.equal(records(parseDot(toDot(chain(3), { maxNodes: 3 }))).length, 3);
  });

  await t.step("invalid options are refused by name", () => {
    const v = new Value(1);
    const cases: [unknown, RegExp][] = [
      [{ rankdir: "RL" }, /toDot: rankdir must be "LR" or "TB", got "RL"/],
      [{ digits: 0 }, /toDot: digits must be an integer in \[1, 17\], got number 0/],
      [{ digits: 18 }, /digits .* got number 18/],
      [{ digits: 2.5 }, /digits .* got number 2.5/],
      [{ maxNodes: 0 }, /toDot: maxNodes must be a number ≥ 1, got number 0/],
      [{ maxNodes: Number.NaN }, /maxNodes .* got number NaN/],
      [{ maxNodes: "5" }, /maxNodes .* got "5"/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => toDot(v, options as never), { name: "RangeError", message });
    }
  });

  await t.step("a root that is not a Value is a TypeError", () => {
    assert.throws(() => toDot(3 as never), {
      name: "TypeError",
      message: /toDot: root must be a Value, got number 3/,
    });
    assert.throws(() => toDot(null as never), /got object null/);
  });
});
