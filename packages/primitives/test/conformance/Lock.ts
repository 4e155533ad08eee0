/**
 * The lock conformance suite: the same behaviours run against every lock at
 * every scope — `Lock`, `SharedLock`, `manager.lock()`, `FileLock` (and
 * `@weft/cluster`'s `lock(name)`). Import it and call it with a factory:
 *
 * ```ts
 * lockConformance("SharedLock", () => SharedLock.make)
 * ```
 *
 * The factory runs once per test, in that test's scope.
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { pipe } from "effect/Function"
import { Lock, Promised } from "../../src/index.ts"
import { eventually, type Factory, interruptedWaiter, type Options, mostInside, settle, tester } from "./helpers.ts"

export const lockConformance = (name: string, make: Factory<Lock.Lock>, options?: Options): void => {
  const test = tester(`${name} (lock conformance)`, make, options)

  describe(`${name}: the Lock interface`, () => {
    test("acquire, tryAcquire, locked, release; releasing a free lock fails NotHeldError", [], (lock) =>
      Effect.gen(function*() {
        assert.isFalse(yield* lock.locked)
        yield* lock.acquire
        assert.isTrue(yield* lock.locked)
        assert.isFalse(yield* lock.tryAcquire)
        yield* lock.release
        assert.isFalse(yield* lock.locked)
        assert.isTrue(yield* lock.tryAcquire)
        yield* lock.release
        const error = yield* Effect.flip(lock.release)
        assert.strictEqual(error._tag, "NotHeldError")
      }))

    test("acquireFor: false when the time runs out (nothing taken), true when free; a bad timeout fails", [], (lock) =>
      Effect.gen(function*() {
        yield* lock.acquire
        const started = Date.now()
        assert.isFalse(yield* lock.acquireFor("40 millis"))
        assert.isAtLeast(Date.now() - started, 30)
        yield* lock.release
        assert.isTrue(yield* lock.acquireFor(0))
        yield* lock.release
        assert.isFalse(yield* lock.locked)
        const bad = yield* Effect.flip(lock.acquireFor(-1))
        assert.strictEqual(bad._tag, "InvalidArgumentError")
      }))

    test("waiters are served in the order they came", [], (lock) =>
      Effect.gen(function*() {
        const order: Array<number> = []
        yield* lock.acquire
        const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
        for (const i of [1, 2, 3]) {
          fibers.push(yield* Effect.forkChild(lock.withLock(Effect.sync(() => order.push(i)))))
          yield* settle
        }
        yield* lock.release
        yield* Effect.forEach(fibers, Fiber.join)
        assert.deepStrictEqual(order, [1, 2, 3])
        assert.isFalse(yield* lock.locked)
      }))

    test("withLock excludes: concurrent read-modify-writes lose no update", [], (lock) =>
      Effect.gen(function*() {
        let balance = 0
        const add = lock.withLock(Effect.gen(function*() {
          const seen = balance
          yield* Effect.sleep(1)
          balance = seen + 1
        }))
        yield* Effect.all(Array.from({ length: 8 }, () => add), { concurrency: "unbounded", discard: true })
        assert.strictEqual(balance, 8)
      }))

    test("withLock releases however the effect ends: success, failure, defect, interruption", [], (lock) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* lock.withLock(Effect.succeed(7)), 7)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(lock.withLock(Effect.fail("boom")))))
        assert.isTrue(Exit.isFailure(yield* Effect.exit(lock.withLock(Effect.die("bug")))))
        const holder = yield* Effect.forkChild(lock.withLock(Effect.never))
        yield* eventually(lock.locked)
        yield* Fiber.interrupt(holder)
        yield* eventually(Effect.map(lock.locked, (held) => !held))
        assert.isTrue(yield* lock.tryAcquire)
        yield* lock.release
      }))

    test("an interrupted waiter leaves nothing held, and the next waiter still gets the lock", [], (lock) =>
      interruptedWaiter(lock))

    test("members work passed as values or destructured; module functions data-first and data-last", [], (lock) =>
      Effect.gen(function*() {
        const { acquire, acquireFor, locked, release, tryAcquire, withLock } = lock
        assert.strictEqual(yield* Effect.succeed(1).pipe(lock.withLock), 1)
        assert.strictEqual(yield* withLock(Effect.succeed(2)), 2)
        yield* acquire
        assert.isTrue(yield* locked)
        assert.isFalse(yield* tryAcquire)
        assert.isFalse(yield* acquireFor(1))
        yield* release
        const [a, b] = yield* Effect.all([Effect.succeed(3), Effect.succeed(4)].map(lock.withLock))
        assert.strictEqual(a! + b!, 7)
        assert.strictEqual(yield* Lock.withLock(lock, Effect.succeed(5)), 5)
        assert.strictEqual(yield* Effect.succeed(6).pipe(Lock.withLock(lock)), 6)
        assert.isTrue(yield* Lock.acquireFor(lock, 0))
        assert.isTrue(yield* Lock.locked(lock))
        assert.isFalse(yield* pipe(lock, Lock.acquireFor(1)))
        assert.isFalse(yield* Lock.tryAcquire(lock))
        yield* Lock.release(lock)
        yield* Lock.acquire(lock)
        yield* Lock.release(lock)
      }))

    test("the Promise face: runExclusive excludes and releases however fn ends", [], (lock) =>
      Effect.promise(async () => {
        const mutex = Promised.lock(lock)
        assert.strictEqual(await mostInside(4, mutex.runExclusive), 1)
        const boom = new Error("boom")
        const rejected = await mutex.runExclusive(() => Promise.reject(boom)).catch((error: unknown) => error)
        assert.strictEqual(rejected, boom)
        assert.isFalse(await mutex.isLocked())
      }))
  })
}
