/**
 * Thread scope: `SharedLock` against the fiber `Lock` and a raw `Atomics`
 * futex lock.
 *
 *   node_modules/.bin/node bench/src/threads/main.ts
 *
 * Rows:
 * - uncontended `withLock` in one thread, `SharedLock` vs the fiber `Lock`
 *   (same harness: interleaved rounds, median);
 * - 2 worker threads x `OPS` `withLock` on one `SharedLock`, each adding to a
 *   plain (non-atomic) counter; throughput, and the longest single wait of any
 *   thread for the lock;
 * - the same with a raw futex lock (CAS + `Atomics.wait`, which blocks the
 *   thread: the physical limit, not something an event-loop thread may do).
 *
 * This file is its own worker: run as a worker thread it does one side of a
 * contended run.
 */
import { Effect } from "effect"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { Lock, SharedLock } from "@weft/primitives"
import { type Case, measure, runtime, table } from "../harness.ts"

const OPS = 100_000

interface Side {
  readonly kind: "shared" | "futex"
  readonly handle?: SharedLock.Handle
  readonly words: SharedArrayBuffer
  readonly ops: number
}

// words: [futex lock, counter, arrived, -]
const arrive = (w: Int32Array) => {
  Atomics.add(w, 2, 1)
  while (Atomics.load(w, 2) < 2) { /* both sides start together */ }
}

const futexLock = (w: Int32Array) => {
  if (Atomics.compareExchange(w, 0, 0, 1) === 0) return
  for (;;) {
    // 2: locked with waiters
    if (Atomics.exchange(w, 0, 2) === 0) return
    Atomics.wait(w, 0, 2)
  }
}

const futexUnlock = (w: Int32Array) => {
  if (Atomics.exchange(w, 0, 0) === 2) Atomics.notify(w, 0, 1)
}

const side = async (job: Side): Promise<{ maxWaitMs: number }> => {
  const w = new Int32Array(job.words)
  let maxWait = 0
  if (job.kind === "futex") {
    arrive(w)
    for (let i = 0; i < job.ops; i++) {
      const t0 = performance.now()
      futexLock(w)
      const waited = performance.now() - t0
      if (waited > maxWait) maxWait = waited
      w[1] = w[1]! + 1
      futexUnlock(w)
    }
    return { maxWaitMs: maxWait }
  }
  const lock = SharedLock.attachUnsafe(job.handle!)
  let t0 = 0
  const stamp = Effect.sync(() => { t0 = performance.now() })
  const body = Effect.sync(() => {
    const waited = performance.now() - t0
    if (waited > maxWait) maxWait = waited
    w[1] = w[1]! + 1
  })
  const one = Effect.andThen(stamp, lock.withLock(body))
  arrive(w)
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < job.ops; i++) yield* one
  }))
  return { maxWaitMs: maxWait }
}

if (!isMainThread) {
  side(workerData as Side).then((r) => parentPort!.postMessage(r))
} else {
  const contended = async (kind: Side["kind"], ops: number) => {
    const words = new SharedArrayBuffer(16)
    const handle = kind === "shared" ? SharedLock.makeUnsafe().handle : undefined
    const workers = [0, 1].map(() =>
      new Worker(new URL(import.meta.url), { workerData: { kind, handle, words, ops } satisfies Side })
    )
    const started = performance.now()
    // Timed from the moment both workers have arrived at the start line.
    while (Atomics.load(new Int32Array(words), 2) < 2) await new Promise((r) => setTimeout(r, 1))
    const t0 = performance.now()
    const results = await Promise.all(workers.map((worker) =>
      new Promise<{ maxWaitMs: number }>((resolve, reject) => {
        worker.once("message", resolve)
        worker.once("error", reject)
      })
    ))
    const seconds = (performance.now() - t0) / 1000
    await Promise.all(workers.map((w) => w.terminate()))
    const count = new Int32Array(words)[1]!
    if (count !== 2 * ops) throw new Error(`${kind}: counter ${count}, expected ${2 * ops}`)
    void started
    return { opsPerSecond: (2 * ops) / seconds, maxWaitMs: Math.max(...results.map((r) => r.maxWaitMs)) }
  }

  const fiber = Lock.makeUnsafe()
  const shared = SharedLock.makeUnsafe()
  const loop = (lock: Lock.Lock) => {
    const one = lock.withLock(Effect.void)
    return (ops: number) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < ops; i++) yield* one
      }))
  }
  const cases: Array<Case> = [
    { name: "Lock.withLock (fiber), uncontended", run: loop(fiber) },
    { name: "SharedLock.withLock, uncontended", run: loop(shared) }
  ]
  const rows = await measure(cases, 200_000)

  const runs = { shared: [] as Array<{ opsPerSecond: number; maxWaitMs: number }>, futex: [] as typeof runs.shared }
  for (let round = 0; round < 3; round++) {
    runs.shared.push(await contended("shared", OPS))
    runs.futex.push(await contended("futex", OPS))
  }
  const mid = (xs: Array<{ opsPerSecond: number; maxWaitMs: number }>) =>
    [...xs].sort((a, b) => a.opsPerSecond - b.opsPerSecond)[xs.length >> 1]!
  const s = mid(runs.shared)
  const f = mid(runs.futex)
  rows.push(
    { name: "SharedLock.withLock, 2 threads contended", opsPerSecond: s.opsPerSecond, extra: `longest wait ${s.maxWaitMs.toFixed(2)} ms` },
    { name: "raw Atomics futex lock (Atomics.wait), 2 threads", opsPerSecond: f.opsPerSecond, extra: `longest wait ${f.maxWaitMs.toFixed(2)} ms` }
  )
  console.log(`${runtime()}; uncontended: median of 5 rounds of 200,000; contended: 2 x ${OPS.toLocaleString("en")} per run, median of 3 runs\n`)
  console.log(table("thread scope", rows, ["Lock.withLock (fiber), uncontended"]))
}
