import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SharedSemaphore } from "../src/index.ts"
import { pendingHolds } from "../src/shared/internal/futex.ts"
import { start } from "./sharedHelpers.ts"

describe("SharedSemaphore", () => {
  it.live("counts permits; a large request at the head is not overtaken; bad input is refused", () =>
    Effect.gen(function*() {
      const sem = yield* SharedSemaphore.make(2)
      yield* sem.acquire(2)
      assert.strictEqual(yield* sem.available, 0)
      const order: Array<string> = []
      const big = yield* Effect.forkChild(Effect.andThen(sem.acquire(2), Effect.sync(() => order.push("big"))))
      yield* Effect.sleep(5)
      const small = yield* Effect.forkChild(Effect.andThen(sem.acquire(1), Effect.sync(() => order.push("small"))))
      yield* Effect.sleep(5)
      yield* sem.release(1)
      yield* Effect.sleep(5)
      assert.deepStrictEqual(order, [])
      yield* sem.release(1)
      yield* Fiber.join(big)
      yield* sem.release(2)
      yield* Fiber.join(small)
      assert.deepStrictEqual(order, ["big", "small"])
      for (const bad of [0, -1, 1.5]) {
        assert.strictEqual((yield* Effect.flip(sem.acquire(bad)))._tag, "InvalidArgumentError")
      }
      assert.strictEqual((yield* Effect.flip(SharedSemaphore.make(-1)))._tag, "InvalidArgumentError")
      assert.strictEqual(pendingHolds(), 0)
    }))

  it.effect("bounded: a release above the initial count fails and changes nothing", () =>
    Effect.gen(function*() {
      const sem = yield* SharedSemaphore.bounded(1)
      const error = yield* Effect.flip(sem.release())
      assert.strictEqual(error._tag, "SemaphoreOverflowError")
      assert.strictEqual(yield* sem.available, 1)
      // The bound travels with the handle.
      const twin = yield* SharedSemaphore.attach(sem.handle)
      assert.strictEqual((yield* Effect.flip(twin.release()))._tag, "SemaphoreOverflowError")
    }))

  it("2 threads x 20,000 read-modify-writes under a 1-permit semaphore are exact", async () => {
    const sem = await Effect.runPromise(SharedSemaphore.make(1))
    const counter = new SharedArrayBuffer(16)
    const workers = [0, 1].map(() => start({ job: "semaphore", handle: sem.handle, counter, n: 20_000, width: 200 }))
    await Promise.all(workers.map((w) => w.done))
    assert.strictEqual(new Int32Array(counter)[0], 40_000)
    assert.strictEqual(await Effect.runPromise(sem.available), 1)
  }, 60_000)
})
