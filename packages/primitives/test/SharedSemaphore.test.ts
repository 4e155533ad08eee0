import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SharedSemaphore } from "../src/index.ts"
import { start } from "./sharedHelpers.ts"

describe("SharedSemaphore", () => {
  it.effect("make refuses a negative count", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* Effect.flip(SharedSemaphore.make(-1)))._tag, "InvalidArgumentError")
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
