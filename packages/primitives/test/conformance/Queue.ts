/**
 * The queue conformance suite: the same behaviours against every FIFO queue
 * at every scope — `Queue.fifo`, `SharedQueue`, `manager.queue()` (and
 * `@weft/cluster`'s `queue(name, maxsize)`). The factory takes `maxsize`
 * (0: unbounded); items are small JSON values, which every scope carries:
 *
 * ```ts
 * queueConformance("SharedQueue", (maxsize) => SharedQueue.make(maxsize))
 * ```
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { pipe } from "effect/Function"
import { Promised, Queue } from "../../src/index.ts"
import { type Factory, type Options, settle, tester } from "./helpers.ts"

export const queueConformance = (name: string, make: Factory<Queue.Queue<any>, [maxsize: number]>, options?: Options): void => {
  const test = tester(`${name} (queue conformance)`, make, options)

  describe(`${name}: the Queue interface`, () => {
    test("put and get in FIFO order; size, isEmpty, isFull, maxsize", [3], (queue) =>
      Effect.gen(function*() {
        assert.strictEqual(queue.maxsize, 3)
        assert.isTrue(yield* queue.isEmpty)
        yield* queue.put("a")
        yield* queue.put({ n: 1 })
        yield* queue.putNowait([2])
        assert.strictEqual(yield* queue.size, 3)
        assert.isTrue(yield* queue.isFull)
        assert.strictEqual(yield* queue.get, "a")
        assert.deepStrictEqual(yield* queue.getNowait, { n: 1 })
        assert.deepStrictEqual(yield* queue.getFor("1 second"), [2])
        assert.isTrue(yield* queue.isEmpty)
        assert.isFalse(yield* queue.isFull)
      }))

    test("the Nowait and timed forms fail with QueueFullError / QueueEmptyError, putting or taking nothing", [1], (queue) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* Effect.flip(queue.getNowait))._tag, "QueueEmptyError")
        const started = Date.now()
        assert.strictEqual((yield* Effect.flip(queue.getFor("40 millis")))._tag, "QueueEmptyError")
        assert.isAtLeast(Date.now() - started, 30)
        yield* queue.put(1)
        assert.strictEqual((yield* Effect.flip(queue.putNowait(2)))._tag, "QueueFullError")
        assert.strictEqual((yield* Effect.flip(queue.putFor(2, "40 millis")))._tag, "QueueFullError")
        assert.strictEqual((yield* Effect.flip(queue.putFor(2, -1)))._tag, "InvalidArgumentError")
        assert.strictEqual((yield* Effect.flip(queue.getFor(-1)))._tag, "InvalidArgumentError")
        assert.strictEqual(yield* queue.size, 1)
        assert.strictEqual(yield* queue.get, 1)
      }))

    test("a waiting getter gets a later put; a waiting putter goes in when a get makes room", [1], (queue) =>
      Effect.gen(function*() {
        const getter = yield* Effect.forkChild(queue.get)
        yield* settle
        yield* queue.put("first")
        assert.strictEqual(yield* Fiber.join(getter), "first")
        yield* queue.put("x")
        const putter = yield* Effect.forkChild(queue.put("y"))
        yield* settle
        assert.strictEqual(yield* queue.get, "x")
        yield* Fiber.join(putter)
        assert.strictEqual(yield* queue.get, "y")
      }))

    test("getters are served in the order they came; an interrupted getter loses no item", [0], (queue) =>
      Effect.gen(function*() {
        const first = yield* Effect.forkChild(queue.get)
        yield* settle
        const quitter = yield* Effect.forkChild(queue.get)
        yield* settle
        const second = yield* Effect.forkChild(queue.get)
        yield* settle
        yield* Fiber.interrupt(quitter)
        yield* queue.put(1)
        yield* queue.put(2)
        assert.strictEqual(yield* Fiber.join(first), 1)
        assert.strictEqual(yield* Fiber.join(second), 2)
        yield* queue.put(3)
        assert.strictEqual(yield* queue.get, 3)
      }))

    test("taskDone and join: join waits for every item put; one taskDone too many fails TaskDoneError", [0], (queue) =>
      Effect.gen(function*() {
        yield* queue.join
        yield* queue.put(1)
        yield* queue.put(2)
        let joined = false
        const joiner = yield* Effect.forkChild(Effect.andThen(queue.join, Effect.sync(() => { joined = true })))
        yield* queue.get
        yield* queue.get
        yield* queue.taskDone
        yield* settle
        assert.isFalse(joined)
        yield* queue.taskDone
        yield* Fiber.join(joiner)
        assert.strictEqual((yield* Effect.flip(queue.taskDone))._tag, "TaskDoneError")
      }))

    test("shutdown: puts fail, gets drain what is left then fail, waiting getters fail", [0], (queue) =>
      Effect.gen(function*() {
        yield* queue.put(1)
        yield* queue.shutdown()
        assert.strictEqual((yield* Effect.flip(queue.put(2)))._tag, "QueueShutDownError")
        assert.strictEqual(yield* queue.get, 1)
        assert.strictEqual((yield* Effect.flip(queue.get))._tag, "QueueShutDownError")
      }))

    test("shutdown({ immediate: true }) drops the items and fails waiting getters at once", [0], (queue) =>
      Effect.gen(function*() {
        const getter = yield* Effect.forkChild(queue.get)
        yield* settle
        yield* queue.shutdown({ immediate: true })
        const exit = yield* Fiber.await(getter)
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual((yield* Effect.flip(queue.getNowait))._tag, "QueueShutDownError")
        assert.strictEqual((yield* Effect.flip(queue.put(1)))._tag, "QueueShutDownError")
      }))

    test("members work passed as values or destructured; module functions data-first and data-last", [4], (queue) =>
      Effect.gen(function*() {
        const { get, getFor, getNowait, isEmpty, isFull, join, put, putFor, putNowait, size, taskDone } = queue
        yield* Effect.forEach([1, 2], put)
        yield* putNowait(3)
        yield* putFor(4, 0)
        assert.isTrue(yield* isFull)
        assert.strictEqual(yield* size, 4)
        assert.deepStrictEqual([yield* get, yield* getNowait, yield* getFor(0)], [1, 2, 3])
        yield* Queue.put(queue, 5)
        yield* pipe(queue, Queue.put(6))
        yield* Queue.putNowait(queue, 7)
        assert.strictEqual((yield* Effect.flip(pipe(queue, Queue.putFor(8, 1))))._tag, "QueueFullError")
        assert.strictEqual(yield* Queue.size(queue), 4)
        assert.deepStrictEqual(
          [yield* Queue.get(queue), yield* Queue.getNowait(queue), yield* pipe(queue, Queue.getFor(0)), yield* Queue.getFor(queue, 0)],
          [4, 5, 6, 7]
        )
        assert.isTrue(yield* Queue.isEmpty(queue))
        assert.isTrue(yield* isEmpty)
        for (let i = 0; i < 7; i++) yield* (i % 2 === 0 ? taskDone : Queue.taskDone(queue))
        yield* join
        yield* Queue.join(queue)
        const { shutdown } = queue
        yield* shutdown()
        assert.strictEqual((yield* Effect.flip(Queue.put(queue, 9)))._tag, "QueueShutDownError")
        assert.isFalse(yield* Queue.isFull(queue))
      }))

    test("the Promise face: put and get through Promises", [2], (queue) =>
      Effect.promise(async () => {
        const jobs = Promised.queue(queue)
        const getting = jobs.get()
        await jobs.put("wash")
        assert.strictEqual(await getting, "wash")
        await jobs.put("dry")
        assert.strictEqual(await jobs.size(), 1)
        assert.strictEqual(await jobs.get(), "dry")
        const failed = await jobs.getNowait().catch((error: { _tag: string }) => error._tag)
        assert.strictEqual(failed, "QueueEmptyError")
      }))
  })
}
