import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Order } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import * as Queue from "../src/Queue.ts"

// Forks `effect` and runs it at once, up to its first wait, so the order in
// which tests fork waiters is the order in which they queue.
const start = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect, { startImmediately: true })

// Lets every pending hand-off resume (they resume on microtasks).
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))

const drain = <A>(queue: Queue.Queue<A>) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    while (!(yield* queue.isEmpty)) items.push(yield* queue.getNowait)
    return items
  })

describe("Queue", () => {
  describe("fifo", () => {
    it.effect("unbounded when maxsize is 0 or omitted, across ring-buffer growth", () =>
      Effect.gen(function*() {
        for (const queue of [yield* Queue.fifo<number>(), yield* Queue.fifo<number>(0)]) {
          for (let i = 0; i < 100; i++) yield* queue.putNowait(i)
          assert.isFalse(yield* queue.isFull)
          // Interleave gets and puts so the ring wraps around, then grows.
          for (let i = 0; i < 50; i++) assert.strictEqual(yield* queue.get, i)
          for (let i = 100; i < 200; i++) yield* queue.put(i)
          assert.deepStrictEqual(yield* drain(queue), Array.from({ length: 150 }, (_, i) => i + 50))
        }
      }))

    it.effect("getFor times out with QueueEmptyError, and a later put is not lost", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        const getter = yield* start(Effect.flip(queue.getFor("50 millis")))
        yield* TestClock.adjust("49 millis")
        assert.isUndefined(getter.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* Fiber.join(getter))._tag, "QueueEmptyError")
        yield* queue.put(7)
        assert.deepStrictEqual(yield* drain(queue), [7])
      }))

    it.effect("getFor returns an item that arrives in time", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        const getter = yield* start(queue.getFor("1 second"))
        yield* TestClock.adjust("999 millis")
        yield* queue.put(1)
        assert.strictEqual(yield* Fiber.join(getter), 1)
        // The timer is gone: advancing the clock past it changes nothing.
        yield* TestClock.adjust("1 second")
        assert.isTrue(yield* queue.isEmpty)
      }))

    it.effect("putFor times out with QueueFullError without putting; putFor succeeds when room appears", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<string>(1)
        yield* queue.put("a")
        const late = yield* start(Effect.flip(queue.putFor("late", 100)))
        yield* TestClock.adjust("100 millis")
        assert.strictEqual((yield* Fiber.join(late))._tag, "QueueFullError")
        assert.strictEqual(yield* queue.size, 1)
        const inTime = yield* start(queue.putFor("in time", "1 second"))
        yield* TestClock.adjust("500 millis")
        assert.strictEqual(yield* queue.get, "a")
        yield* Fiber.join(inTime)
        assert.deepStrictEqual(yield* drain(queue), ["in time"])
      }))

    it.effect("a zero timeout is the non-blocking form; Infinity waits like get", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>(1)
        assert.strictEqual((yield* Effect.flip(queue.getFor(0)))._tag, "QueueEmptyError")
        yield* queue.putFor(1, 0)
        assert.strictEqual((yield* Effect.flip(queue.putFor(2, 0)))._tag, "QueueFullError")
        assert.strictEqual(yield* queue.getFor(0), 1)
        const getter = yield* start(queue.getFor(Infinity))
        yield* TestClock.adjust("1 day")
        assert.isUndefined(getter.pollUnsafe())
        yield* queue.put(2)
        assert.strictEqual(yield* Fiber.join(getter), 2)
      }))

    it.effect("blocked putters are served in FIFO order, and nobody barges past them", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<string>(1)
        yield* queue.put("first")
        const putters = yield* Effect.forEach(["a", "b", "c"], (item) => start(queue.put(item)))
        assert.strictEqual(yield* queue.get, "first")
        // The freed slot is promised to "a": a putNowait may not take it.
        assert.strictEqual((yield* Effect.flip(queue.putNowait("barger")))._tag, "QueueFullError")
        const got: Array<string> = []
        for (let i = 0; i < 3; i++) got.push(yield* queue.get)
        yield* Effect.forEach(putters, Fiber.join)
        assert.deepStrictEqual(got, ["a", "b", "c"])
      }))
  })

  describe("interruption", () => {
    it.effect("an item handed to a getter interrupted before it resumed goes back to the front", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        const getter = yield* start(queue.get)
        // put(1) hands 1 to the getter; its fiber resumes on a microtask, so
        // the interrupt below lands in between.
        yield* queue.put(1)
        assert.strictEqual(yield* queue.size, 1) // handed, not yet taken
        yield* queue.put(2)
        yield* Fiber.interrupt(getter)
        assert.isTrue(Exit.hasInterrupts((yield* Fiber.await(getter))))
        assert.deepStrictEqual(yield* drain(queue), [1, 2])
      }))

    it.effect("several handed items return to their original places, whatever the interrupt order", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        const first = yield* start(queue.get)
        const second = yield* start(queue.get)
        yield* queue.put(1) // to first
        yield* queue.put(2) // to second
        yield* queue.put(3)
        yield* Fiber.interrupt(second)
        yield* Fiber.interrupt(first)
        assert.deepStrictEqual(yield* drain(queue), [1, 2, 3])
      }))

    it.effect("an item handed to an interrupted getter goes to the next getter in line", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        const first = yield* start(queue.get)
        const second = yield* start(queue.get)
        yield* queue.put(1)
        yield* Fiber.interrupt(first)
        assert.strictEqual(yield* Fiber.join(second), 1)
        assert.isTrue(yield* queue.isEmpty)
      }))

    it.effect("an interrupted waiting putter puts nothing and leaks no slot", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<string>(1)
        yield* queue.put("a")
        const putter = yield* start(queue.put("never"))
        yield* Fiber.interrupt(putter)
        assert.strictEqual(yield* queue.get, "a")
        yield* queue.putNowait("b") // the slot is free
        assert.deepStrictEqual(yield* drain(queue), ["b"])
      }))

    it.effect("a putter granted a slot but interrupted before it resumed puts nothing; the slot goes on", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<string>(1)
        yield* queue.put("a")
        const granted = yield* start(queue.put("interrupted"))
        const next = yield* start(queue.put("next"))
        assert.strictEqual(yield* queue.get, "a") // grants the slot to `granted`
        yield* Fiber.interrupt(granted)
        yield* Fiber.join(next)
        assert.deepStrictEqual(yield* drain(queue), ["next"])
        yield* queue.putNowait("c")
        assert.isTrue(yield* queue.isFull)
      }))

    it.effect("a timed-out getFor never takes an item put at the same instant", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        const getter = yield* start(Effect.exit(queue.getFor("10 millis")))
        const producer = yield* start(Effect.andThen(Effect.sleep("10 millis"), queue.put(1)))
        yield* TestClock.adjust("10 millis")
        yield* Fiber.join(producer)
        const exit = yield* Fiber.join(getter)
        const remaining = yield* drain(queue)
        // Either the getter got 1, or 1 is still queued: never both, never neither.
        if (Exit.isSuccess(exit)) assert.deepStrictEqual([exit.value, remaining], [1, []])
        else assert.deepStrictEqual(remaining, [1])
      }))
  })

  describe("lifo and priority", () => {
    it.effect("lifo returns the last item put first", () =>
      Effect.gen(function*() {
        const stack = yield* Queue.lifo<number>()
        for (const i of [1, 2, 3]) yield* stack.put(i)
        assert.deepStrictEqual(yield* drain(stack), [3, 2, 1])
      }))

    it.effect("lifo: an item handed to an interrupted getter returns below newer items", () =>
      Effect.gen(function*() {
        const stack = yield* Queue.lifo<number>()
        const getter = yield* start(stack.get)
        yield* stack.put(1)
        yield* stack.put(2)
        yield* Fiber.interrupt(getter)
        assert.deepStrictEqual(yield* drain(stack), [2, 1])
      }))

    it.effect("priority returns the smallest first; equal items keep insertion order", () =>
      Effect.gen(function*() {
        type Job = readonly [priority: number, name: string]
        const jobs = yield* Queue.priority(Order.mapInput(Order.Number, (job: Job) => job[0]))
        const input: Array<Job> = [[3, "c1"], [1, "a1"], [2, "b1"], [1, "a2"], [3, "c2"], [1, "a3"], [2, "b2"]]
        for (const job of input) yield* jobs.put(job)
        assert.deepStrictEqual((yield* drain(jobs)).map((job) => job[1]), ["a1", "a2", "a3", "b1", "b2", "c1", "c2"])
      }))

    it.effect("priority heap stays ordered under mixed puts and gets", () =>
      Effect.gen(function*() {
        const heap = yield* Queue.priority(Order.Number)
        const reference: Array<number> = []
        let seed = 7
        for (let i = 0; i < 300; i++) {
          seed = (seed * 48271) % 2147483647
          if (seed % 3 === 0 && reference.length > 0) {
            reference.sort((a, b) => a - b)
            assert.strictEqual(yield* heap.get, reference.shift())
          } else {
            yield* heap.put(seed % 50)
            reference.push(seed % 50)
          }
        }
        assert.deepStrictEqual(yield* drain(heap), reference.sort((a, b) => a - b))
      }))

    it.effect("a bounded priority queue blocks puts while full", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.priority(Order.Number, 2)
        yield* queue.put(5)
        yield* queue.put(9)
        const putter = yield* start(queue.put(1))
        yield* settle
        assert.isUndefined(putter.pollUnsafe())
        assert.strictEqual(yield* queue.get, 5)
        yield* Fiber.join(putter)
        assert.deepStrictEqual(yield* drain(queue), [1, 9])
      }))
  })

  describe("taskDone and join", () => {
    it.effect("join returns at once when nothing was put", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        yield* queue.join
      }))

    it.effect("an interrupted join leaves other joiners waiting and woken", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        yield* queue.put(1)
        const interrupted = yield* start(queue.join)
        const joiner = yield* start(queue.join)
        yield* Fiber.interrupt(interrupted)
        yield* queue.get
        yield* queue.taskDone
        yield* Fiber.join(joiner)
      }))
  })

  describe("shutdown", () => {
    it.effect("wakes blocked getters and putters with QueueShutDownError", () =>
      Effect.gen(function*() {
        const empty = yield* Queue.fifo<number>()
        const getters = yield* Effect.forEach([1, 2], () => start(Effect.flip(empty.get)))
        const full = yield* Queue.fifo<number>(1)
        yield* full.put(0)
        const putter = yield* start(Effect.flip(full.put(1)))
        const timedPutter = yield* start(Effect.flip(full.putFor(2, "1 hour")))
        yield* empty.shutdown()
        yield* full.shutdown()
        const waiters: Array<Fiber.Fiber<{ readonly _tag: string }, unknown>> = [...getters, putter, timedPutter]
        const errors = yield* Effect.forEach(waiters, (fiber) => Effect.map(Fiber.join(fiber), (error) => error._tag))
        assert.deepStrictEqual(errors, Array(4).fill("QueueShutDownError"))
        assert.deepStrictEqual(yield* drain(full), [0]) // the queued item is still there
      }))

    it.effect("join still counts undone tasks after a plain shutdown", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        yield* queue.put(1)
        yield* queue.shutdown()
        const joiner = yield* start(queue.join)
        yield* queue.get
        yield* settle
        assert.isUndefined(joiner.pollUnsafe())
        yield* queue.taskDone
        yield* Fiber.join(joiner)
      }))

    it.effect("immediate drops the items, counts them as done for join, and fails every waiter", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>(3)
        for (const i of [1, 2, 3]) yield* queue.put(i)
        const putter = yield* start(queue.put(4))
        assert.strictEqual(yield* queue.get, 1) // taken, not yet done; grants 4's slot
        const joiner = yield* start(queue.join)
        yield* settle // 4 goes in
        yield* queue.shutdown({ immediate: true })
        assert.strictEqual(yield* queue.size, 0)
        assert.strictEqual((yield* Effect.flip(queue.get))._tag, "QueueShutDownError")
        // 2, 3, 4 were dropped and count as done; 1 is still open.
        assert.isUndefined(joiner.pollUnsafe())
        yield* queue.taskDone
        yield* Fiber.join(joiner)
        yield* Fiber.join(putter) // 4 was put before the shutdown (then dropped)
        assert.strictEqual((yield* Effect.flip(queue.taskDone))._tag, "TaskDoneError")
      }))

    it.effect("immediate fails blocked putters and a getter handed an item it has not taken yet", () =>
      Effect.gen(function*() {
        const full = yield* Queue.fifo<number>(1)
        yield* full.put(0)
        const putter = yield* start(Effect.flip(full.put(1)))
        yield* full.shutdown({ immediate: true })
        assert.strictEqual((yield* Fiber.join(putter))._tag, "QueueShutDownError")

        const queue = yield* Queue.fifo<number>()
        const getter = yield* start(Effect.flip(queue.get))
        yield* queue.put(1) // handed to the getter, which has not resumed
        const joiner = yield* start(queue.join)
        yield* queue.shutdown({ immediate: true })
        assert.strictEqual((yield* Fiber.join(getter))._tag, "QueueShutDownError")
        yield* Fiber.join(joiner) // the dropped item counted as done
        assert.isTrue(yield* queue.isEmpty)
      }))
  })

  describe("bad input", () => {
    it.effect("negative or fractional maxsize and a non-Order are refused with InvalidArgumentError", () =>
      Effect.gen(function*() {
        for (
          const attempt of [
            Queue.fifo(-1),
            Queue.fifo(1.5),
            Queue.fifo(Number.NaN),
            Queue.lifo(-2),
            Queue.priority(Order.Number, -1),
            Queue.priority(42 as unknown as Order.Order<number>)
          ]
        ) {
          const error = yield* Effect.flip(attempt)
          assert.strictEqual(error._tag, "InvalidArgumentError")
          assert.match(error.message, /^Queue\.(fifo|lifo|priority): (maxsize|order) must be /)
        }
        const error = yield* Effect.flip(Queue.fifo(-1))
        assert.strictEqual(error.message, "Queue.fifo: maxsize must be an integer >= 0, got -1")
      }))

    it.effect("a negative timeout is refused, even when the call would not wait", () =>
      Effect.gen(function*() {
        const queue = yield* Queue.fifo<number>()
        yield* queue.put(1)
        const getError = yield* Effect.flip(queue.getFor(-1))
        assert.strictEqual(getError._tag, "InvalidArgumentError")
        assert.include(getError.message, "Queue.getFor: timeout")
        assert.strictEqual((yield* Effect.flip(queue.putFor(2, "-5 millis")))._tag, "InvalidArgumentError")
        assert.deepStrictEqual(yield* drain(queue), [1])
      }))
  })

  // Seed 002 (multiprocessing Queue): producers make buns, consumers eat them,
  // and each consumer stops on a None sentinel, sent by the main program once
  // every producer is done — one sentinel per consumer.
  it.effect("seed: producers and consumers ending on a None sentinel", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.fifo<string | null>(3)
      const eaten: Array<string> = []
      const producer = (name: string) =>
        Effect.forEach([0, 1, 2, 3, 4], (i) =>
          Effect.andThen(Effect.sleep(`${1 + (i % 3)} seconds`), queue.put(`${name} bun ${i}`)))
      const consumer = (name: string) =>
        Effect.gen(function*() {
          let count = 0
          while (true) {
            const bun = yield* queue.get
            if (bun === null) return count // the sentinel: stop
            yield* Effect.sleep("2 seconds") // eating
            eaten.push(`${name} ate ${bun}`)
            count++
          }
        })
      const consumers = yield* Effect.forEach(["c1", "c2"], (name) => Effect.forkChild(consumer(name)))
      const producers = yield* Effect.forEach(["p1", "p2"], (name) => Effect.forkChild(producer(name)))
      const main = yield* Effect.forkChild(
        Effect.gen(function*() {
          yield* Effect.forEach(producers, Fiber.join)
          yield* queue.put(null)
          yield* queue.put(null)
        })
      )
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(main)
      const counts = yield* Effect.forEach(consumers, Fiber.join)
      assert.strictEqual(counts[0]! + counts[1]!, 10)
      assert.strictEqual(eaten.length, 10)
      for (const p of ["p1", "p2"]) {
        // Each producer's buns were eaten, in the order they were made.
        const buns = eaten.map((line) => line.split(" ate ")[1]!).filter((bun) => bun.startsWith(p))
        assert.deepStrictEqual(buns, [0, 1, 2, 3, 4].map((i) => `${p} bun ${i}`))
      }
      assert.isTrue(yield* queue.isEmpty)
    }))

  // Random interleavings of blocking and timed puts and gets (started at once,
  // so each queues where the command list says), non-blocking forms,
  // interruptions of pending fibers (landing between a hand-off and the
  // waiter's resumption when no yield separates them), yields and clock ticks
  // (timeouts firing around hand-offs). At the end, every item whose put
  // succeeded was got by exactly one successful get or is still queued; no
  // item from a failed put appears.
  it("property: random puts, gets and interruptions lose and duplicate no item", async () => {
    type Command =
      | { readonly _tag: "put" }
      | { readonly _tag: "get" }
      | { readonly _tag: "putNowait" }
      | { readonly _tag: "getNowait" }
      | { readonly _tag: "putFor"; readonly millis: number }
      | { readonly _tag: "getFor"; readonly millis: number }
      | { readonly _tag: "interrupt"; readonly pick: number }
      | { readonly _tag: "yield" }
      | { readonly _tag: "tick" }
    const command: fc.Arbitrary<Command> = fc.oneof(
      fc.constant({ _tag: "put" } as const),
      fc.constant({ _tag: "get" } as const),
      fc.constant({ _tag: "putNowait" } as const),
      fc.constant({ _tag: "getNowait" } as const),
      fc.record({ _tag: fc.constant("putFor" as const), millis: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ _tag: fc.constant("getFor" as const), millis: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ _tag: fc.constant("interrupt" as const), pick: fc.nat() }),
      fc.constant({ _tag: "yield" } as const),
      fc.constant({ _tag: "tick" } as const)
    )
    const kinds = ["fifo", "lifo", "priority"] as const
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...kinds),
        fc.integer({ min: 0, max: 3 }),
        fc.array(command, { maxLength: 40 }),
        (kind, maxsize, commands) =>
          Effect.runPromise(Effect.gen(function*() {
            const queue = kind === "fifo"
              ? yield* Queue.fifo<number>(maxsize)
              : kind === "lifo"
              ? yield* Queue.lifo<number>(maxsize)
              : yield* Queue.priority(Order.Number, maxsize)
            let next = 0
            const putters: Array<{ readonly item: number; readonly fiber: Fiber.Fiber<void, unknown> }> = []
            const getters: Array<Fiber.Fiber<number, unknown>> = []
            const pending: Array<Fiber.Fiber<unknown, unknown>> = []
            const putNow: Array<number> = []
            const gotNow: Array<number> = []
            for (const c of commands) {
              switch (c._tag) {
                case "put":
                case "putFor": {
                  const item = next++
                  const fiber = yield* start(c._tag === "put" ? queue.put(item) : queue.putFor(item, c.millis))
                  putters.push({ item, fiber })
                  pending.push(fiber)
                  break
                }
                case "get":
                case "getFor": {
                  const fiber = yield* start(c._tag === "get" ? queue.get : queue.getFor(c.millis))
                  getters.push(fiber)
                  pending.push(fiber)
                  break
                }
                case "putNowait": {
                  const item = next++
                  if (Exit.isSuccess(yield* Effect.exit(queue.putNowait(item)))) putNow.push(item)
                  break
                }
                case "getNowait": {
                  const exit = yield* Effect.exit(queue.getNowait)
                  if (Exit.isSuccess(exit)) gotNow.push(exit.value)
                  break
                }
                case "interrupt": {
                  if (pending.length > 0) yield* Fiber.interrupt(pending[c.pick % pending.length]!)
                  break
                }
                case "yield": {
                  yield* Effect.yieldNow
                  break
                }
                case "tick": {
                  yield* TestClock.adjust("1 millis")
                  break
                }
              }
            }
            for (const fiber of pending) yield* Fiber.interrupt(fiber)
            const put = [...putNow]
            for (const { fiber, item } of putters) {
              if (Exit.isSuccess(yield* Fiber.await(fiber))) put.push(item)
            }
            const got = [...gotNow]
            for (const fiber of getters) {
              const exit = yield* Fiber.await(fiber)
              if (Exit.isSuccess(exit)) got.push(exit.value)
            }
            const left = yield* drain(queue)
            const sort = (xs: Array<number>) => [...xs].sort((a, b) => a - b)
            assert.deepStrictEqual(sort([...got, ...left]), sort(put))
            assert.strictEqual(yield* queue.size, 0)
            // No slot leaked: the queue takes maxsize items again (or many, unbounded).
            for (let i = 0; i < (maxsize || 5); i++) yield* queue.putNowait(-1)
          }).pipe(Effect.provide(TestClock.layer())))
      ),
      { numRuns: 500 }
    )
  })
})
