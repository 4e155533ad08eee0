import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Lock } from "../src/index.ts"

describe("Lock", () => {
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

  it.effect("acquireWith: a higher priority is served first, equal priorities FIFO, plain acquire at priority 0", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      yield* lock.acquire
      const order: Array<string> = []
      const enter = (name: string, wait: Effect.Effect<void, unknown>) =>
        Effect.forkChild(Effect.andThen(wait, Effect.andThen(Effect.sync(() => order.push(name)), lock.release)))
      const fibers = [
        yield* enter("low", lock.acquireWith({ priority: -1 })),
        yield* enter("plain", lock.acquire),
        yield* enter("high-a", lock.acquireWith({ priority: 3 })),
        yield* enter("zero", lock.acquireWith({})),
        yield* enter("high-b", lock.acquireWith({ priority: 3 }))
      ]
      yield* Effect.yieldNow
      yield* lock.release
      yield* Fiber.joinAll(fibers)
      assert.deepStrictEqual(order, ["high-a", "high-b", "plain", "zero", "low"])
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("acquireWith refuses a priority that is not a finite number", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      const error = yield* Effect.flip(lock.acquireWith({ priority: Number.NaN }))
      assert.strictEqual(error._tag, "InvalidArgumentError")
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("cancelWaiters fails pending acquireWith waits with WaitCancelledError; the holder and plain waiters keep theirs", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      yield* lock.acquire
      const cancellable = yield* Effect.forkChild(lock.acquireWith({ priority: 1 }))
      const plain = yield* Effect.forkChild(lock.acquire)
      yield* Effect.yieldNow
      assert.strictEqual(yield* lock.cancelWaiters("closing"), 1)
      const exit = yield* Fiber.await(cancellable)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Fiber.join(cancellable))
      assert.strictEqual(error._tag, "WaitCancelledError")
      assert.strictEqual((error as { reason?: unknown }).reason, "closing")
      assert.isTrue(yield* lock.locked)
      yield* lock.release
      yield* Fiber.join(plain) // the plain waiter got the lock
      assert.isTrue(yield* lock.locked)
    }))

  it.effect("waitUntilFree waits for the lock to be free without taking it, and leaves when interrupted", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      yield* lock.waitUntilFree() // free: at once
      yield* lock.acquire
      const watcher = yield* Effect.forkChild(lock.waitUntilFree())
      const gone = yield* Effect.forkChild(lock.waitUntilFree({ priority: 5 }))
      yield* Effect.yieldNow
      assert.isUndefined(watcher.pollUnsafe())
      yield* Fiber.interrupt(gone)
      yield* lock.release
      yield* Fiber.join(watcher)
      assert.isFalse(yield* lock.locked)
    }))
})

describe("Lock properties", () => {
  it("mutual exclusion and a free lock at the end, under random interleavings and interruptions", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ yields: fc.nat(3), timeout: fc.option(fc.nat(3), { nil: undefined }), interruptAfter: fc.option(fc.nat(6), { nil: undefined }) }),
          { minLength: 1, maxLength: 16 }
        ),
        async (tasks) => {
          const program = Effect.gen(function*() {
            const lock = yield* Lock.make
            let inside = 0
            let most = 0
            let entered = 0
            const body = (yields: number) =>
              Effect.gen(function*() {
                inside++
                entered++
                most = Math.max(most, inside)
                for (let i = 0; i < yields; i++) yield* Effect.yieldNow
              }).pipe(Effect.ensuring(Effect.sync(() => {
                inside--
              })))
            const fibers = yield* Effect.forEach(tasks, ({ timeout, yields }) =>
              Effect.forkChild(
                timeout === undefined
                  ? lock.withLock(body(yields))
                  : Effect.flatMap(lock.acquireFor(timeout), (ok) => ok ? Effect.ensuring(body(yields), Effect.orDie(lock.release)) : Effect.void)
              ))
            yield* Effect.forEach(tasks, ({ interruptAfter }, i) =>
              interruptAfter === undefined
                ? Effect.void
                : Effect.forkChild(Effect.andThen(Effect.repeat(Effect.yieldNow, { times: interruptAfter }), Fiber.interrupt(fibers[i]!))))
            const exits = yield* Effect.forEach(fibers, Fiber.await)
            return { most, locked: yield* lock.locked, exits, entered }
          })
          const { exits, locked, most } = await Effect.runPromise(program)
          assert.isAtMost(most, 1)
          assert.isFalse(locked)
          // Nothing but success or interruption: no defect escaped.
          for (const exit of exits) assert.isTrue(Exit.isSuccess(exit) || Exit.hasInterrupts(exit))
        }
      ),
      { numRuns: 200 }
    )
  })
})
