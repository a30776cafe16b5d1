/**
 * Strict UTF-8 decoding for user-supplied text files.
 *
 * @module
 */

/**
 * The text of `bytes`, which must be valid UTF-8 (a leading byte-order mark is dropped);
 * otherwise a RangeError names `source` and the byte offset of the first bad sequence.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeUtf8 } from "./utf8.ts";
 * assert.equal(decodeUtf8(new Uint8Array([0x68, 0xc3, 0xa9])), "hé");
 * assert.throws(
 *   () => decodeUtf8(new Uint8Array([0x68, 0x69, 0xff]), "notes.txt"),
 *   /notes.txt is not valid UTF-8: byte 0xff at offset 2/,
 * );
 * ```
 */
export function decodeUtf8(bytes: Uint8Array, source = "the input"): string {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`decodeUtf8: bytes must be a Uint8Array, got ${typeof bytes}`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new RangeError(
      `${source} is not valid UTF-8: byte 0x${
        bytes[at].toString(16).padStart(2, "0")
      } at offset ${at} does not start a valid character`,
    );
  }
}

/**
 * The offset of the first byte where `bytes` stops being valid UTF-8, or -1 when it is valid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid, as the standard says).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { firstInvalidUtf8 } from "./utf8.ts";
 * assert.equal(firstInvalidUtf8(new TextEncoder().encode("ok 😀")), -1);
 * assert.equal(firstInvalidUtf8(new Uint8Array([0x61, 0xe2, 0x82])), 1); // truncated
 * assert.equal(firstInvalidUtf8(new Uint8Array([0xc0, 0x80])), 0); // overlong
 * ```
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    // The allowed range of the second byte depends on the first (Unicode Table 3-7).
    let length: number, low = 0x80, high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      if (b === 0xf4) high = 0x8f;
    } else return i;
    if (i + length > bytes.length) return i;
    if (bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (let k = 2; k < length; k++) {
      if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    }
    i += length;
  }
  return -1;
}
