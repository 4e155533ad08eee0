import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Semaphore } from "../src/index.ts"

describe("Semaphore", () => {
  // Seed 002: a KTV with 4 rooms and more groups than rooms.
  it.effect("4 KTV rooms, 10 groups: never more than 4 inside, all 10 sing", () =>
    Effect.gen(function*() {
      const rooms = yield* Semaphore.make(4)
      let inside = 0
      let most = 0
      const sung: Array<number> = []
      const group = (n: number) =>
        rooms.withPermits(1)(Effect.gen(function*() {
          inside++
          most = Math.max(most, inside)
          yield* Effect.sleep("1 second")
          sung.push(n)
          inside--
        }))
      const all = yield* Effect.forkChild(Effect.forEach(Array.from({ length: 10 }, (_, i) => i), group, { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(sung.length, 4)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(all)
      assert.strictEqual(most, 4)
      assert.deepStrictEqual(sung, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      assert.strictEqual(yield* rooms.available, 4)
    }))

  it.effect("bounded: a release above the start fails SemaphoreOverflowError and changes nothing", () =>
    Effect.gen(function*() {
      const sem = yield* Semaphore.bounded(2)
      yield* sem.acquire()
      yield* sem.release()
      const error = yield* Effect.flip(sem.release())
      assert.strictEqual(error._tag, "SemaphoreOverflowError")
      assert.include(error.message, "2 of 2 permits are already available")
      assert.strictEqual(yield* sem.available, 2)
      // A request larger than a bounded semaphore could never be served.
      assert.strictEqual((yield* Effect.flip(sem.acquire(3)))._tag, "InvalidArgumentError")
    }))

  it.effect("bad input is refused with InvalidArgumentError naming the argument", () =>
    Effect.gen(function*() {
      for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
        const error = yield* Effect.flip(Semaphore.make(bad))
        assert.strictEqual(error._tag, "InvalidArgumentError")
        assert.include(error.message, "Semaphore.make: permits must be an integer >= 0")
      }
      const sem = yield* Semaphore.make(1)
      for (const bad of [0, -2, 0.5]) {
        assert.strictEqual((yield* Effect.flip(sem.acquire(bad)))._tag, "InvalidArgumentError")
        assert.strictEqual((yield* Effect.flip(sem.release(bad)))._tag, "InvalidArgumentError")
        assert.strictEqual((yield* Effect.flip(sem.withPermits(bad)(Effect.void)))._tag, "InvalidArgumentError")
      }
      assert.strictEqual((yield* Effect.flip(sem.acquireFor("-5 millis")))._tag, "InvalidArgumentError")
      assert.strictEqual(yield* sem.available, 1)
    }))

  it.effect("acquireFor: false after the timeout with nothing taken; true when released in time", () =>
    Effect.gen(function*() {
      const sem = yield* Semaphore.make(1)
      yield* sem.acquire()
      const late = yield* Effect.forkChild(sem.acquireFor("2 seconds"))
      yield* TestClock.adjust("2 seconds")
      assert.isFalse(yield* Fiber.join(late))
      const inTime = yield* Effect.forkChild(sem.acquireFor(2000))
      yield* TestClock.adjust("1 second")
      yield* sem.release()
      assert.isTrue(yield* Fiber.join(inTime))
      assert.strictEqual(yield* sem.available, 0)
    }))

  it.effect("an interrupted waiter takes nothing, even right after being handed permits", () =>
    Effect.gen(function*() {
      const sem = yield* Semaphore.make(2)
      yield* sem.acquire(2)
      const a = yield* Effect.forkChild(sem.acquire(2))
      const b = yield* Effect.forkChild(sem.acquire(1))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(b)
      yield* sem.release(2) // handed to `a`, which has not resumed yet
      yield* Fiber.interrupt(a)
      assert.strictEqual(yield* sem.available, 2)
    }))

  it("property: never more than n inside, all permits back, under random interleavings and interruptions", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ k: fc.integer({ min: 1, max: 4 }), yields: fc.nat(3), interruptAfter: fc.option(fc.nat(6), { nil: undefined }) }), { minLength: 1, maxLength: 16 }),
        async (n, tasks) => {
          const program = Effect.gen(function*() {
            const sem = yield* Semaphore.make(n)
            let held = 0
            let most = 0
            const fibers = yield* Effect.forEach(tasks, ({ k, yields }) =>
              Effect.forkChild(sem.withPermits(Math.min(k, n))(Effect.gen(function*() {
                held += Math.min(k, n)
                most = Math.max(most, held)
                for (let i = 0; i < yields; i++) yield* Effect.yieldNow
              }).pipe(Effect.ensuring(Effect.sync(() => {
                held -= Math.min(k, n)
              }))))))
            yield* Effect.forEach(tasks, ({ interruptAfter }, i) =>
              interruptAfter !== undefined
                ? Effect.forkChild(Effect.andThen(Effect.repeat(Effect.yieldNow, { times: interruptAfter }), Fiber.interrupt(fibers[i]!)))
                : Effect.void)
            yield* Effect.forEach(fibers, Fiber.await)
            return { most, available: yield* sem.available }
          })
          const { available, most } = await Effect.runPromise(program)
          assert.isAtMost(most, n)
          assert.strictEqual(available, n)
        }
      ),
      { numRuns: 150 }
    )
  })

  it.effect("acquireWith: priorities first, then FIFO; a higher priority may take what fits ahead of a larger queued request", () =>
    Effect.gen(function*() {
      const sem = yield* Semaphore.make(1)
      const large = yield* Effect.forkChild(sem.acquireWith({ permits: 2 }))
      yield* Effect.yieldNow
      yield* sem.acquireWith({ permits: 1, priority: 1 }) // nobody of priority >= 1 waits: at once
      assert.isUndefined(large.pollUnsafe())
      yield* sem.release(1)
      assert.isUndefined(large.pollUnsafe())
      yield* sem.release(1)
      yield* Fiber.join(large)
      assert.strictEqual(yield* sem.available, 0)
    }))

  it.effect("cancelWaiters and waitUntilFree work on permits; bad options are InvalidArgumentError", () =>
    Effect.gen(function*() {
      const sem = yield* Semaphore.make(0)
      const waiter = yield* Effect.forkChild(sem.acquireWith({ permits: 2 }))
      const watcher = yield* Effect.forkChild(sem.waitUntilFree({ permits: 2 }))
      yield* Effect.yieldNow
      assert.strictEqual(yield* sem.cancelWaiters(), 1)
      assert.strictEqual((yield* Effect.flip(Fiber.join(waiter)))._tag, "WaitCancelledError")
      yield* sem.release(1)
      yield* Effect.yieldNow
      assert.isUndefined(watcher.pollUnsafe())
      yield* sem.release(1)
      yield* Fiber.join(watcher)
      assert.strictEqual(yield* sem.available, 2)
      assert.strictEqual((yield* Effect.flip(sem.acquireWith({ permits: 0 })))._tag, "InvalidArgumentError")
      assert.strictEqual((yield* Effect.flip(sem.waitUntilFree({ priority: Infinity })))._tag, "InvalidArgumentError")
    }))
})
