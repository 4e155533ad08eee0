import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { guardedBy } from "../src/internal/guard.ts"

/** A hold that counts: what `guardedBy` must leave at zero however the body ends. */
const counter = () => {
  let held = 0
  return {
    take: Effect.sync(() => void held++),
    give: Effect.sync(() => void held--),
    get held() {
      return held
    }
  }
}

describe("guardedBy", () => {
  it.effect("releases after a body that succeeds, fails or dies", () =>
    Effect.gen(function*() {
      const c = counter()
      assert.strictEqual(yield* guardedBy(c.take, c.give, Effect.sync(() => c.held)), 1)
      assert.strictEqual(c.held, 0)
      const failed = yield* Effect.exit(guardedBy(c.take, c.give, Effect.fail("no")))
      assert.isTrue(Exit.isFailure(failed))
      assert.strictEqual(c.held, 0)
      yield* Effect.exit(guardedBy(c.take, c.give, Effect.die("boom")))
      assert.strictEqual(c.held, 0)
    }))

  it.effect("an interrupted body releases; an acquire interrupted while it waits takes and releases nothing", () =>
    Effect.gen(function*() {
      const c = counter()
      const inside = yield* Deferred.make<void>()
      const body = yield* Effect.forkChild(guardedBy(c.take, c.give, Effect.andThen(Deferred.succeed(inside, undefined), Effect.never)))
      yield* Deferred.await(inside)
      assert.strictEqual(c.held, 1)
      yield* Fiber.interrupt(body)
      assert.strictEqual(c.held, 0)
      let released = 0
      const waiting = yield* Effect.forkChild(guardedBy(Effect.never, Effect.sync(() => void released++), Effect.void))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(waiting)
      assert.strictEqual(released, 0)
    }))

  it.effect("a failing release leaves the body's outcome as it was", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* guardedBy(Effect.void, Effect.fail("release failed"), Effect.succeed(7)), 7)
    }))
})
