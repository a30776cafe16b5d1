/**
 * The code a kernel worker thread runs, and the layout of the control words it shares with
 * the calling thread (the first {@link CONTROL_BYTES} bytes of the kernels' shared memory).
 *
 * A product is cut into chunks of rows. The calling thread publishes a job (its parameters,
 * then a fresh claim word, then a new generation number, and wakes the workers); every
 * participant, the calling thread included, claims chunks one at a time by compare-and-swap
 * on the claim word and runs the WebAssembly `chunk` kernel on each; the calling thread then
 * sleeps until the done counter reaches the number of chunks. A worker that is late or
 * descheduled (the machine is shared) simply claims fewer chunks: no thread ever waits for
 * a chunk nobody has claimed.
 *
 * The claim word is `tag << 20 | next chunk`, the tag being the job's generation modulo
 * 2048; between jobs its chunk field is {@link CLOSED}. A claim is valid only while the
 * word is unchanged since the parameters were read, so a stale worker can never mix one
 * job's parameters with another's chunk.
 *
 * The worker is started from a `data:` URL holding {@link poolWorkerMain}'s source, so it
 * needs no read or network permission, whether the library is loaded from disk or a
 * registry. It ends itself after `idleMs` without work, so it never keeps a program alive.
 *
 * @module
 */

/** Bytes of control words at the start of the shared memory. */
export const CONTROL_BYTES = 256;

/** Indices of the control words (Int32). */
export const Control = {
  CLAIM: 0,
  DONE: 1,
  GEN: 2,
  FAILED: 3,
  KIND: 4,
  CHUNKS: 5,
  CHUNK_ROWS: 6,
  ROWS_PADDED: 7,
  AP_BASE: 8,
  AP_BYTES: 9,
  /** The {@link PARAM_COUNT} `chunk` arguments before i0 (offA … accumulate). */
  PARAMS: 10,
  /** Chunks done by worker threads since the memory was made (a statistic for tests). */
  WORKER_CHUNKS: 20,
  /** One word per worker slot: 1 while a worker holds it. */
  SLOTS: 32,
} as const;

/** How many of `chunk`'s arguments are the job's parameters (the same for every chunk). */
export const PARAM_COUNT = 10;

/** Largest number of worker threads. */
export const MAX_WORKERS = 15;

/** The chunk field of the claim word between jobs. */
export const CLOSED = 0xfffff;

/** What the calling thread posts to a new worker. */
export interface PoolWorkerInit {
  /** The kernels' shared memory. */
  readonly memory: WebAssembly.Memory;
  /** Bytes of each kernel module, indexed by the job's KIND. */
  readonly modules: readonly Uint8Array<ArrayBuffer>[];
  /** This worker's slot (its scratch is slot + 1; the calling thread's is 0). */
  readonly slot: number;
  /** How long to wait for work before ending. */
  readonly idleMs: number;
  /** The control-word indices ({@link Control}), {@link CLOSED} and {@link PARAM_COUNT}. */
  readonly layout: typeof Control & { readonly CLOSED: number; readonly PARAM_COUNT: number };
}

/**
 * The worker's whole program. It is shipped as source text, so it refers to nothing outside
 * itself: even the control-word indices come with the first message.
 */
export function poolWorkerMain(): void {
  const scope = self as unknown as {
    onmessage: ((event: MessageEvent<PoolWorkerInit>) => void) | null;
    close(): void;
  };
  scope.onmessage = (event) => {
    scope.onmessage = null;
    const { memory, modules, slot, idleMs } = event.data;
    type Chunk = (...args: number[]) => void;
    const kernels = modules.map((bytes) =>
      new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports
        .chunk as Chunk
    );
    const control = new Int32Array(memory.buffer, 0, 64);
    const { CLAIM, DONE, GEN, FAILED, KIND, CHUNKS, CHUNK_ROWS, ROWS_PADDED, AP_BASE } =
      event.data.layout;
    const { AP_BYTES, PARAMS, PARAM_COUNT, SLOTS, CLOSED, WORKER_CHUNKS } = event.data.layout;
    let seen = -1;
    while (Atomics.wait(control, GEN, seen, idleMs) !== "timed-out") {
      seen = Atomics.load(control, GEN);
      while (true) {
        const claim = Atomics.load(control, CLAIM);
        const index = claim & CLOSED;
        if (index === CLOSED) break;
        const chunks = control[CHUNKS];
        if (index >= chunks) break;
        const kernel = kernels[control[KIND]];
        const params = Array.from(control.subarray(PARAMS, PARAMS + PARAM_COUNT));
        const rows = control[CHUNK_ROWS], padded = control[ROWS_PADDED];
        const scratch = control[AP_BASE] + (slot + 1) * control[AP_BYTES];
        if (Atomics.compareExchange(control, CLAIM, claim, claim + 1) !== claim) continue;
        try {
          kernel(...params, index * rows, Math.min(padded, (index + 1) * rows), scratch);
        } catch {
          Atomics.store(control, FAILED, 1);
        }
        Atomics.add(control, WORKER_CHUNKS, 1);
        if (Atomics.add(control, DONE, 1) + 1 === chunks) Atomics.notify(control, DONE);
      }
    }
    Atomics.store(control, SLOTS + slot, 0);
    scope.close();
  };
}
