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
