/**
 * Runs the test suite under many fast-check seeds, one `deno test` per seed, and lists the
 * seeds that failed with the command that reproduces each. Not part of CI: a nightly-style
 * search for counterexamples that the fixed seed of a plain `deno test` does not draw.
 *
 *     deno task test:seeds                     # seeds 1 to 10, the whole suite
 *     deno task test:seeds --count 50 tests/scalar tests/tensor
 *     deno task test:seeds --first 1000 --count 20
 *
 * @module
 */

function parseArguments(
  args: readonly string[],
): { first: number; count: number; paths: string[] } {
  let first = 1;
  let count = 10;
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--first" || args[i] === "--count") {
      const value = Number(args[i + 1]);
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`seeds: ${args[i]} needs an integer ≥ 0, got ${args[i + 1]}`);
      }
      if (args[i] === "--first") first = value;
      else count = value;
      i++;
    } else {
      paths.push(args[i]);
    }
  }
  return { first, count, paths };
}

const { first, count, paths } = parseArguments(Deno.args);
const failed: number[] = [];
for (let seed = first; seed < first + count; seed++) {
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-env=DCSLM_SEED", "--quiet", ...paths],
    env: { DCSLM_SEED: String(seed) },
    stdout: "null",
    stderr: "null",
  }).output();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`seed ${seed}: ${code === 0 ? "ok" : "FAILED"} (${seconds} s)`);
  if (code !== 0) failed.push(seed);
}
console.log(`${count - failed.length} of ${count} seeds passed`);
for (const seed of failed) {
  console.log(`reproduce: DCSLM_SEED=${seed} deno test --allow-env=DCSLM_SEED ${paths.join(" ")}`);
}
if (failed.length > 0) Deno.exit(1);
