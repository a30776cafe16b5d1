/** SHA-256 (hex) of numbers as little-endian float64, as the workloads define their checks. */
export async function sha256OfFloat64(values: readonly number[]): Promise<string> {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((x, i) => view.setFloat64(i * 8, x, true));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
