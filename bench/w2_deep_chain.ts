/**
 * W2 "deep chain" of WORKLOADS.md on the scalar `Value` engine:
 *
 *     x = leaf(0.5); y = x
 *     repeat N times:  y = tanh(y * 1.0001 + 0.01)
 *     backward(y)
 *
 * Our `mul` and `add` keep the constants 1.0001 and 0.01 on the nodes they make (micrograd
 * lifts them to leaf nodes), so the graph has 3N + 1 nodes, not 5N + 1 (depth 3N).
 *
 * Run: `deno run --allow-read --allow-env --allow-sys bench/w2_deep_chain.ts --n 1000000`
 * (no permission is strictly needed: without --allow-all, Deno refuses /proc/self/status and
 * the peak RSS comes from getrusage's ru_maxrss, the same counter). `--count-nodes` also walks
 * the finished graph to confirm the 3N + 1, after every measurement. Prints one JSON object on
 * the last line.
 */

import { topologicalOrder, Value } from "../mod.ts";
import {
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

const Y_REFERENCE = 0.3050708627851931; // the fixed point, for every N ≥ 1000
const X_GRAD_REFERENCE_N1000 = 1.3661767652399879e-43;

function main(): void {
  const { n, countNodes } = readFlags(Deno.args, { n: 100_000 });
  const nodes = 3 * n + 1;

  let crashed = false;
  let error: string | null = null;
  let y: Value | null = null;
  let x: Value | null = null;

  const rssBase = rssNow();
  const cpu0 = cpuMs();
  const t0 = performance.now();
  let t1 = t0;
  let t2 = t0;
  let rssAfterForward = rssBase;
  try {
    x = new Value(0.5);
    y = x;
    for (let i = 0; i < n; i++) y = y.mul(1.0001).add(0.01).tanh();
    t1 = performance.now();
    rssAfterForward = rssNow();
    y.backward();
    t2 = performance.now();
  } catch (e) {
    crashed = true;
    error = errorText(e);
    const now = performance.now();
    if (t1 === t0) t1 = now; // crashed while building: the forward time up to the crash
    else t2 = now;
  }
  const cpu = cpuMs() - cpu0;
  const peak = rssPeak();

  const forwardMs = t1 - t0;
  const backwardMs = crashed ? null : t2 - t1;
  const checks: Record<string, ReferenceCheck> = {};
  if (!crashed && n >= 1000) checks.y = checkReference((y as Value).data, Y_REFERENCE);
  if (!crashed && n === 1000) {
    checks.x_grad = checkReference((x as Value).grad, X_GRAD_REFERENCE_N1000);
  }
  const checked = Object.values(checks);
  // Counted on request only, after every in-process measurement: the walk allocates an array
  // of all nodes, which would otherwise show in the whole-process peak RSS.
  const nodesCounted = crashed || !countNodes ? null : topologicalOrder(y as Value).length;

  report({
    workload: "W2",
    n,
    nodes,
    nodes_counted: nodesCounted,
    node_count_rule: "3N+1 (constants 1.0001 and 0.01 are kept on the nodes, not made nodes)",
    forward_ms: ms(forwardMs),
    backward_ms: backwardMs === null ? null : ms(backwardMs),
    total_ms: backwardMs === null ? null : ms(forwardMs + backwardMs),
    cpu_ms: ms(cpu),
    nodes_per_second: backwardMs === null
      ? null
      : Math.round(nodes / ((forwardMs + backwardMs) / 1000)),
    rss_base: rssBase,
    rss_after_forward: rssAfterForward,
    rss_peak: peak.bytes,
    rss_peak_source: peak.source,
    bytes_per_node_fwd: crashed ? null : Math.round((rssAfterForward - rssBase) / nodes),
    bytes_per_node_peak: crashed ? null : Math.round((peak.bytes - rssBase) / nodes),
    y: y?.data ?? null,
    x_grad: x?.grad ?? null,
    reference: checks,
    reference_ok: crashed || (nodesCounted !== null && nodesCounted !== nodes)
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
