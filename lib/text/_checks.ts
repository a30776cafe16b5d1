/**
 * Argument checks shared by the text layer.
 *
 * @module
 */

/** Returns `text` when it is a well-formed string; otherwise throws, naming `where`. */
export function checkedText(where: string, text: unknown): string {
  if (typeof text !== "string") {
    throw new TypeError(`${where}: text must be a string, got ${describe(text)}`);
  }
  if (!text.isWellFormed()) {
    const at = loneSurrogateIndex(text);
    const unit = text.charCodeAt(at).toString(16).toUpperCase();
    throw new RangeError(
      `${where}: text has a lone surrogate U+${unit} at index ${at}; it is not valid Unicode`,
    );
  }
  return text;
}

/** The UTF-16 index of the first lone surrogate of `text`, or -1. */
export function loneSurrogateIndex(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return i;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return i;
  }
  return -1;
}

/** Returns `n` when it is an integer in [min, max]; otherwise throws a RangeError. */
export function checkedInteger(
  where: string,
  name: string,
  n: unknown,
  min: number,
  max = Infinity,
): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${where}: ${name} must be an integer ${range}, got ${describe(n)}`);
  }
  return n;
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === "object") return `an object (${Object.prototype.toString.call(value)})`;
  return `${typeof value === "bigint" ? `${value}n` : String(value)} (${typeof value})`;
}
