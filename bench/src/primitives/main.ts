/**
 * Fiber-scope primitives against their anchors, in one process, the way users
 * call them. Every Effect case is one `Effect.runPromise` around a generator
 * loop that runs one prebuilt effect over and over:
 *
 *     const crit = lock.withLock(Effect.sync(bump))
 *     for (let i = 0; i < n; i++) yield* crit
 *
 * Cases (medians of 9 interleaved rounds after a warm-up):
 * - uncontended: Weft `Lock.withLock` vs Effect `Semaphore(1).withPermits(1)`
 *   vs async-mutex `runExclusive`, and the same through Weft's Promise face
 *   (`Promised.lock().runExclusive`) and its async-mutex drop-in
 *   (`@weft/primitives/compat/async-mutex`, `Mutex.runExclusive`);
 * - 100 contending fibers (or async functions), each critical section
 *   `await null` (so that the others really queue): Weft `Lock`, Effect
 *   `Semaphore(1)`, async-mutex, Weft's Promise face; and a semaphore of 4
 *   (Weft `Semaphore`, Effect `Semaphore`, async-mutex `Semaphore`, Weft's
 *   Promise face);
 * - `Queue.fifo(1024)` vs Effect `Queue.bounded(1024)`: a producer and a
 *   consumer fiber, put/get 1M items.
 *
 * Run: `node bench/src/primitives/main.ts` (or `bun`, `deno run -A`), after
 * `npm run build -w @weft/primitives`. `ROUNDS`, `OPS` override the defaults.
 * `BASE_PRIMITIVES=/path/to/older/packages/primitives/dist/index.js` adds the
 * Weft rows of that older build, marked "(base)", to the same run: a
 * before/after of a change to the primitives, interleaved with the anchors.
 */
import { Mutex, Semaphore as AsyncSemaphore } from "async-mutex"
import { Effect } from "effect"
import * as EffectQueue from "effect/Queue"
import * as EffectSemaphore from "effect/Semaphore"
import { Lock, Lockdep, Promised, Queue, Semaphore } from "@weft/primitives"
import { Mutex as CompatMutex, Semaphore as CompatSemaphore } from "@weft/primitives/compat/async-mutex"
import { type Case, measure, runtime, table } from "../harness.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 9)
const base: typeof import("@weft/primitives") | undefined = process.env.BASE_PRIMITIVES
  ? await import(process.env.BASE_PRIMITIVES)
  : undefined
const OPS = Number(process.env.OPS ?? 1_000_000)
const FIBERS = 100

let counter = 0
const bump = (): void => {
  counter++
}

/** Runs `f` with lock-order checking on (the cases run one at a time, so the switch is theirs). */
const withLockdep = async (f: () => Promise<void>): Promise<void> => {
  Lockdep.enable()
  try {
    await f()
  } finally {
    Lockdep.disable()
  }
}

/** One runPromise around a generator loop running `crit` `n` times. */
const loop = (n: number, crit: Effect.Effect<unknown>): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* crit
  })

/** `FIBERS` fibers, each running `crit` its share of `n` times. */
const contended = (n: number, crit: Effect.Effect<unknown>): Effect.Effect<void> =>
  Effect.all(Array.from({ length: FIBERS }, () => loop(Math.ceil(n / FIBERS), crit)), {
    concurrency: "unbounded",
    discard: true
  })

/** `FIBERS` async functions, each awaiting `crit()` its share of `n` times. */
const contendedAsync = async (n: number, crit: () => Promise<unknown>): Promise<void> => {
  const worker = async (count: number) => {
    for (let i = 0; i < count; i++) await crit()
  }
  await Promise.all(Array.from({ length: FIBERS }, () => worker(Math.ceil(n / FIBERS))))
}

// The critical section of the contended cases: one `await null`.
const awaitNull = async (): Promise<void> => {
  await null
}
const awaitNullEffect: Effect.Effect<void> = Effect.promise(awaitNull)

const uncontendedCases: Array<Case> = [
  {
    name: "Weft Lock.withLock",
    run: (n) => Effect.runPromise(Effect.gen(function*() {
      const lock = yield* Lock.make
      yield* loop(n, lock.withLock(Effect.sync(bump)))
    }))
  },
  {
    name: "Effect Semaphore(1).withPermits(1)",
    run: (n) => Effect.runPromise(Effect.gen(function*() {
      const sem = yield* EffectSemaphore.make(1)
      yield* loop(n, sem.withPermits(1)(Effect.sync(bump)))
    }))
  },
  {
    name: "Weft Promised.lock().runExclusive",
    run: async (n) => {
      const mutex = Promised.lock()
      for (let i = 0; i < n; i++) await mutex.runExclusive(bump)
    }
  },
  {
    name: "async-mutex runExclusive",
    run: async (n) => {
      const mutex = new Mutex()
      for (let i = 0; i < n; i++) await mutex.runExclusive(bump)
    }
  },
  {
    name: "Weft compat/async-mutex Mutex.runExclusive",
    run: async (n) => {
      const mutex = new CompatMutex()
      for (let i = 0; i < n; i++) await mutex.runExclusive(bump)
    }
  },
  {
    name: "Weft Lock.withLock, lockdep on",
    run: (n) => withLockdep(() => Effect.runPromise(Effect.gen(function*() {
      const lock = yield* Lock.make
      yield* loop(n, lock.withLock(Effect.sync(bump)))
    })))
  },
  {
    name: "Weft Lock.withLock, lockdep on, inside another lock",
    run: (n) => withLockdep(() => Effect.runPromise(Effect.gen(function*() {
      const outer = yield* Lock.make
      const lock = yield* Lock.make
      yield* outer.withLock(loop(n, lock.withLock(Effect.sync(bump))))
    })))
  },
  {
    name: "Weft Lock.named withLock (profiled)",
    run: (n) => Effect.runPromise(Effect.gen(function*() {
      const lock = yield* Lock.named("bench")
      yield* loop(n, lock.withLock(Effect.sync(bump)))
    }))
  }
]

const contendedLockCases: Array<Case> = [
  {
    name: "Weft Lock.withLock",
    run: (n) => Effect.runPromise(Effect.flatMap(Lock.make, (lock) => contended(n, lock.withLock(awaitNullEffect))))
  },
  {
    name: "Weft Lock.withLock, lockdep on",
    run: (n) => withLockdep(() => Effect.runPromise(Effect.flatMap(Lock.make, (lock) => contended(n, lock.withLock(awaitNullEffect)))))
  },
  {
    name: "Weft Lock.named withLock (profiled)",
    run: (n) => Effect.runPromise(Effect.flatMap(Lock.named("bench contended"), (lock) => contended(n, lock.withLock(awaitNullEffect))))
  },
  {
    name: "Effect Semaphore(1).withPermits(1)",
    run: (n) => Effect.runPromise(Effect.flatMap(EffectSemaphore.make(1), (sem) => contended(n, sem.withPermits(1)(awaitNullEffect))))
  },
  {
    name: "Weft Promised.lock().runExclusive",
    run: (n) => {
      const mutex = Promised.lock()
      return contendedAsync(n, () => mutex.runExclusive(awaitNull))
    }
  },
  {
    name: "async-mutex runExclusive",
    run: (n) => {
      const mutex = new Mutex()
      return contendedAsync(n, () => mutex.runExclusive(awaitNull))
    }
  },
  {
    name: "Weft compat/async-mutex Mutex.runExclusive",
    run: (n) => {
      const mutex = new CompatMutex()
      return contendedAsync(n, () => mutex.runExclusive(awaitNull))
    }
  }
]

const contendedSemaphoreCases: Array<Case> = [
  {
    name: "Weft Semaphore(4).withPermits(1)",
    run: (n) => Effect.runPromise(Effect.flatMap(Effect.orDie(Semaphore.make(4)), (sem) => contended(n, Effect.orDie(sem.withPermits(1)(awaitNullEffect)))))
  },
  {
    name: "Effect Semaphore(4).withPermits(1)",
    run: (n) => Effect.runPromise(Effect.flatMap(EffectSemaphore.make(4), (sem) => contended(n, sem.withPermits(1)(awaitNullEffect))))
  },
  {
    name: "Weft Promised.semaphore(4).runExclusive",
    run: (n) => {
      const sem = Promised.semaphore(4)
      return contendedAsync(n, () => sem.runExclusive(awaitNull))
    }
  },
  {
    name: "async-mutex Semaphore(4).runExclusive",
    run: (n) => {
      const sem = new AsyncSemaphore(4)
      return contendedAsync(n, () => sem.runExclusive(awaitNull))
    }
  },
  {
    name: "Weft compat/async-mutex Semaphore(4).runExclusive",
    run: (n) => {
      const sem = new CompatSemaphore(4)
      return contendedAsync(n, () => sem.runExclusive(awaitNull))
    }
  }
]

const queueCases: Array<Case> = [
  {
    name: "Weft Queue.fifo(1024)",
    run: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>(1024)
        yield* Effect.all([
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* queue.put(i) }),
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* queue.get })
        ], { concurrency: 2, discard: true })
      }).pipe(Effect.orDie))
  },
  {
    name: "Effect Queue.bounded(1024)",
    run: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        const queue = yield* EffectQueue.bounded<number>(1024)
        yield* Effect.all([
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* EffectQueue.offer(queue, i) }),
          Effect.gen(function*() { for (let i = 0; i < n; i++) yield* EffectQueue.take(queue) })
        ], { concurrency: 2, discard: true })
      }))
  }
]

if (base !== undefined) {
  uncontendedCases.push(
    {
      name: "Weft Lock.withLock (base)",
      run: (n) => Effect.runPromise(Effect.gen(function*() {
        const lock = yield* base.Lock.make
        yield* loop(n, lock.withLock(Effect.sync(bump)))
      }))
    },
    {
      name: "Weft Promised.lock().runExclusive (base)",
      run: async (n) => {
        const mutex = base.Promised.lock()
        for (let i = 0; i < n; i++) await mutex.runExclusive(bump)
      }
    }
  )
  contendedLockCases.push(
    {
      name: "Weft Lock.withLock (base)",
      run: (n) => Effect.runPromise(Effect.flatMap(base.Lock.make, (lock) => contended(n, lock.withLock(awaitNullEffect))))
    },
    {
      name: "Weft Promised.lock().runExclusive (base)",
      run: (n) => {
        const mutex = base.Promised.lock()
        return contendedAsync(n, () => mutex.runExclusive(awaitNull))
      }
    }
  )
  contendedSemaphoreCases.push({
    name: "Weft Semaphore(4).withPermits(1) (base)",
    run: (n) =>
      Effect.runPromise(Effect.flatMap(Effect.orDie(base.Semaphore.make(4)), (sem) => contended(n, Effect.orDie(sem.withPermits(1)(awaitNullEffect)))))
  })
}

const lockAnchors = ["Effect Semaphore(1).withPermits(1)", "async-mutex runExclusive"]
const sections: Array<string> = [`Runtime: ${runtime()}, ${ROUNDS} rounds`]
sections.push(table(`Lock, uncontended (${OPS / 1e6}M ops)`, await measure(uncontendedCases, OPS, ROUNDS), lockAnchors))
sections.push(table(`Lock, ${FIBERS} contending, \`await null\` inside (${OPS / 5e3}k ops)`, await measure(contendedLockCases, OPS / 5, ROUNDS), lockAnchors))
sections.push(table(
  `Semaphore(4), ${FIBERS} contending, \`await null\` inside (${OPS / 5e3}k ops)`,
  await measure(contendedSemaphoreCases, OPS / 5, ROUNDS),
  ["Effect Semaphore(4).withPermits(1)", "async-mutex Semaphore(4).runExclusive"]
))
sections.push(table(`Queue put+get (${OPS / 1e6}M items)`, await measure(queueCases, OPS, ROUNDS), ["Effect Queue.bounded(1024)"]))
console.log(sections.join("\n\n"))
if (counter === 0) throw new Error("nothing ran")
