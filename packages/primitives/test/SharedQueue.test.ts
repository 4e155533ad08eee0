import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import { SharedQueue } from "../src/index.ts"
import { pendingHolds } from "../src/shared/internal/futex.ts"
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

  it.live("a blocked put waits for room; putFor times out putting nothing; an interrupted get loses nothing", () =>
    Effect.gen(function*() {
      const queue = yield* SharedQueue.make<number>(1)
      yield* queue.put(1)
      const putter = yield* Effect.forkChild(queue.put(2))
      assert.strictEqual((yield* Effect.flip(queue.putFor(3, "10 millis")))._tag, "QueueFullError")
      assert.strictEqual(yield* queue.get, 1)
      yield* Fiber.join(putter)
      assert.strictEqual(yield* queue.get, 2)
      const getter = yield* Effect.forkChild(queue.get)
      yield* Effect.sleep(5)
      yield* Fiber.interrupt(getter)
      yield* queue.put(4)
      assert.strictEqual(yield* queue.get, 4)
      assert.strictEqual(pendingHolds(), 0)
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

  it.live("taskDone, join, shutdown", () =>
    Effect.gen(function*() {
      const queue = yield* SharedQueue.make<number>(0)
      yield* queue.put(1)
      const joiner = yield* Effect.forkChild(queue.join)
      yield* queue.get
      yield* queue.taskDone
      yield* Fiber.join(joiner)
      assert.strictEqual((yield* Effect.flip(queue.taskDone))._tag, "TaskDoneError")
      yield* queue.put(2)
      const getter = yield* Effect.forkChild(Effect.andThen(queue.get, queue.get))
      yield* Effect.sleep(5)
      yield* queue.shutdown()
      assert.strictEqual((yield* Effect.flip(queue.put(3)))._tag, "QueueShutDownError")
      const error = yield* Effect.flip(Fiber.join(getter))
      assert.strictEqual(error._tag, "QueueShutDownError")
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
