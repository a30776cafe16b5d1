import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeUtf8, firstInvalidUtf8 } from "../../lib/text/mod.ts";

const SEED = 8_005;
console.log(`utf8_test: fast-check seed ${SEED}`);

Deno.test("decodeUtf8 and firstInvalidUtf8", async (t) => {
  await t.step("agree with the platform's strict decoder on any bytes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 12 }),
        fc.string({ unit: "binary", maxLength: 6 }),
        (junk, s) => {
          const bytes = new Uint8Array([...new TextEncoder().encode(s), ...junk]);
          let valid = true;
          try {
            new TextDecoder("utf-8", { fatal: true }).decode(bytes);
          } catch {
            valid = false;
          }
          const at = firstInvalidUtf8(bytes);
          assert.equal(at === -1, valid);
          if (!valid) {
            // Everything before the offset is valid UTF-8; the offset is where it stops.
            assert.equal(firstInvalidUtf8(bytes.subarray(0, at)), -1);
            assert.throws(
              () => decodeUtf8(bytes, "f"),
              new RegExp(`f is not valid UTF-8: .* at offset ${at} `),
            );
          } else {
            assert.equal(decodeUtf8(bytes), new TextDecoder().decode(bytes));
          }
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
  await t.step("the edges of Table 3-7", () => {
    assert.equal(firstInvalidUtf8(new Uint8Array([0xe0, 0x9f, 0x80])), 0); // overlong
    assert.equal(firstInvalidUtf8(new Uint8Array([0xed, 0xa0, 0x80])), 0); // surrogate
    assert.equal(firstInvalidUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80])), 0); // > U+10FFFF
    assert.equal(firstInvalidUtf8(new Uint8Array([0xf0, 0x90, 0x80])), 0); // truncated
    assert.equal(firstInvalidUtf8(new Uint8Array([0x41, 0x80])), 1); // stray continuation
    assert.equal(firstInvalidUtf8(new Uint8Array([0xf0, 0x9f, 0x98, 0x80])), -1);
    assert.throws(() => decodeUtf8("x" as unknown as Uint8Array), /bytes must be a Uint8Array/);
  });
});
