import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Lock, RLock } from "../src/index.ts"

describe("RLock", () => {
  it.effect("the owner re-acquires and nests; the lock frees after the last release", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      yield* lock.acquire
      yield* lock.acquire
      assert.isTrue(yield* lock.tryAcquire)
      yield* lock.release
      yield* lock.release
      assert.isTrue(yield* lock.locked)
      yield* lock.release
      assert.isFalse(yield* lock.locked)
      assert.strictEqual((yield* Effect.flip(lock.release))._tag, "NotHeldError")
    }))

  it.effect("nested withLock (recursion) does not deadlock", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      const depth = (n: number): Effect.Effect<number> =>
        lock.withLock(n === 0 ? Effect.succeed(0) : Effect.map(depth(n - 1), (m) => m + 1))
      assert.strictEqual(yield* depth(50), 50)
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("release by another fiber fails NotOwnerError and changes nothing", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      yield* lock.acquire
      const error = yield* Effect.flip(Fiber.join(yield* Effect.forkChild(lock.release)))
      assert.strictEqual(error._tag, "NotOwnerError")
      assert.match(error.message, /RLock\.release: held by fiber #\d+, not by fiber #\d+/)
      assert.isTrue(yield* lock.isOwned)
      yield* lock.release
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("another fiber waits for the owner; tryAcquire from it fails", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      yield* lock.acquire
      assert.isFalse(yield* Fiber.join(yield* Effect.forkChild(lock.tryAcquire)))
      const other = yield* Effect.forkChild(Effect.andThen(lock.acquire, lock.isOwned))
      yield* Effect.yieldNow
      assert.isUndefined(other.pollUnsafe())
      yield* lock.release
      assert.isTrue(yield* Fiber.join(other))
      assert.isFalse(yield* lock.isOwned)
    }))

  it.effect("acquireFor times out, then succeeds once the owner leaves", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      yield* lock.acquire
      const late = yield* Effect.forkChild(lock.acquireFor("1 second"))
      yield* TestClock.adjust("1 second")
      assert.isFalse(yield* Fiber.join(late))
      const inTime = yield* Effect.forkChild(Effect.andThen(lock.acquireFor("1 second"), (ok) => Effect.map(lock.isOwned, (own) => ok && own)))
      yield* TestClock.adjust("500 millis")
      yield* lock.release
      assert.isTrue(yield* Fiber.join(inTime))
      const error = yield* Effect.flip(lock.acquireFor(-1))
      assert.strictEqual(error._tag, "InvalidArgumentError")
    }))

  it.effect("an interrupted waiter never ends up owning the lock", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      yield* lock.acquire
      const waiter = yield* Effect.forkChild(lock.acquire)
      yield* Effect.yieldNow
      // Release hands the lock to the waiter; interrupt it before it runs.
      yield* lock.release
      yield* Fiber.interrupt(waiter)
      assert.isFalse(yield* lock.locked)
      assert.isTrue(yield* lock.tryAcquire)
    }))

  // Seed 004: two threads take two locks in opposite orders and deadlock; one
  // RLock used for both ("the recursive lock") lets the same thread nest.
  it.effect("two Locks in opposite orders deadlock; one RLock for both does not", () =>
    Effect.gen(function*() {
      const a = yield* Lock.make
      const b = yield* Lock.make
      const pause = Effect.sleep("100 millis")
      const t1 = a.withLock(Effect.andThen(pause, b.withLock(Effect.void)))
      const t2 = b.withLock(Effect.andThen(pause, a.withLock(Effect.void)))
      const deadlocked = yield* Effect.forkChild(
        Effect.timeoutOption(Effect.all([t1, t2], { concurrency: 2 }), "10 seconds")
      )
      yield* TestClock.adjust("10 seconds")
      assert.isTrue((yield* Fiber.join(deadlocked))._tag === "None")
      // The timeout interrupted both fibers, and that released what they held.
      assert.isTrue(yield* a.tryAcquire)
      assert.isTrue(yield* b.tryAcquire)

      const r = yield* RLock.make
      const u1 = r.withLock(Effect.andThen(pause, r.withLock(Effect.succeed(1))))
      const u2 = r.withLock(Effect.andThen(pause, r.withLock(Effect.succeed(2))))
      const fine = yield* Effect.forkChild(Effect.all([u1, u2], { concurrency: 2 }))
      yield* TestClock.adjust("200 millis")
      assert.deepStrictEqual(yield* Fiber.join(fine), [1, 2])
      assert.isFalse(yield* r.locked)
    }))
})

describe("RLock as values", () => {
  it.effect("members work passed as values or destructured; the module functions take an RLock", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      const { acquire, acquireFor, isOwned, locked, release, tryAcquire, withLock } = lock
      assert.strictEqual(yield* Effect.succeed(1).pipe(lock.withLock, withLock), 1) // nests
      yield* acquire
      assert.isTrue(yield* tryAcquire)
      assert.isTrue(yield* acquireFor(0))
      assert.isTrue(yield* isOwned)
      yield* release
      yield* release
      yield* release
      assert.isFalse(yield* locked)
      assert.strictEqual(yield* RLock.withLock(lock, RLock.isOwned(lock)), true)
      assert.strictEqual(yield* Effect.succeed(2).pipe(RLock.withLock(lock)), 2)
      assert.isFalse(yield* RLock.locked(lock))
    }))
})
