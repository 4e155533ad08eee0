import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { SharedQueue } from "../src/index.ts"
import { start } from "./sharedHelpers.ts"

describe("SharedQueue", () => {
  it.live("FIFO put/get of JSON values; size, isEmpty, isFull; nowait forms", () =>
    Effect.gen(function*() {
      const queue = yield* SharedQueue.make<unknown>(2)
      yield* queue.put({ a: [1, "x", null] })
      yield* queue.putNowait("é✓")
      assert.isTrue(yield* queue.isFull)
      assert.strictEqual((yield* Effect.flip(queue.putNowait(3)))._tag, "QueueFullError")
      assert.strictEqual(yield* queue.size, 2)
      assert.deepStrictEqual(yield* queue.get, { a: [1, "x", null] })
      assert.strictEqual(yield* queue.getNowait, "é✓")
      assert.isTrue(yield* queue.isEmpty)
      assert.strictEqual((yield* Effect.flip(queue.getNowait))._tag, "QueueEmptyError")
      assert.strictEqual((yield* Effect.flip(queue.getFor("10 millis")))._tag, "QueueEmptyError")
    }))

  it.effect("an item larger than the buffer is refused whole; a non-JSON item is refused", () =>
    Effect.gen(function*() {
      const queue = yield* SharedQueue.make<unknown>(0, { bytes: 64 })
      const exit = yield* Effect.exit(queue.put("x".repeat(100)))
      assert.isTrue(Exit.isFailure(exit))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) as { _tag?: string; message?: string } : {}
      assert.strictEqual(defect._tag, "QueueItemTooLargeError")
      assert.include(defect.message, "64-byte buffer")
      assert.strictEqual(yield* queue.size, 0)
      const bigint = yield* Effect.exit(queue.putNowait(10n))
      assert.isTrue(Exit.isFailure(bigint) && (Cause.squash(bigint.cause) as { _tag?: string })._tag === "InvalidArgumentError")
      // Items that fit go through, wrapping around the 64-byte ring many times.
      for (let i = 0; i < 20; i++) {
        yield* queue.put({ i, pad: "y".repeat(i) })
        assert.deepStrictEqual(yield* queue.get, { i, pad: "y".repeat(i) })
      }
      assert.strictEqual((yield* Effect.flip(SharedQueue.make(-1)))._tag, "InvalidArgumentError")
    }))

  it("items cross threads in order; join waits for the consumer's taskDone", async () => {
    const queue = await Effect.runPromise(SharedQueue.make<unknown>(4, { bytes: 256 }))
    const items = Array.from({ length: 200 }, (_, i) => ({ i, s: "z".repeat(i % 40) }))
    const producer = start({ job: "produce", handle: queue.handle, items })
    const consumer = start({ job: "consume", handle: queue.handle, n: items.length })
    await producer.done
    assert.deepStrictEqual(await consumer.done, items)
    await Effect.runPromise(queue.join)
  }, 30_000)
})
