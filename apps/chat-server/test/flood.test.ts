// Flood control's bucket, under TestClock: a burst at once, then `rate` lines a second, never more
// than the burst saved up however long a connection was quiet.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Flood from "../src/flood.ts"

const options: Flood.FloodOptions = { burst: 3, rate: 2, maxQueued: 1024 }

/** Takes a token at the TestClock's now. */
const take = (bucket: Flood.Bucket) => Effect.map(Clock.currentTimeMillis, (now) => Flood.take(bucket, now, options))

describe("Flood", () => {
  it.effect("a burst at once, then one line per 1/rate seconds", () =>
    Effect.gen(function*() {
      const bucket = Flood.full(options, yield* Clock.currentTimeMillis)
      for (let i = 0; i < 3; i++) assert.isTrue(yield* take(bucket), `burst line ${i + 1}`)
      assert.isFalse(yield* take(bucket))
      assert.strictEqual(Flood.delay(bucket, options), 500)
      yield* TestClock.adjust("499 millis")
      assert.isFalse(yield* take(bucket))
      assert.isAtMost(Flood.delay(bucket, options), 2) // 1 ms, give or take the float's last bit
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* take(bucket))
      assert.isFalse(yield* take(bucket))
    }))

  it.effect("a quiet connection saves up at most its burst", () =>
    Effect.gen(function*() {
      const bucket = Flood.full(options, yield* Clock.currentTimeMillis)
      for (let i = 0; i < 3; i++) yield* take(bucket)
      yield* TestClock.adjust("1 hour")
      let taken = 0
      while (yield* take(bucket)) taken++
      assert.strictEqual(taken, 3)
    }))

  it.effect("past the burst, rate lines a second get through, whatever the timing of the attempts", () =>
    Effect.gen(function*() {
      const bucket = Flood.full(options, yield* Clock.currentTimeMillis)
      let taken = 0
      let ms = 0
      for (; ms <= 10_000; ms += 7) {
        if (yield* take(bucket)) taken++
        yield* TestClock.adjust("7 millis")
      }
      const last = ms - 7
      assert.strictEqual(taken, 3 + Math.floor((last * options.rate) / 1000))
    }))
})
