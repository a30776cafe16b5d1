import assert from "node:assert/strict";
import { decisionBoundarySvg } from "../../lib/util/svg_plot.ts";

const points: [number, number][] = [[0, 0], [1, 1], [0, 1], [1, 0]];
const labels = [-1, 1, -1, 1];

function rects(svg: string): { x: number; y: number; width: number; fill: string }[] {
  return [
    ...svg.matchAll(
      /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+" fill="(#\w+)" \/>/g,
    ),
  ]
    .map((m) => ({ x: Number(m[1]), y: Number(m[2]), width: Number(m[3]), fill: m[4] }));
}

Deno.test("decisionBoundarySvg: regions follow the score's sign, row by row", () => {
  // score = x − 0.5: left half class −1 (orange), right half +1 (blue).
  const svg = decisionBoundarySvg({
    score: (x) => x - 0.5,
    points,
    labels,
    resolution: 10,
    size: 200,
    padding: 0,
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  const cells = rects(svg);
  assert.equal(cells.length, 20, "two runs in each of 10 rows");
  for (let row = 0; row < 10; row++) {
    const [left, right] = cells.slice(2 * row, 2 * row + 2);
    assert.deepEqual(left, { x: 0, y: row * 20, width: 100, fill: "#fde0c5" });
    assert.deepEqual(right, { x: 100, y: row * 20, width: 100, fill: "#cfe1f2" });
  }
  // The points, in the colour of their label, y pointing up.
  const circles = [
    ...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" fill="(#\w+)" \/>/g),
  ];
  assert.deepEqual(circles.map((m) => [Number(m[1]), Number(m[2]), m[3]]), [
    [0, 200, "#d95f02"],
    [200, 0, "#1f62a8"],
    [0, 0, "#d95f02"],
    [200, 200, "#1f62a8"],
  ]);
});

Deno.test("decisionBoundarySvg: a model that never changes its mind fills one run a row", () => {
  const svg = decisionBoundarySvg({ score: () => 1, points, labels, resolution: 4, size: 100 });
  assert.deepEqual(rects(svg).map((r) => [r.width, r.fill]), Array(4).fill([100, "#cfe1f2"]));
  // The grid's cell centres span the padded data box: a score reading y sees both rows' ends.
  const ys: number[] = [];
  decisionBoundarySvg({
    score: (_x, y) => (ys.push(y), -1),
    points,
    labels,
    resolution: 2,
    padding: 1,
  });
  assert.deepEqual(ys, [1.25, 1.25, -0.25, -0.25]); // centres of [−1, 2] in halves, top first
  assert.ok(!svg.includes("<text"));
});

Deno.test("decisionBoundarySvg: a title is escaped; one point still draws", () => {
  const svg = decisionBoundarySvg({
    score: (x, y) => x + y,
    points: [[2, 3]],
    labels: [1],
    padding: 0,
    resolution: 2,
    title: 'a < b & "c"',
  });
  assert.ok(svg.includes(">a &lt; b &amp; &quot;c&quot;</text>"));
  assert.equal((svg.match(/<circle/g) ?? []).length, 1);
});

Deno.test("decisionBoundarySvg: refuses bad data and options, naming them", () => {
  const base = { score: () => 0, points, labels };
  const cases: [Record<string, unknown>, string][] = [
    [{ points: [], labels: [] }, "decisionBoundarySvg: no points"],
    [{ labels: [1] }, "decisionBoundarySvg: 4 points but 1 labels"],
    [{ labels: [1, 1, 0, 1] }, "decisionBoundarySvg: label 2 must be -1 or 1, got 0"],
    [{ points: [[0, NaN]], labels: [1] }, "decisionBoundarySvg: point 0 is (0, NaN), not finite"],
    [{ resolution: 1 }, "decisionBoundarySvg: resolution must be an integer in [2, 1000], got 1"],
    [
      { resolution: 2.5 },
      "decisionBoundarySvg: resolution must be an integer in [2, 1000], got 2.5",
    ],
    [{ size: 8 }, "decisionBoundarySvg: size must be in [16, 10000], got 8"],
    [{ padding: -1 }, "decisionBoundarySvg: padding must be finite and ≥ 0, got -1"],
    [
      { score: () => NaN, padding: 0, resolution: 2 },
      "decisionBoundarySvg: the score at (0.25, 0.75) is NaN",
    ],
    [
      { score: () => "1", padding: 0, resolution: 2 },
      "decisionBoundarySvg: the score at (0.25, 0.75) is 1",
    ],
  ];
  for (const [override, message] of cases) {
    assert.throws(
      () =>
        decisionBoundarySvg({ ...base, ...override } as Parameters<typeof decisionBoundarySvg>[0]),
      { name: "RangeError", message },
    );
  }
});
