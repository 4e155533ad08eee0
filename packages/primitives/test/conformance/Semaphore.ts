/**
 * The semaphore conformance suite: the same behaviours against every
 * semaphore at every scope — `Semaphore`, `SharedSemaphore`,
 * `manager.semaphore(n)` (and `@weft/cluster`'s `semaphore(name, n)`). The
 * factory takes the number of permits:
 *
 * ```ts
 * semaphoreConformance("SharedSemaphore", (permits) => SharedSemaphore.make(permits))
 * ```
 */
import { assert, describe } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { pipe } from "effect/Function"
import { Promised, Semaphore } from "../../src/index.ts"
import { eventually, type Factory, type Options, mostInside, settle, tester } from "./helpers.ts"

export const semaphoreConformance = (name: string, make: Factory<Semaphore.Semaphore, [permits: number]>, options?: Options): void => {
  const test = tester(`${name} (semaphore conformance)`, make, options)

  describe(`${name}: the Semaphore interface`, () => {
    test("acquire(k), tryAcquire(k), release(k) and available count permits", [3], (sem) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* sem.available, 3)
        yield* sem.acquire()
        yield* sem.acquire(2)
        assert.strictEqual(yield* sem.available, 0)
        assert.isFalse(yield* sem.tryAcquire())
        yield* sem.release(2)
        assert.isTrue(yield* sem.tryAcquire(2))
        assert.isFalse(yield* sem.tryAcquire())
        yield* sem.release(3)
        assert.strictEqual(yield* sem.available, 3)
      }))

    test("a bad k or timeout fails with InvalidArgumentError and changes nothing", [2], (sem) =>
      Effect.gen(function*() {
        for (const k of [0, -1, 1.5]) {
          assert.strictEqual((yield* Effect.flip(sem.acquire(k)))._tag, "InvalidArgumentError")
          assert.strictEqual((yield* Effect.flip(sem.tryAcquire(k)))._tag, "InvalidArgumentError")
          assert.strictEqual((yield* Effect.flip(sem.release(k)))._tag, "InvalidArgumentError")
          assert.strictEqual((yield* Effect.flip(sem.withPermits(k)(Effect.void)))._tag, "InvalidArgumentError")
        }
        assert.strictEqual((yield* Effect.flip(sem.acquireFor(-1)))._tag, "InvalidArgumentError")
        assert.strictEqual(yield* sem.available, 2)
      }))

    test("acquireFor: false when the time runs out (nothing taken), true when the permits come", [1], (sem) =>
      Effect.gen(function*() {
        yield* sem.acquire()
        const started = Date.now()
        assert.isFalse(yield* sem.acquireFor("40 millis"))
        assert.isAtLeast(Date.now() - started, 30)
        const waiter = yield* Effect.forkChild(sem.acquireFor("10 seconds"))
        yield* settle
        yield* sem.release()
        assert.isTrue(yield* Fiber.join(waiter))
        yield* sem.release()
        assert.strictEqual(yield* sem.available, 1)
      }))

    test("withPermits never lets more than n in, and returns the permits however the effect ends", [2], (sem) =>
      Effect.gen(function*() {
        let inside = 0
        let most = 0
        // The first body in waits (up to 5 s) for a second one to join it, so that both permits are
        // seen in use at once however slowly a remote scope grants them on a loaded machine.
        const both = yield* Deferred.make<void>()
        const work = sem.withPermits(1)(Effect.gen(function*() {
          most = Math.max(most, ++inside)
          if (inside === 2) yield* Deferred.succeed(both, undefined)
          yield* Effect.ignore(Effect.timeout(Deferred.await(both), "5 seconds"))
          yield* Effect.sleep(2)
          inside--
        }))
        yield* Effect.all(Array.from({ length: 8 }, () => work), { concurrency: "unbounded", discard: true })
        assert.strictEqual(most, 2)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(sem.withPermits(2)(Effect.fail("boom")))))
        const holder = yield* Effect.forkChild(sem.withPermits(2)(Effect.never))
        yield* eventually(Effect.map(sem.available, (n) => n === 0))
        yield* Fiber.interrupt(holder)
        yield* eventually(Effect.map(sem.available, (n) => n === 2))
      }))

    test("waiters are served in the order they came; an interrupted one takes nothing", [1], (sem) =>
      Effect.gen(function*() {
        const order: Array<number> = []
        yield* sem.acquire()
        const first = yield* Effect.forkChild(sem.withPermits(1)(Effect.sync(() => order.push(1))))
        yield* settle
        const quitter = yield* Effect.forkChild(sem.acquire())
        yield* settle
        const second = yield* Effect.forkChild(sem.withPermits(1)(Effect.sync(() => order.push(2))))
        yield* settle
        yield* Fiber.interrupt(quitter)
        yield* sem.release()
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        assert.deepStrictEqual(order, [1, 2])
        yield* eventually(Effect.map(sem.available, (n) => n === 1))
      }))

    test("strict FIFO: a later small request does not overtake an earlier large one", [2], (sem) =>
      Effect.gen(function*() {
        yield* sem.acquire(2)
        const order: Array<string> = []
        const big = yield* Effect.forkChild(Effect.andThen(sem.acquire(2), Effect.sync(() => order.push("big"))))
        yield* settle
        const small = yield* Effect.forkChild(Effect.andThen(sem.acquire(1), Effect.sync(() => order.push("small"))))
        yield* settle
        yield* sem.release(1)
        yield* settle
        assert.deepStrictEqual(order, [])
        yield* sem.release(1)
        yield* Fiber.join(big)
        yield* sem.release(2)
        yield* Fiber.join(small)
        assert.deepStrictEqual(order, ["big", "small"])
        yield* sem.release(1)
      }))

    test("members work passed as values or destructured; module functions data-first and data-last", [2], (sem) =>
      Effect.gen(function*() {
        const { acquire, acquireFor, available, release, tryAcquire, withPermits } = sem
        assert.strictEqual(yield* Effect.succeed(1).pipe(sem.withPermits(1)), 1)
        assert.strictEqual(yield* withPermits(2)(Effect.succeed(2)), 2)
        yield* acquire()
        assert.isTrue(yield* tryAcquire())
        assert.isFalse(yield* acquireFor(1))
        assert.strictEqual(yield* available, 0)
        yield* release(2)
        assert.strictEqual(yield* Semaphore.withPermits(sem, 2, Effect.succeed(3)), 3)
        assert.strictEqual(yield* Effect.succeed(4).pipe(Semaphore.withPermits(sem, 1)), 4)
        yield* Semaphore.acquire(sem, 2)
        assert.isFalse(yield* pipe(sem, Semaphore.tryAcquire()))
        assert.isFalse(yield* Semaphore.acquireFor(sem, 1))
        yield* pipe(sem, Semaphore.release(1))
        assert.isTrue(yield* pipe(sem, Semaphore.acquireFor(0, 1)))
        yield* Semaphore.release(sem, 2)
        assert.strictEqual(yield* Semaphore.available(sem), 2)
      }))

    test("the Promise face: runExclusive holds k permits around fn", [2], (sem) =>
      Effect.promise(async () => {
        const slots = Promised.semaphore(sem)
        assert.strictEqual(await mostInside(6, (body) => slots.runExclusive(body), 2), 2)
        assert.strictEqual(await slots.runExclusive(() => slots.available(), 2), 0)
        assert.strictEqual(await slots.available(), 2)
      }))
  })
}
