import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Lock } from "../src/index.ts"

describe("Lock", () => {
  it.effect("acquire, locked, release", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      assert.isFalse(yield* lock.locked)
      yield* lock.acquire
      assert.isTrue(yield* lock.locked)
      yield* lock.release
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("release of an unlocked lock fails NotHeldError", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      const error = yield* Effect.flip(lock.release)
      assert.strictEqual(error._tag, "NotHeldError")
      assert.include(error.message, "Lock.release")
    }))

  it.effect("waiters are served in FIFO order", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      const order: Array<number> = []
      yield* lock.acquire
      const fibers = yield* Effect.forEach([1, 2, 3, 4], (i) =>
        Effect.forkChild(lock.withLock(Effect.sync(() => order.push(i)))))
      yield* Effect.yieldNow
      yield* lock.release
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(order, [1, 2, 3, 4])
    }))

  it.effect("acquireFor times out without taking the lock", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      yield* lock.acquire
      const fiber = yield* Effect.forkChild(lock.acquireFor("50 millis"))
      yield* TestClock.adjust("49 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.isFalse(yield* Fiber.join(fiber))
      yield* lock.release
      assert.isTrue(yield* lock.tryAcquire)
    }))

  it.effect("an interrupted waiter leaves the lock free", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      yield* lock.acquire
      const waiter = yield* Effect.forkChild(lock.acquire)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(waiter)
      yield* lock.release
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("withLock releases on failure", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      const exit = yield* Effect.exit(lock.withLock(Effect.fail("boom")))
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(yield* lock.locked)
    }))
})
