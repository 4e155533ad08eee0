import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Event } from "@weft/primitives"
import { type Config, runFiber } from "../src/scopes.ts"
import { car, type Entry, light, line, summary } from "../src/simulation.ts"
import { checkInvariant } from "./check.ts"

const fiber = (cars: number, duration: number): Config => ({ scope: "fiber", cars, green: 2000, red: 3000, duration })

const passes = (entries: ReadonlyArray<Entry>) =>
  entries.flatMap((e) => (e.kind === "pass" ? [[e.car, e.t] as const] : []))

describe("fiber scope (TestClock)", () => {
  // Red 0-3s, green 3-5s, red 5-8s, green 8-10s, red 10-11s; cars at 0, 2.2, 4.4, 6.6, 8.8s.
  it.effect("cars arriving on red pass exactly at the next green; on green they pass at once", () =>
    Effect.gen(function*() {
      const run = yield* Effect.forkChild(runFiber(fiber(5, 11_000)))
      yield* TestClock.adjust("11 seconds")
      const entries = yield* Fiber.join(run)
      assert.deepStrictEqual(passes(entries), [[1, 3000], [2, 3000], [3, 4400], [4, 8000], [5, 8800]])
      assert.deepStrictEqual(
        entries.flatMap((e) => (e.kind === "arrive" ? [[e.car, e.t, e.waits] as const] : [])),
        [[1, 0, true], [2, 2200, true], [3, 4400, false], [4, 6600, true], [5, 8800, false]]
      )
      checkInvariant(entries, 5, 0)
      assert.strictEqual(summary(entries, { cars: 5, duration: 11_000 }), "  11.000s  end: 5 of 5 cars passed")
    }))

  it.effect("the light keeps cycling: red 3s, green 2s, for the whole run", () =>
    Effect.gen(function*() {
      const run = yield* Effect.forkChild(runFiber(fiber(1, 60_000)))
      yield* TestClock.adjust("1 minute")
      const phases = (yield* Fiber.join(run)).filter((e) => e.kind === "green" || e.kind === "red")
      assert.strictEqual(phases.length, 24) // 12 cycles of 5s
      phases.forEach((e, i) => {
        assert.strictEqual(e.kind, i % 2 === 0 ? "red" : "green")
        assert.strictEqual(e.t, Math.floor(i / 2) * 5000 + (i % 2 === 0 ? 0 : 3000))
      })
    }))

  it.effect("the run ends at its duration; a car still on red is reported as waiting", () =>
    Effect.gen(function*() {
      // The same two functions the runners use, with a car that comes in the last red.
      const event = yield* Event.make
      const entries: Array<Entry> = []
      const record = (e: Entry) => Effect.sync(() => void entries.push(e))
      const timing = { green: 2000, red: 3000, duration: 11_000 }
      const cars = yield* Effect.forkChild(Effect.all([car(event, 1, 4000, 0, record), car(event, 2, 10_500, 0, record)], { concurrency: "unbounded" }))
      const lights = yield* Effect.forkChild(light(event, timing, 0, record))
      yield* TestClock.adjust("11 seconds")
      yield* Fiber.join(lights)
      assert.isUndefined(cars.pollUnsafe()) // car 2 is still waiting on red
      yield* Fiber.interrupt(cars)
      assert.deepStrictEqual(passes(entries), [[1, 4000]])
      assert.strictEqual(summary(entries, { cars: 2, ...timing }), "  11.000s  end: 1 of 2 cars passed; still waiting: car 2")
      assert.deepStrictEqual(entries.map(line).slice(0, 4), [
        "   0.000s  light turns RED",
        "   3.000s  light turns GREEN",
        "   4.000s  car 1 arrives on green",
        "   4.000s  car 1 passes at 4.000s"
      ])
    }))
})
