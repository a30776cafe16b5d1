/**
 * The code a kernel worker thread runs, and the layout of the control words it shares with
 * the calling thread (the first {@link CONTROL_BYTES} bytes of the kernels' shared memory).
 *
 * A product is a list of tasks: first the pack tasks, each packing one part of B (a range of
 * rows of a k-block, into every panel of the block) with `packB`, then the chunks of rows of
 * C, each run by the `chunk` kernel. The calling thread publishes a job (its parameters, then
 * a fresh claim word, then a new generation number, and wakes the workers). When B is large
 * enough to share its packing out, it copies the first chunk's rows of A and the first pack
 * task's rows of B in first; the workers pack while it copies the rest of B, piece by piece
 * in the pack tasks' order (B_ROWS_IN counting the rows in so far: a pack task first waits on
 * it), then the rest of A, chunk by chunk in the chunks' order (ROWS_IN likewise). Else it
 * copies A and B and packs B before publishing. Every participant, the calling thread
 * included, claims tasks one at a time by compare-and-swap on the claim word. A chunk needs
 * all of B and its own rows of A: its thread first waits on the READY counter (bumped per
 * pack task), then on ROWS_IN. After a chunk, its flag is set; between its own
 * tasks and after them, the calling thread copies out the rows of every flagged chunk, so
 * that copy overlaps the workers' compute; when none is flagged, it sleeps on the done
 * counter (bumped and notified per chunk). A worker that is late or descheduled (the
 * machine is shared) simply claims fewer tasks: no thread ever waits for a task nobody has
 * claimed, since tasks are claimed in order and every pack task comes before every chunk,
 * nor for rows (of A or B) the calling thread has not yet copied, since it copies all of them
 * before it claims a task.
 *
 * The claim word is `tag << 20 | next task`, the tag being the job's generation modulo
 * 2048; between jobs its task field is {@link CLOSED}. A claim is valid only while the
 * word is unchanged since the parameters were read, so a stale worker can never mix one
 * job's parameters with another's task.
 *
 * Every wait spins for a while before it sleeps (see {@link waitWhileEqual}): in a burst of
 * products a worker sees the next job at once instead of being woken by the kernel.
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
  AP_BASE: 8,
  AP_BYTES: 9,
  /** Byte offset of the job's chunk flags: one Int32 a chunk, set to 1 once it is computed,
   * so the calling thread copies finished rows out while other chunks are still running;
   * then the chunks' row bounds: chunk c is rows [bounds[c], bounds[c + 1]). */
  CHUNK_FLAGS: 21,
  /** How many tasks, before the chunks, pack a part of B (claimed like chunks). */
  PACK_TASKS: 22,
  /** Byte offset of the pack tasks' `packB` arguments, {@link PACK_ARGS} Int32s a task. */
  PACK_TABLE: 23,
  /** Pack tasks done: chunks start once it reaches PACK_TASKS. */
  READY: 24,
  /** Rows of B copied in so far: a pack task starts once it reaches the rows the task
   * needs (the calling thread copies B piece by piece after publishing the job, so the
   * packing of the first rows overlaps the copying of the next). */
  B_ROWS_IN: 25,
  /** Rows of A (and of C's start) copied in so far: a chunk of rows [i0, i1) starts once it
   * reaches i1. The calling thread copies them chunk by chunk, in order, after publishing the
   * job, so the first chunks start before the last rows are in. */
  ROWS_IN: 26,
  /** How long, in microseconds, a waiting thread spins before it sleeps (set by
   * `setGemmThreads`, read at every wait). */
  SPIN_US: 27,
  /** The {@link PARAM_COUNT} `chunk` arguments before i0 (offA … offBias), after the slots. */
  PARAMS: 48,
  /** Chunks done by worker threads since the memory was made (a statistic for tests). */
  WORKER_CHUNKS: 20,
  /** One word per worker slot: 1 while a worker holds it, 2 while it is asked to leave. */
  SLOTS: 32,
} as const;

/** How many of `chunk`'s arguments are the job's parameters (the same for every chunk). */
export const PARAM_COUNT = 11;

/** Largest number of worker threads. */
export const MAX_WORKERS = 15;

/** Arguments of one `packB` call. */
export const PACK_ARGS = 8;

/** Int32 words of one pack task in the table: `packB`'s arguments, then how many rows of B
 * must be copied in before it runs. */
export const PACK_TASK_WORDS = PACK_ARGS + 1;

/** The task field of the claim word between jobs. */
export const CLOSED = 0xfffff;

/**
 * Waits until `words[index]` is no longer `value`: first by spinning for up to `spinMs`, then
 * by sleeping in `Atomics.wait` (for up to `timeoutMs`). Waking a sleeping thread takes tens
 * of microseconds here (a futex call on each side, more under a hypervisor), which is a
 * noticeable part of a product of a few milliseconds; during a burst of products, the
 * thread that spins sees the next job at once. Returns what `Atomics.wait` would.
 */
export function waitWhileEqual(
  words: Int32Array,
  index: number,
  value: number,
  spinMs: number,
  timeoutMs = Infinity,
): "ok" | "not-equal" | "timed-out" {
  const spinEnd = performance.now() + spinMs;
  while (Atomics.load(words, index) === value) {
    if (performance.now() > spinEnd) return Atomics.wait(words, index, value, timeoutMs);
  }
  return "not-equal";
}

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
  /** The control-word indices ({@link Control}), {@link CLOSED}, {@link PARAM_COUNT},
   * {@link PACK_ARGS} and {@link PACK_TASK_WORDS}. */
  readonly layout: typeof Control & {
    readonly CLOSED: number;
    readonly PARAM_COUNT: number;
    readonly PACK_ARGS: number;
    readonly PACK_TASK_WORDS: number;
  };
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
    type Kernel = (...args: number[]) => void;
    const kernels = modules.map((bytes) => {
      const exports =
        new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
      return { chunk: exports.chunk as Kernel, packB: exports.packB as Kernel };
    });
    const control = new Int32Array(memory.buffer, 0, 64);
    const { CLAIM, DONE, GEN, FAILED, KIND, CHUNKS, AP_BASE } = event.data.layout;
    const { AP_BYTES, PARAMS, PARAM_COUNT, SLOTS, CLOSED, WORKER_CHUNKS } = event.data.layout;
    const { CHUNK_FLAGS, PACK_TASKS, PACK_TABLE, READY, ROWS_IN, SPIN_US, PACK_ARGS } =
      event.data.layout;
    const { B_ROWS_IN, PACK_TASK_WORDS } = event.data.layout;
    let seen = -1;
    // The slot word is 1 while this worker may work; stopGemmWorkers sets it to 2 and waits
    // for the worker to leave (and clear it) before the slot can be given to a new worker,
    // so two workers never share a scratch.
    const stay = () => Atomics.load(control, SLOTS + slot) === 1;
    // As waitWhileEqual (this function cannot import it: it is shipped as source text), and
    // it stops spinning when asked to leave.
    const awaitChange = (index: number, value: number, timeoutMs: number) => {
      const spinEnd = performance.now() + control[SPIN_US] / 1000;
      while (Atomics.load(control, index) === value && stay()) {
        if (performance.now() > spinEnd) return Atomics.wait(control, index, value, timeoutMs);
      }
      return "not-equal";
    };
    while (stay() && awaitChange(GEN, seen, idleMs) !== "timed-out") {
      seen = Atomics.load(control, GEN);
      while (stay()) {
        const claim = Atomics.load(control, CLAIM);
        const index = claim & CLOSED;
        if (index === CLOSED) break;
        const packTasks = control[PACK_TASKS];
        const chunks = control[CHUNKS];
        if (index >= packTasks + chunks) break;
        const kernel = kernels[control[KIND]];
        // A view made now: the memory may have grown since the worker started.
        const words = new Int32Array(memory.buffer);
        if (index < packTasks) {
          const at = control[PACK_TABLE] / 4 + index * PACK_TASK_WORDS;
          const args = Array.from(words.subarray(at, at + PACK_ARGS));
          const rowsNeeded = words[at + PACK_ARGS];
          if (Atomics.compareExchange(control, CLAIM, claim, claim + 1) !== claim) continue;
          for (let rows = Atomics.load(control, B_ROWS_IN); rows < rowsNeeded;) {
            awaitChange(B_ROWS_IN, rows, Infinity);
            rows = Atomics.load(control, B_ROWS_IN);
          }
          try {
            // A view shorter than the table (the memory grown, this thread not yet told):
            // fail loudly rather than pack with missing arguments.
            if (args.length < PACK_ARGS) throw new RangeError("stale memory view");
            kernel.packB(...args);
          } catch {
            Atomics.store(control, FAILED, 1);
          }
          Atomics.add(control, READY, 1);
          Atomics.notify(control, READY);
          continue;
        }
        const chunk = index - packTasks;
        const params = Array.from(control.subarray(PARAMS, PARAMS + PARAM_COUNT));
        const bound = control[CHUNK_FLAGS] / 4 + chunks + chunk;
        const i0 = words[bound], i1 = words[bound + 1];
        const scratch = control[AP_BASE] + (slot + 1) * control[AP_BYTES];
        const flag = control[CHUNK_FLAGS] / 4 + chunk;
        if (Atomics.compareExchange(control, CLAIM, claim, claim + 1) !== claim) continue;
        // Every pack task was claimed before this chunk: wait until they are done, and until
        // the calling thread has copied this chunk's rows in.
        for (let ready = Atomics.load(control, READY); ready < packTasks;) {
          awaitChange(READY, ready, Infinity);
          ready = Atomics.load(control, READY);
        }
        for (let rows = Atomics.load(control, ROWS_IN); rows < i1;) {
          awaitChange(ROWS_IN, rows, Infinity);
          rows = Atomics.load(control, ROWS_IN);
        }
        try {
          if (i1 === undefined) throw new RangeError("stale memory view"); // as for packB
          kernel.chunk(...params, i0, i1, scratch);
        } catch {
          Atomics.store(control, FAILED, 1);
        }
        Atomics.add(control, WORKER_CHUNKS, 1);
        // The flag first: the calling thread, woken by DONE, then finds these rows finished.
        Atomics.store(words, flag, 1);
        Atomics.add(control, DONE, 1);
        Atomics.notify(control, DONE);
      }
    }
    Atomics.store(control, SLOTS + slot, 0);
    Atomics.notify(control, SLOTS + slot);
    scope.close();
  };
}
