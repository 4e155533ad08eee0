/**
 * The reentrant lock conformance suite: the same behaviours run against every
 * `RLock` at every scope — `RLock`, `manager.rlock()` (and `@weft/cluster`'s
 * `rlock(name)`). Ownership is per fiber at every scope: the fiber that took
 * it may take it again, and only it may release it.
 *
 * ```ts
 * rlockConformance("manager.rlock()", () => Effect.flatMap(manager, (m) => m.rlock()))
 * ```
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import type { RLock } from "../../src/index.ts"
import { eventually, type Factory, interruptedWaiter, type Options, settle, tester } from "./helpers.ts"

export const rlockConformance = (name: string, make: Factory<RLock.RLock>, options?: Options): void => {
  const test = tester(`${name} (rlock conformance)`, make, options)

  describe(`${name}: the RLock interface`, () => {
    test("the owner nests; it is free again only after as many releases as acquires", [], (lock) =>
      Effect.gen(function*() {
        assert.isFalse(yield* lock.isOwned)
        yield* lock.acquire
        yield* lock.acquire
        assert.isTrue(yield* lock.tryAcquire)
        assert.isTrue(yield* lock.acquireFor("10 millis"))
        assert.isTrue(yield* lock.isOwned)
        for (let i = 0; i < 3; i++) {
          yield* lock.release
          assert.isTrue(yield* lock.locked)
        }
        yield* lock.release
        assert.isFalse(yield* lock.locked)
        assert.isFalse(yield* lock.isOwned)
        assert.strictEqual((yield* Effect.flip(lock.release))._tag, "NotHeldError")
      }))

    test("another fiber cannot take it, nor release it (NotOwnerError), and waits until the owner lets go", [], (lock) =>
      Effect.gen(function*() {
        yield* lock.acquire
        yield* lock.acquire
        const other = <A, E>(effect: Effect.Effect<A, E>) => Effect.flatMap(Effect.forkChild(effect), Fiber.join)
        assert.isFalse(yield* other(lock.tryAcquire))
        assert.isFalse(yield* other(lock.acquireFor("40 millis")))
        assert.isFalse(yield* other(lock.isOwned))
        assert.strictEqual((yield* other(Effect.flip(lock.release)))._tag, "NotOwnerError")
        const waiter = yield* Effect.forkChild(lock.withLock(lock.isOwned))
        yield* settle
        yield* lock.release
        yield* settle
        assert.isUndefined(waiter.pollUnsafe(), "a waiter got the lock while the owner still held one level")
        yield* lock.release
        assert.isTrue(yield* Fiber.join(waiter))
        yield* eventually(Effect.map(lock.locked, (held) => !held))
      }))

    test("withLock nests in itself and lets go of every level however it ends", [], (lock) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* lock.withLock(lock.withLock(lock.withLock(Effect.succeed(3)))), 3)
        assert.isFalse(yield* lock.locked)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(lock.withLock(lock.withLock(Effect.fail("boom"))))))
        assert.isFalse(yield* lock.locked)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(lock.withLock(Effect.die("bug")))))
        const holder = yield* Effect.forkChild(lock.withLock(lock.withLock(Effect.never)))
        yield* eventually(lock.locked)
        yield* Fiber.interrupt(holder)
        yield* eventually(Effect.map(lock.locked, (held) => !held))
        assert.isTrue(yield* lock.tryAcquire)
        yield* lock.release
      }))

    test("an interrupted waiter leaves nothing held, and the next waiter still gets it", [], (lock) =>
      interruptedWaiter(lock))
  })
}
