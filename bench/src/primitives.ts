/**
 * Fiber-scope primitives against their anchors, in one process:
 * - `Lock.withLock` vs Effect's `Semaphore(1).withPermits(1)` vs async-mutex
 *   `runExclusive`, uncontended (one fiber, empty critical section) and with
 *   100 contending fibers. To contend, the critical section must suspend, so it
 *   is one microtask hop in all three (`await Promise.resolve()` for
 *   async-mutex, the same hop as an Effect for the fibers).
 * - `Queue.fifo` vs Effect's `Queue.bounded`: put then get, 1M times, through a
 *   queue of capacity 1024 (producer and consumer fibers running concurrently).
 *
 * Run: `npm run bench -w bench` (all groups) or `node bench/src/primitives.ts`.
 */
import { Mutex } from "async-mutex"
import { Effect } from "effect"
import * as EffectQueue from "effect/Queue"
import * as EffectSemaphore from "effect/Semaphore"
import { Lock, Queue } from "@weft/primitives"
import { type Case, measure, runtime, table } from "./harness.ts"

const run = (effect: Effect.Effect<void>): Promise<void> => Effect.runPromise(effect)

const loop = (n: number, body: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* body
  })

const hop: Effect.Effect<void> = Effect.callback<void>((resume) => {
  queueMicrotask(() => resume(Effect.void))
})

const fibers = 100
const contended = (n: number, guarded: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.all(Array.from({ length: fibers }, () => loop(Math.ceil(n / fibers), guarded)), {
    concurrency: "unbounded",
    discard: true
  })

const lockCases = (contend: boolean): Array<Case> => {
  const body = contend ? hop : Effect.void
  const wrap = contend ? contended : loop
  return [
    {
      name: "Weft Lock.withLock",
      run: (n) => Effect.runPromise(Effect.flatMap(Lock.make, (lock) => wrap(n, lock.withLock(body))))
    },
    {
      name: "Effect Semaphore(1).withPermits(1)",
      run: (n) => Effect.runPromise(Effect.flatMap(EffectSemaphore.make(1), (sem) => wrap(n, sem.withPermits(1)(body))))
    },
    {
      name: "async-mutex runExclusive",
      run: async (n) => {
        const mutex = new Mutex()
        const critical = contend ? async () => { await Promise.resolve() } : () => {}
        const worker = async (count: number) => {
          for (let i = 0; i < count; i++) await mutex.runExclusive(critical)
        }
        if (!contend) return worker(n)
        await Promise.all(Array.from({ length: fibers }, () => worker(Math.ceil(n / fibers))))
      }
    }
  ]
}

const queueCases = (): Array<Case> => [
  {
    name: "Weft Queue.fifo",
    run: (n) =>
      run(Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>(1024)
        yield* Effect.all([
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* queue.put(i) }),
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* queue.get })
        ], { concurrency: 2, discard: true })
      }).pipe(Effect.orDie))
  },
  {
    name: "Effect Queue.bounded",
    run: (n) =>
      run(Effect.gen(function*() {
        const queue = yield* EffectQueue.bounded<number>(1024)
        yield* Effect.all([
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* EffectQueue.offer(queue, i) }),
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* EffectQueue.take(queue) })
        ], { concurrency: 2, discard: true })
      }))
  }
]

const anchors = ["Effect Semaphore(1).withPermits(1)", "async-mutex runExclusive"]
const sections: Array<string> = [`Runtime: ${runtime()}`]
sections.push(table("Lock, uncontended (1M ops)", await measure(lockCases(false), 1_000_000), anchors))
sections.push(table(`Lock, ${fibers} contending fibers (200k ops)`, await measure(lockCases(true), 200_000), anchors))
sections.push(table("Queue put+get (1M items)", await measure(queueCases(), 1_000_000), ["Effect Queue.bounded"]))
console.log(sections.join("\n\n"))
