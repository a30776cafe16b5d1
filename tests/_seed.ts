/**
 * The one fast-check configuration every property test uses: a seed fixed for the run and
 * printed, so a failure reproduces with one command. Property tests import `fc` from here
 * rather than from "fast-check", so none can run unconfigured.
 *
 * The seed is {@link DEFAULT_SEED} unless the environment variable `DCSLM_SEED` names another
 * (an integer). Tests run with no permissions, so the variable is read only when the run was
 * given `--allow-env` (e.g. `DCSLM_SEED=7 deno test --allow-env=DCSLM_SEED`, or
 * `deno task test:seeds`, which runs the suite under many seeds); otherwise the default holds.
 */

import fc from "fast-check";

/** The seed of a plain `deno test`. */
export const DEFAULT_SEED = 20_261_128;

function seedFromEnvironment(): number {
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: "DCSLM_SEED" }).state;
    if (state !== "granted") return DEFAULT_SEED;
    const text = Deno.env.get("DCSLM_SEED");
    if (text === undefined || text === "") return DEFAULT_SEED;
    const seed = Number(text);
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`DCSLM_SEED must be an integer, got ${JSON.stringify(text)}`);
    }
    return seed;
  } catch (error) {
    if (error instanceof RangeError) throw error;
    return DEFAULT_SEED;
  }
}

/** The seed of this run. */
export const SEED: number = seedFromEnvironment();

fc.configureGlobal({ seed: SEED });
console.log(
  `fast-check seed ${SEED} (reproduce: DCSLM_SEED=${SEED} deno test --allow-env=DCSLM_SEED)`,
);

/** fast-check, configured with this run's seed: property tests import it from here. */
export { fc };
