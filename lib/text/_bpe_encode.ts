/**
 * Byte-pair encoding of one piece, tiktoken's way: start from single bytes, and repeatedly
 * join the adjacent two parts whose concatenation is the token of lowest rank (the leftmost
 * such pair on a tie), until no adjacent two parts form a token.
 *
 * Byte strings are held as "binary strings": one UTF-16 code unit per byte (0–255), so a
 * token's bytes are a `Map` key and a slice of a piece is `substring`.
 *
 * @module
 */

/** Above this many bytes a piece is merged with a heap instead of a scan per merge. */
export const LONG_PIECE = 128;

/** The binary string of the UTF-8 bytes of `text` (ASCII text is its own binary string). */
export function binaryOf(text: string, encoder: TextEncoder): string {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return text;
  return binaryOfBytes(encoder.encode(text));
}

/** The binary string of `bytes`. */
export function binaryOfBytes(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return out;
}

/** The bytes of a binary string. */
export function bytesOfBinary(binary: string): Uint8Array {
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Appends the ids of `piece` (a binary string) to `out`. Every byte must be a token. `pairRanks`
 * remembers, across calls, the rank of two token ids side by side (−1 for none).
 */
export function encodePiece(
  piece: string,
  ranks: ReadonlyMap<string, number>,
  out: number[],
  longPiece: number = LONG_PIECE,
  pairRanks: Map<number, number> = new Map(),
): void {
  const whole = ranks.get(piece);
  if (whole !== undefined) {
    out.push(whole);
    return;
  }
  if (piece.length > longPiece) mergeLong(piece, ranks, out, pairRanks);
  else mergeShort(piece, ranks, out);
}

const NONE = Number.MAX_SAFE_INTEGER;

/** tiktoken's scan per merge: part starts and the rank of each part with its right neighbour. */
function mergeShort(piece: string, ranks: ReadonlyMap<string, number>, out: number[]): void {
  const n = piece.length;
  // starts[i] is where part i begins; starts[parts] = n. rank[i] is the rank of parts i + (i+1).
  const starts: number[] = new Array(n + 1);
  const rank: number[] = new Array(n);
  for (let i = 0; i <= n; i++) starts[i] = i;
  for (let i = 0; i < n - 1; i++) rank[i] = ranks.get(piece.substring(i, i + 2)) ?? NONE;
  rank[n - 1] = NONE;
  let parts = n;
  while (parts > 1) {
    let min = NONE, at = -1;
    for (let i = 0; i < parts - 1; i++) {
      if (rank[i] < min) {
        min = rank[i];
        at = i;
      }
    }
    if (at < 0) break;
    // Part at+1 joins part at; the parts after shift left by one.
    starts.splice(at + 1, 1);
    rank.splice(at + 1, 1);
    parts--;
    rank[at] = at + 1 < parts
      ? ranks.get(piece.substring(starts[at], starts[at + 2])) ?? NONE
      : NONE;
    if (at > 0) rank[at - 1] = ranks.get(piece.substring(starts[at - 1], starts[at + 1])) ?? NONE;
  }
  for (let i = 0; i < parts; i++) out.push(ranks.get(piece.substring(starts[i], starts[i + 1]))!);
}

/**
 * The same merges for long pieces: parts in a linked list, candidate pairs in a min-heap keyed
 * by (rank, start); an entry is current when its part still starts there and still forms that
 * token with its right neighbour. Every part is a token, so the rank of two neighbours is
 * looked up by their ids (remembered in `pairRanks`) rather than by their bytes.
 */
function mergeLong(
  piece: string,
  ranks: ReadonlyMap<string, number>,
  out: number[],
  pairRanks: Map<number, number>,
): void {
  const n = piece.length;
  const next = new Int32Array(n + 1);
  const prev = new Int32Array(n);
  const id = new Int32Array(n); // the token id of the part starting here
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    id[i] = ranks.get(piece[i])!;
  }
  if (pairRanks.size > 1 << 20) pairRanks.clear();
  // The rank of the part at s joined with its right neighbour, or -1.
  const rankAt = (s: number): number => {
    const e = next[s];
    if (e >= n) return -1;
    const key = id[s] * PAIR_KEY + id[e];
    let rank = pairRanks.get(key);
    if (rank === undefined) {
      rank = ranks.get(piece.substring(s, next[e])) ?? -1;
      pairRanks.set(key, rank);
    }
    return rank;
  };
  const heapRank: number[] = [];
  const heapStart: number[] = [];
  const below = (i: number, j: number) =>
    heapRank[i] < heapRank[j] || (heapRank[i] === heapRank[j] && heapStart[i] < heapStart[j]);
  const swap = (i: number, j: number) => {
    const r = heapRank[i], s = heapStart[i];
    heapRank[i] = heapRank[j];
    heapStart[i] = heapStart[j];
    heapRank[j] = r;
    heapStart[j] = s;
  };
  const push = (r: number, s: number) => {
    heapRank.push(r);
    heapStart.push(s);
    let i = heapRank.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!below(i, p)) break;
      swap(i, p);
      i = p;
    }
  };
  const pop = () => {
    const lastRank = heapRank.pop()!, lastStart = heapStart.pop()!;
    const size = heapRank.length;
    if (size === 0) return;
    heapRank[0] = lastRank;
    heapStart[0] = lastStart;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < size && below(l, m)) m = l;
      if (r < size && below(r, m)) m = r;
      if (m === i) break;
      swap(i, m);
      i = m;
    }
  };
  for (let i = 0; i < n - 1; i++) {
    const r = rankAt(i);
    if (r >= 0) push(r, i);
  }
  while (heapRank.length > 0) {
    const r = heapRank[0], s = heapStart[0];
    pop();
    // Stale: the part at s was absorbed (its id is gone) or its pair changed.
    if (id[s] < 0 || rankAt(s) !== r) continue;
    const gone = next[s];
    id[gone] = -1;
    id[s] = r;
    next[s] = next[gone];
    if (next[s] < n) prev[next[s]] = s;
    const right = rankAt(s);
    if (right >= 0) push(right, s);
    const p = prev[s];
    if (p >= 0) {
      const left = rankAt(p);
      if (left >= 0) push(left, p);
    }
  }
  for (let s = 0; s < n; s = next[s]) out.push(id[s]);
}

/** Pair keys `left · 2²⁰ + right` (ids below 2²⁰). */
const PAIR_KEY = 1048576;
