/**
 * Byte-pair-encoding training: the merges, learned from chunks of bytes with their counts.
 *
 * Both algorithms pick the same merge at every step: the most frequent pair of adjacent tokens
 * (counted over all chunks, each weighted by how often it occurs), ties broken by the smallest
 * left id, then the smallest right id. The new token's id is 256 + the merge's index.
 *
 * - {@linkcode trainIncremental}: one linked list of symbols over all chunks, the count of
 *   every pair, the positions where each pair starts, and a max-heap of (count, pair). A merge
 *   visits only the positions of its pair and adjusts the counts of the pairs it destroys and
 *   creates; stale heap entries are discarded (or re-queued with the current count) when they
 *   surface. Cost per merge ~ the pair's occurrences, not the corpus.
 * - {@linkcode trainByScan}: the textbook loop (minbpe's): recount every pair of every chunk,
 *   take the best, rewrite every chunk. Cost per merge ~ the corpus. Kept as the baseline the
 *   benchmark measures and the reference the tests compare with.
 *
 * @module
 */

/** Pairs are keyed `left · 2²⁰ + right`, so sorting keys sorts pairs by (left, right). */
export const PAIR_SHIFT = 1048576;
/** The largest vocabulary the pair keys can address. */
export const MAX_TRAINED_VOCAB = PAIR_SHIFT;

/** A chunk of bytes and how many times it occurs in the training text. */
export interface WeightedChunk {
  /** The chunk's UTF-8 bytes. */
  bytes: Uint8Array;
  /** Its number of occurrences. */
  count: number;
}

/** A merge `[left, right]`; merge i creates token 256 + i. */
export type Merge = readonly [number, number];

/**
 * The first `numMerges` merges (fewer if the chunks run out of pairs), incrementally.
 */
export function trainIncremental(chunks: readonly WeightedChunk[], numMerges: number): Merge[] {
  let total = 0;
  for (const chunk of chunks) total += chunk.bytes.length;
  const symbol = new Int32Array(total);
  const next = new Int32Array(total);
  const prev = new Int32Array(total);
  const weight = new Float64Array(total);
  let at = 0;
  for (const { bytes, count } of chunks) {
    for (let i = 0; i < bytes.length; i++) {
      symbol[at + i] = bytes[i];
      prev[at + i] = i === 0 ? -1 : at + i - 1;
      next[at + i] = i === bytes.length - 1 ? -1 : at + i + 1;
      weight[at + i] = count;
    }
    at += bytes.length;
  }

  const counts = new Map<number, number>();
  const positions = new Map<number, number[]>();
  const addPosition = (key: number, position: number) => {
    const list = positions.get(key);
    if (list === undefined) positions.set(key, [position]);
    else list.push(position);
  };
  for (let i = 0; i < total; i++) {
    const j = next[i];
    if (j < 0) continue;
    const key = symbol[i] * PAIR_SHIFT + symbol[j];
    counts.set(key, (counts.get(key) ?? 0) + weight[i]);
    addPosition(key, i);
  }
  const heap = new PairHeap();
  for (const [key, count] of counts) heap.push(count, key);

  const merges: Merge[] = [];
  const touched = new Set<number>();
  while (merges.length < numMerges) {
    // The best pair whose heap entry is current; an entry above its pair's count is re-queued.
    let best = -1;
    while (heap.size > 0) {
      const count = heap.topCount();
      const key = heap.pop();
      const current = counts.get(key)!;
      if (current === count) {
        best = key;
        break;
      }
      if (current > 0) heap.push(current, key);
    }
    if (best < 0 || counts.get(best)! <= 0) break;
    const left = Math.floor(best / PAIR_SHIFT);
    const right = best - left * PAIR_SHIFT;
    const created = 256 + merges.length;
    merges.push([left, right]);

    const list = positions.get(best)!;
    positions.delete(best);
    // Left to right, so that overlapping occurrences ("aaa" for (a, a)) merge as a scan would.
    list.sort((a, b) => a - b);
    touched.clear();
    for (const i of list) {
      if (symbol[i] !== left) continue; // stale: this position changed since it was recorded
      const j = next[i];
      if (j < 0 || symbol[j] !== right) continue;
      const w = weight[i];
      counts.set(best, counts.get(best)! - w);
      const p = prev[i];
      if (p >= 0) {
        const gone = symbol[p] * PAIR_SHIFT + left;
        counts.set(gone, counts.get(gone)! - w);
        const made = symbol[p] * PAIR_SHIFT + created;
        counts.set(made, (counts.get(made) ?? 0) + w);
        addPosition(made, p);
        touched.add(made);
      }
      const n = next[j];
      if (n >= 0) {
        const gone = right * PAIR_SHIFT + symbol[n];
        counts.set(gone, counts.get(gone)! - w);
        const made = created * PAIR_SHIFT + symbol[n];
        counts.set(made, (counts.get(made) ?? 0) + w);
        addPosition(made, i);
        touched.add(made);
        prev[n] = i;
      }
      symbol[i] = created;
      next[i] = n;
      symbol[j] = -1; // j is gone; stale positions pointing at it are skipped
    }
    // Pairs with the new token are new keys: queue each once, with its final count.
    for (const key of touched) {
      const count = counts.get(key)!;
      if (count > 0) heap.push(count, key);
    }
  }
  return merges;
}

/** The first `numMerges` merges (fewer if the chunks run out of pairs), rescanning per merge. */
export function trainByScan(chunks: readonly WeightedChunk[], numMerges: number): Merge[] {
  let ids = chunks.map((chunk) => Array.from(chunk.bytes));
  const merges: Merge[] = [];
  while (merges.length < numMerges) {
    const counts = new Map<number, number>();
    ids.forEach((chunk, c) => {
      for (let i = 0; i + 1 < chunk.length; i++) {
        const key = chunk[i] * PAIR_SHIFT + chunk[i + 1];
        counts.set(key, (counts.get(key) ?? 0) + chunks[c].count);
      }
    });
    let best = -1;
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount || (count === bestCount && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best < 0) break;
    const left = Math.floor(best / PAIR_SHIFT);
    const right = best - left * PAIR_SHIFT;
    const created = 256 + merges.length;
    merges.push([left, right]);
    ids = ids.map((chunk) => {
      const out: number[] = [];
      for (let i = 0; i < chunk.length; i++) {
        if (i + 1 < chunk.length && chunk[i] === left && chunk[i + 1] === right) {
          out.push(created);
          i++;
        } else {
          out.push(chunk[i]);
        }
      }
      return out;
    });
  }
  return merges;
}

/** A binary max-heap of (count, key): larger count first, then smaller key. */
class PairHeap {
  #counts: number[] = [];
  #keys: number[] = [];

  get size(): number {
    return this.#keys.length;
  }

  topCount(): number {
    return this.#counts[0];
  }

  #above(i: number, j: number): boolean {
    const ci = this.#counts[i], cj = this.#counts[j];
    return ci > cj || (ci === cj && this.#keys[i] < this.#keys[j]);
  }

  #swap(i: number, j: number): void {
    const c = this.#counts[i], k = this.#keys[i];
    this.#counts[i] = this.#counts[j];
    this.#keys[i] = this.#keys[j];
    this.#counts[j] = c;
    this.#keys[j] = k;
  }

  push(count: number, key: number): void {
    this.#counts.push(count);
    this.#keys.push(key);
    let i = this.#keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#above(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  pop(): number {
    const top = this.#keys[0];
    const lastCount = this.#counts.pop()!;
    const lastKey = this.#keys.pop()!;
    const n = this.#keys.length;
    if (n > 0) {
      this.#counts[0] = lastCount;
      this.#keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < n && this.#above(l, m)) m = l;
        if (r < n && this.#above(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}
