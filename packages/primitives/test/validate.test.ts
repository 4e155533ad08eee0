import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { InvalidArgumentError } from "../src/index.ts"
import { count, duration, isCount, millis, permitRequest, priority, timeout } from "../src/validate.ts"

describe("validate", () => {
  it("count: integers >= min pass; anything else is named in the error", () => {
    assert.isTrue(isCount(0, 0))
    assert.isUndefined(count("X.make", "n", 3, 1))
    for (const bad of [0, -1, 1.5, Number.NaN, "2", Number.POSITIVE_INFINITY]) {
      const error = count("X.make", "n", bad, 1)
      assert.instanceOf(error, InvalidArgumentError)
      assert.strictEqual(error?.argument, "n")
      assert.strictEqual(error?.expected, "an integer >= 1")
    }
  })

  it("millis: a duration as milliseconds, Infinity kept, a bad one named", () => {
    assert.strictEqual(millis("Pool.make", "idleTimeout", "5 seconds", { min: "zero" }), 5000)
    assert.strictEqual(millis("X", "timeout", "Infinity"), Number.POSITIVE_INFINITY)
    const error = millis("FileLock.make", "stale", 0, { min: "positive" })
    assert.instanceOf(error, InvalidArgumentError)
    assert.strictEqual((error as InvalidArgumentError).argument, "stale")
  })

  it("permitRequest: k >= 1, and at most a bounded semaphore's permits", () => {
    assert.isUndefined(permitRequest("Semaphore", "acquire", 4, 4))
    assert.isUndefined(permitRequest("Semaphore", "acquire", 9, undefined))
    const over = permitRequest("ClusterSemaphore", "acquire", 5, 4)
    assert.instanceOf(over, InvalidArgumentError)
    assert.include(over!.message, "ClusterSemaphore.acquire")
    assert.include(over!.message, "at most the semaphore's 4 permits")
    assert.strictEqual(permitRequest("Semaphore", "acquire", 0, 4)?.expected, "an integer >= 1")
  })

  it("duration: bounds decide zero, positive and finite", () => {
    assert.deepStrictEqual(duration("X", "d", "50 millis"), Duration.millis(50))
    assert.deepStrictEqual(duration("X", "d", 0), Duration.zero)
    assert.isTrue(Duration.isFinite(duration("X", "d", 10, { min: "positive", finite: true }) as Duration.Duration))
    assert.instanceOf(duration("X", "d", 0, { min: "positive" }), InvalidArgumentError)
    assert.instanceOf(duration("X", "d", -1), InvalidArgumentError)
    assert.instanceOf(duration("X", "d", "soon"), InvalidArgumentError)
    assert.instanceOf(duration("X", "d", "Infinity", { finite: true }), InvalidArgumentError)
    assert.deepStrictEqual(duration("X", "d", "Infinity"), Duration.infinity)
    const error = duration("FileLock.make", "stale", -5, { min: "positive", finite: true }) as InvalidArgumentError
    assert.include(error.message, "FileLock.make: stale must be a finite Duration.Input > 0")
  })

  it.effect("timeout: fails with the InvalidArgumentError for a bad timeout", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* timeout("Lock.acquireFor", 5), Duration.millis(5))
      const error = yield* Effect.flip(timeout("Lock.acquireFor", -5))
      assert.strictEqual(error.operation, "Lock.acquireFor")
      assert.strictEqual(error.argument, "timeout")
    }))

  it("priority: any finite number or nothing; NaN and infinities are refused, naming the operation", () => {
    assert.isUndefined(priority("Lock.acquireWith", undefined))
    assert.isUndefined(priority("Lock.acquireWith", -2.5))
    const error = priority("Lock.acquireWith", Number.POSITIVE_INFINITY)
    assert.instanceOf(error, InvalidArgumentError)
    assert.include(error!.message, "Lock.acquireWith: priority must be a finite number")
    assert.instanceOf(priority("Lock.acquireWith", "high"), InvalidArgumentError)
  })
})
