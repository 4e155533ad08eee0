import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SharedEvent } from "../src/index.ts"
import { pendingHolds } from "../src/shared/internal/futex.ts"
import { start } from "./sharedHelpers.ts"

describe("SharedEvent", () => {
  it.live("set, clear, isSet, wait, waitFor", () =>
    Effect.gen(function*() {
      const event = yield* SharedEvent.make
      assert.isFalse(yield* event.isSet)
      assert.isFalse(yield* event.waitFor("20 millis"))
      const waiter = yield* Effect.forkChild(event.wait)
      yield* Effect.sleep(5)
      yield* event.set
      yield* Fiber.join(waiter)
      assert.isTrue(yield* event.isSet)
      assert.isTrue(yield* event.waitFor(0))
      yield* event.clear
      assert.isFalse(yield* event.isSet)
      const interrupted = yield* Effect.forkChild(event.wait)
      yield* Effect.sleep(5)
      yield* Fiber.interrupt(interrupted)
      assert.strictEqual(pendingHolds(), 0)
      assert.strictEqual((yield* Effect.flip(event.waitFor("soon" as never)))._tag, "InvalidArgumentError")
    }))

  it("a set in the main thread wakes a waiting worker (which stays alive meanwhile)", async () => {
    const event = await Effect.runPromise(SharedEvent.make)
    const worker = start({ job: "waitEvent", handle: event.handle })
    await new Promise((resolve) => setTimeout(resolve, 150))
    await Effect.runPromise(event.set)
    assert.strictEqual(await worker.done, "set")
  })
})
