import assert from "node:assert/strict";
import { formatDuration, Progress } from "../../lib/util/progress.ts";

Deno.test("progress on a terminal rewrites one line; log lines stay", () => {
  const out: string[] = [];
  let clock = 0;
  const progress = new Progress({
    total: 10,
    terminal: true,
    write: (t) => out.push(t),
    now: () => clock,
  });
  clock = 20;
  progress.update(1, { loss: 3 });
  assert.equal(out[0], "\r\x1b[2Kstep 1/10 | loss 3.0000 | 20.0 ms/step | ETA 0s");
  progress.log("step 1: test loss 2.9000");
  assert.equal(out[1], "\r\x1b[2Kstep 1: test loss 2.9000\n");
  clock = 2020;
  progress.update(2);
  // The log restarted the clock at 20: the time spent logging is not a step's time.
  assert.match(out[2], /\| 2000\.0 ms\/step/);
  progress.done();
  assert.equal(out[out.length - 1], "\n");
  progress.log("after");
  assert.equal(out[out.length - 1], "after\n");
});

Deno.test("progress without a terminal prints every N steps and the last; ETA", () => {
  const out: string[] = [];
  let clock = 0;
  const progress = new Progress({
    total: 1000,
    start: 100,
    every: 300,
    terminal: false,
    write: (t) => out.push(t),
    now: () => clock,
  });
  for (let step = 101; step <= 1000; step++) {
    clock += 500;
    progress.update(step, { loss: 1 });
  }
  assert.equal(out.length, 4); // 300, 600, 900, 1000
  assert.equal(out[0], "step 300/1000 | loss 1.0000 | 500.0 ms/step | ETA 5m50s\n");
  assert.equal(progress.msPerStep, 500);
  progress.done();
  assert.equal(out.length, 4);
  assert.throws(() => new Progress({ total: -1 }), /total/);
  assert.throws(() => new Progress({ total: 5, start: 6 }), /start/);
  assert.throws(() => new Progress({ total: 5, every: 0 }), /every/);
  assert.equal(formatDuration(NaN), "?");
  assert.equal(formatDuration(42.4), "42s");
});
