import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import { connect, defectTag, eventually, skip, title, unique } from "./helpers.ts"

describe(title("Cluster: one process, two handles"), () => {
  it.live.skipIf(skip)("lock: mutual exclusion between handles, tryAcquire, release errors, fencing tokens grow", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const name = unique("lock")
      const la = yield* a.lock(name)
      const lb = yield* b.lock(name)
      assert.isFalse(yield* la.locked)
      yield* la.acquire
      const t1 = yield* la.fencingToken
      assert.isTrue(yield* lb.locked)
      assert.isFalse(yield* lb.tryAcquire)
      assert.isFalse(yield* lb.acquireFor("100 millis"))
      assert.strictEqual((yield* Effect.flip(lb.release))._tag, "NotHeldError")
      const waiter = yield* Effect.forkChild(lb.acquire, { startImmediately: true })
      yield* Effect.sleep("100 millis")
      assert.isUndefined(waiter.pollUnsafe())
      yield* la.release
      yield* Fiber.join(waiter)
      const t2 = yield* lb.fencingToken
      assert.isAbove(t2, t1)
      assert.strictEqual((yield* Effect.flip(la.fencingToken))._tag, "NotHeldError")
      yield* lb.release
      assert.isFalse(yield* la.locked)
      assert.isTrue(yield* la.tryAcquire)
      assert.isAbove(yield* la.fencingToken, t2)
      yield* la.release
    })))
})
