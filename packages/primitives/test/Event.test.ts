import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Event } from "../src/index.ts"

describe("Event", () => {
  it.effect("traffic light: cars wait on red and drive on green", () =>
    Effect.gen(function*() {
      const green = yield* Event.make
      const drove: Array<string> = []
      const light = Effect.forever(Effect.gen(function*() {
        yield* green.set
        yield* Effect.sleep("2 seconds")
        yield* green.clear
        yield* Effect.sleep("3 seconds")
      }))
      const car = (name: string, arrive: Duration.Input) =>
        Effect.andThen(Effect.sleep(arrive), Effect.andThen(green.wait, Effect.clockWith((clock) => Effect.sync(() => drove.push(`${name}@${clock.currentTimeMillisUnsafe()}`)))))
      // Green 0-2s, red 2-5s, green 5-7s.
      yield* Effect.forkChild(light)
      const cars = yield* Effect.forkChild(Effect.all([car("a", "1 second"), car("b", "3 seconds"), car("c", "4 seconds")], { concurrency: "unbounded" }))
      yield* TestClock.adjust("6 seconds")
      yield* Fiber.join(cars)
      assert.deepStrictEqual(drove, ["a@1000", "b@5000", "c@5000"])
    }))

  // Seed 004: a checker waits for the "mysql" event with wait(timeout) and
  // retries three times before giving up.
  it.effect("check mysql: waitFor with retries succeeds once the event is set", () =>
    Effect.gen(function*() {
      const mysqlUp = yield* Event.make
      const attempts: Array<boolean> = []
      const check = Effect.gen(function*() {
        for (let i = 0; i < 3; i++) {
          const up = yield* mysqlUp.waitFor("100 millis")
          attempts.push(up)
          if (up) return "connected"
        }
        return "gave up"
      })
      const first = yield* Effect.forkChild(check)
      yield* TestClock.adjust("150 millis")
      yield* mysqlUp.set
      assert.strictEqual(yield* Fiber.join(first), "connected")
      assert.deepStrictEqual(attempts, [false, true])

      yield* mysqlUp.clear
      attempts.length = 0
      const second = yield* Effect.forkChild(check)
      yield* TestClock.adjust("300 millis")
      assert.strictEqual(yield* Fiber.join(second), "gave up")
      assert.deepStrictEqual(attempts, [false, false, false])
    }))
})
