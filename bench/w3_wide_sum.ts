/**
 * W3 "wide sum" of WORKLOADS.md on the scalar `Value` engine:
 *
 *     for i = 0..N-1:  a_i = leaf((i mod 1000) / 1000.0);  b_i = leaf(1.0 - (i mod 777) / 777.0)
 *     p_i = a_i * b_i
 *     W3a: s = p_0; for i = 1..N-1: s = s + p_i                       (left fold, depth N)
 *     W3b: pairwise: L = [L[0]+L[1], L[2]+L[3], ...] (+ odd last) until one is left
 *     backward(s)
 *
 * Both variants have 4N − 1 nodes (2N leaves, N products, N − 1 sums).
 *
 * Run: `deno run --allow-read --allow-env --allow-sys bench/w3_wide_sum.ts --variant a --n 1000000`
 * (`--variant b` for the pairwise tree; `--count-nodes` also walks the finished graph to
 * confirm the 4N − 1, after every measurement). Prints one JSON object on the last line.
 */

import { topologicalOrder, Value } from "../mod.ts";
import {
  accurateSum,
  checkReference,
  cpuMs,
  errorText,
  ms,
  readFlags,
  type ReferenceCheck,
  report,
  rssNow,
  rssPeak,
  runtime,
} from "./_measure.ts";

const A_GRAD_SUM_REFERENCE = 500644; // = Σ b_i
const B_GRAD_SUM_REFERENCE = 499500; // = Σ a_i
const S_REFERENCE = { a: 250070.52800000823, b: 250070.52800000002 }; // for N = 1,000,000

/** The left fold `sum()` builds: s = p_0 + p_1 + … one add at a time. */
function leftFold(products: Value[]): Value {
  let s = products[0];
  for (let i = 1; i < products.length; i++) s = s.add(products[i]);
  return s;
}

/** Pairwise sums, level by level, the odd last element carried up unchanged. */
function pairwise(products: Value[]): Value {
  let level = products;
  while (level.length > 1) {
    const next: Value[] = [];
    for (let j = 0; j + 1 < level.length; j += 2) next.push(level[j].add(level[j + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

function main(): void {
  const { n, countNodes, strings } = readFlags(Deno.args, { n: 1_000_000, variant: "a" });
  const variant = strings.variant;
  if (variant !== "a" && variant !== "b") {
    throw new RangeError(`--variant must be "a" (left fold) or "b" (pairwise), got ${variant}`);
  }
  const nodes = 4 * n - 1;

  let crashed = false;
  let error: string | null = null;
  let s: Value | null = null;
  const aLeaves: Value[] = [];
  const bLeaves: Value[] = [];

  const rssBase = rssNow();
  const cpu0 = cpuMs();
  const t0 = performance.now();
  let t1 = t0;
  let t2 = t0;
  let t3 = t0;
  let rssAfterForward = rssBase;
  let phase: "leaves" | "forward" | "backward" = "leaves";
  try {
    for (let i = 0; i < n; i++) {
      aLeaves.push(new Value((i % 1000) / 1000.0));
      bLeaves.push(new Value(1.0 - (i % 777) / 777.0));
    }
    t1 = performance.now();
    phase = "forward";
    const products: Value[] = [];
    for (let i = 0; i < n; i++) products.push(aLeaves[i].mul(bLeaves[i]));
    s = variant === "a" ? leftFold(products) : pairwise(products);
    t2 = performance.now();
    rssAfterForward = rssNow();
    phase = "backward";
    s.backward();
    t3 = performance.now();
  } catch (e) {
    crashed = true;
    error = errorText(e);
    const now = performance.now();
    if (phase === "leaves") t1 = now;
    else if (phase === "forward") t2 = now;
    else t3 = now;
  }
  const cpu = cpuMs() - cpu0;
  const peak = rssPeak();

  const leavesMs = t1 - t0;
  const forwardMs = phase === "leaves" ? null : t2 - t1;
  const backwardMs = crashed ? null : t3 - t2;

  const checks: Record<string, ReferenceCheck> = {};
  let gradsExact: boolean | null = null;
  if (!crashed) {
    // ∂s/∂a_i = b_i and ∂s/∂b_i = a_i exactly: every add passes 1 down, every mul the other
    // factor. The sums of WORKLOADS.md are then checked with an accurate summation.
    gradsExact = true;
    for (let i = 0; i < n; i++) {
      const a = aLeaves[i];
      const b = bLeaves[i];
      if (a.grad !== b.data || b.grad !== a.data) gradsExact = false;
    }
    if (n === 1_000_000) {
      checks.a_grad_sum = checkReference(
        accurateSum(n, (i) => aLeaves[i].grad),
        A_GRAD_SUM_REFERENCE,
      );
      checks.b_grad_sum = checkReference(
        accurateSum(n, (i) => bLeaves[i].grad),
        B_GRAD_SUM_REFERENCE,
      );
      checks.s = checkReference((s as Value).data, S_REFERENCE[variant]);
    }
  }
  const checked = Object.values(checks);
  // Counted on request only, after every in-process measurement: the walk allocates an array
  // of all nodes, which would otherwise show in the whole-process peak RSS.
  const nodesCounted = crashed || !countNodes ? null : topologicalOrder(s as Value).length;
  const seconds = crashed ? null : (leavesMs + (forwardMs as number) + (backwardMs as number)) /
    1000;

  report({
    workload: variant === "a" ? "W3a" : "W3b",
    n,
    nodes,
    nodes_counted: nodesCounted,
    node_count_rule: "4N-1 (2N leaves, N products, N-1 sums)",
    leaves_ms: ms(leavesMs),
    forward_ms: forwardMs === null ? null : ms(forwardMs),
    backward_ms: backwardMs === null ? null : ms(backwardMs),
    total_ms: seconds === null ? null : ms(seconds * 1000),
    cpu_ms: ms(cpu),
    nodes_per_second: seconds === null ? null : Math.round(nodes / seconds),
    rss_base: rssBase,
    rss_after_forward: rssAfterForward,
    rss_peak: peak.bytes,
    rss_peak_source: peak.source,
    bytes_per_node_fwd: crashed ? null : Math.round((rssAfterForward - rssBase) / nodes),
    bytes_per_node_peak: crashed ? null : Math.round((peak.bytes - rssBase) / nodes),
    s: s?.data ?? null,
    reference: checks,
    grads_exact: gradsExact,
    reference_ok:
      crashed || (nodesCounted !== null && nodesCounted !== nodes) || gradsExact === false
        ? false
        : checked.length === 0
        ? null
        : checked.every((c) => c.ok),
    crashed,
    error,
    runtime: runtime(),
  });
}

main();
