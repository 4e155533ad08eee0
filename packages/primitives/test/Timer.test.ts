import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { Timer } from "../src/index.ts"

describe("Timer", () => {
  it.effect("runs the effect after the delay, and await gives its result", () =>
    Effect.gen(function*() {
      let ran = 0
      const timer = yield* Timer.start("1 second", Effect.sync(() => ++ran))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(ran, 0)
      assert.isFalse(yield* timer.done)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* timer.await, Option.some(1))
      assert.isTrue(yield* timer.done)
      assert.isFalse(yield* timer.cancel)
    }))

  it.effect("cancel before the delay: the effect never runs and await is none", () =>
    Effect.gen(function*() {
      let ran = false
      const timer = yield* Timer.start(500, Effect.sync(() => {
        ran = true
      }))
      const waiting = yield* Effect.forkChild(timer.await)
      yield* TestClock.adjust(100)
      assert.isTrue(yield* timer.cancel)
      yield* TestClock.adjust(1000)
      assert.isFalse(ran)
      assert.deepStrictEqual(yield* Fiber.join(waiting), Option.none())
    }))

  it.effect("await fails as the effect failed", () =>
    Effect.gen(function*() {
      const timer = yield* Timer.start(10, Effect.fail("boom"))
      yield* TestClock.adjust(10)
      assert.strictEqual(yield* Effect.flip(timer.await), "boom")
    }))

  it.effect("the timer outlives the fiber that started it", () =>
    Effect.gen(function*() {
      let ran = false
      const starter = yield* Effect.forkChild(Timer.start(50, Effect.sync(() => {
        ran = true
      })))
      const timer = yield* Fiber.join(starter)
      yield* TestClock.adjust(50)
      yield* timer.await
      assert.isTrue(ran)
    }))

  it.effect("a bad delay is refused", () =>
    Effect.gen(function*() {
      for (const bad of [-1, "Infinity" as const]) {
        const error = yield* Effect.flip(Timer.start(bad, Effect.void))
        assert.strictEqual(error._tag, "InvalidArgumentError")
        assert.include(error.message, "Timer.start: delay must be")
      }
    }))
})

describe("Timer as values", () => {
  it.effect("members work destructured", () =>
    Effect.gen(function*() {
      const { await: result, cancel, done } = yield* Timer.start(10, Effect.succeed(5))
      yield* TestClock.adjust(10)
      assert.deepStrictEqual(yield* result, Option.some(5))
      assert.isTrue(yield* done)
      assert.isFalse(yield* cancel)
    }))
})
