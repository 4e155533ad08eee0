/**
 * FIFO, LIFO and priority queues for fibers — Python's `queue.Queue`,
 * `queue.LifoQueue` and `queue.PriorityQueue`, with `task_done` / `join` and
 * Python 3.13's `shutdown`.
 *
 * What Effect gives: `effect/Queue` has bounded, dropping, sliding and
 * unbounded FIFO queues (`offer`, `take`, `poll`, `end`, `shutdown`), but no
 * LIFO or priority order, no `task_done` / `join`, no timed `offer` / `take`,
 * and its `shutdown` drops the items and interrupts the takers instead of
 * letting them drain. `TxPriorityQueue` is a priority queue for transactions,
 * without blocking puts or a capacity. What Weft adds: the Python interface
 * (`put`, `putNowait`, `putFor`, `get`, `getNowait`, `getFor`, `size`,
 * `isEmpty`, `isFull`, `taskDone`, `join`, `shutdown({ immediate })`) on three
 * orders, each with a direct hand-off: a `put` gives its item straight to the
 * longest-waiting getter, and a `get` that frees a slot gives it straight to
 * the longest-waiting putter, so blocked getters and putters are served in
 * strict FIFO order and nobody barges in.
 *
 * Interruption safety: an interrupted or timed-out `get` never loses an item.
 * An item handed to a getter that is interrupted before its fiber resumes goes
 * back to the front of the queue, in the place it had (so FIFO order holds),
 * or straight to the next waiting getter. An interrupted or timed-out `put`
 * never puts its item: a `put` succeeds exactly when its item is in the queue.
 *
 * Counting: an item handed to a waiting getter still counts in `size` (and
 * against `maxsize`) until that getter's fiber resumes, as in Python, where
 * the item stays in the queue until the woken thread runs; it is promised to
 * that getter, so `getNowait` does not take it.
 *
 * Scopes: fiber (this module); worker threads: `SharedQueue`; processes:
 * `manager.queue()`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* Queue.fifo<string | null>(2)
 *   const eaten: Array<string> = []
 *   const consumer = Effect.gen(function*() {
 *     while (true) {
 *       const item = yield* queue.get
 *       if (item === null) return // the sentinel: the producer is done
 *       eaten.push(item)
 *     }
 *   })
 *   const producer = Effect.gen(function*() {
 *     for (let i = 0; i < 5; i++) yield* queue.put(`bun ${i}`) // waits while 2 are queued
 *     yield* queue.put(null)
 *   })
 *   yield* Effect.all([consumer, producer], { concurrency: "unbounded" })
 *   return eaten // ["bun 0", "bun 1", "bun 2", "bun 3", "bun 4"]
 * })
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Order from "effect/Order"
import { dual } from "effect/Function"
import {
  InvalidArgumentError,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
  TaskDoneError
} from "./errors.ts"
import { QueueImpl } from "./internal/QueueImpl.ts"
import { Tracker } from "./internal/track.ts"
import { FifoStore, LifoStore, PriorityStore, type Store } from "./internal/QueueStore.ts"
import { count } from "./validate.ts"

/**
 * The queue interface, shared by every scope: `Queue.fifo`, `Queue.lifo`,
 * `Queue.priority`, `SharedQueue` and a manager's `queue()` all implement it.
 *
 * @example
 * ```ts
 * const drain = <A>(queue: Queue.Queue<A>) =>
 *   Effect.gen(function*() {
 *     const items: Array<A> = []
 *     while (!(yield* queue.isEmpty)) items.push(yield* queue.get)
 *     return items
 *   })
 * ```
 */
export interface Queue<A> {
  /** The capacity; `0` means unbounded. */
  readonly maxsize: number
  /**
   * Puts `item`, waiting (FIFO among putters) while the queue is full. Fails
   * with `QueueShutDownError` after `shutdown`, also when it was waiting.
   */
  put(item: A): Effect.Effect<void, QueueShutDownError>
  /** Puts `item` if there is room right now; otherwise fails with `QueueFullError`. */
  putNowait(item: A): Effect.Effect<void, QueueFullError | QueueShutDownError>
  /**
   * Puts `item`, waiting at most `timeout` for room; fails with
   * `QueueFullError` when the time runs out (the item is then not put).
   */
  putFor(item: A, timeout: Duration.Input): Effect.Effect<void, QueueFullError | QueueShutDownError | InvalidArgumentError>
  /**
   * Takes the next item, waiting (FIFO among getters) while the queue is
   * empty. After `shutdown` it still returns the remaining items, then fails
   * with `QueueShutDownError`.
   */
  readonly get: Effect.Effect<A, QueueShutDownError>
  /** Takes the next item if there is one right now; otherwise fails with `QueueEmptyError`. */
  readonly getNowait: Effect.Effect<A, QueueEmptyError | QueueShutDownError>
  /** Takes the next item, waiting at most `timeout`; fails with `QueueEmptyError` when the time runs out. */
  getFor(timeout: Duration.Input): Effect.Effect<A, QueueEmptyError | QueueShutDownError | InvalidArgumentError>
  /** The number of items in the queue. */
  readonly size: Effect.Effect<number>
  /** Whether the queue holds no item. */
  readonly isEmpty: Effect.Effect<boolean>
  /** Whether a `putNowait` would fail for lack of room (never, when unbounded). */
  readonly isFull: Effect.Effect<boolean>
  /**
   * Marks one item taken with `get` as processed. Fails with `TaskDoneError`
   * when called more times than items were put.
   */
  readonly taskDone: Effect.Effect<void, TaskDoneError>
  /** Waits until every item ever put has been marked with `taskDone`. */
  readonly join: Effect.Effect<void>
  /**
   * Shuts the queue down (Python 3.13): puts fail with `QueueShutDownError`,
   * and so do blocked putters; gets drain the remaining items, then fail. With
   * `immediate: true` the remaining items are dropped (each counts as done for
   * `join`) and every blocked getter and putter fails at once.
   */
  shutdown(options?: ShutdownOptions): Effect.Effect<void>
}

/**
 * The options of `shutdown`: with `immediate: true` the remaining items are
 * dropped and every waiter fails at once (Python 3.13's `shutdown(immediate=True)`).
 *
 * @example
 * ```ts
 * const now: Queue.ShutdownOptions = { immediate: true }
 * ```
 */
export interface ShutdownOptions {
  readonly immediate?: boolean | undefined
}

const maxsizeOf = (operation: string, maxsize: number | undefined): number | InvalidArgumentError => {
  if (maxsize === undefined) return 0
  return count(operation, "maxsize", maxsize, 0) ?? maxsize
}

/**
 * Options of `fifo`, `lifo` and `priority`.
 *
 * @example
 * ```ts
 * const jobs = yield* Queue.fifo<string>(100, { name: "jobs" })
 * ```
 */
export interface Options {
  /** Lists the queue by `Inspect.snapshot` under this name, with its size and waiting getters and putters. */
  readonly name?: string | undefined
}

const make = <A>(operation: string, maxsize: number | undefined, store: (maxsize: number) => Store<A>, options: Options | undefined) =>
  Effect.suspend(() => {
    const size = maxsizeOf(operation, maxsize)
    if (typeof size !== "number") return Effect.fail(size)
    const queue = new QueueImpl(size, store(size))
    // Counts only: a queue's waits are not its hot path to instrument.
    queue.tracker = new Tracker(queue, operation, options?.name, { counts: (self) => self.counts() })
    return Effect.succeed<Queue<A>>(queue)
  })

/**
 * Creates a first-in, first-out queue (Python's `queue.Queue`). `maxsize` 0 or
 * omitted means unbounded; a negative or fractional one fails with
 * `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * const queue = yield* Queue.fifo<number>(10)
 * yield* queue.put(1)
 * yield* queue.put(2)
 * yield* queue.get // 1
 * ```
 */
export const fifo = <A>(maxsize?: number, options?: Options): Effect.Effect<Queue<A>, InvalidArgumentError> =>
  make("Queue.fifo", maxsize, (size) => new FifoStore<A>(size), options)

/**
 * Creates a last-in, first-out queue, a stack (Python's `queue.LifoQueue`).
 * `maxsize` 0 or omitted means unbounded.
 *
 * @example
 * ```ts
 * const stack = yield* Queue.lifo<number>()
 * yield* stack.put(1)
 * yield* stack.put(2)
 * yield* stack.get // 2
 * ```
 */
export const lifo = <A>(maxsize?: number, options?: Options): Effect.Effect<Queue<A>, InvalidArgumentError> =>
  make("Queue.lifo", maxsize, () => new LifoStore<A>(), options)

/**
 * Creates a priority queue (Python's `queue.PriorityQueue`): `get` returns the
 * smallest item by `order` first, like `heapq`; equal items come out in the
 * order they were put. `maxsize` 0 or omitted means unbounded.
 *
 * @example
 * ```ts
 * import { Order } from "effect"
 *
 * const jobs = yield* Queue.priority(Order.mapInput(Order.Number, (job: { priority: number; name: string }) => job.priority))
 * yield* jobs.put({ priority: 3, name: "later" })
 * yield* jobs.put({ priority: 1, name: "urgent" })
 * yield* jobs.get // { priority: 1, name: "urgent" }
 * ```
 */
export const priority = <A>(order: Order.Order<A>, maxsize?: number, options?: Options): Effect.Effect<Queue<A>, InvalidArgumentError> =>
  typeof order === "function"
    ? make("Queue.priority", maxsize, () => new PriorityStore<A>(order), options)
    : Effect.fail(
      new InvalidArgumentError({
        operation: "Queue.priority",
        argument: "order",
        value: order,
        expected: "an Order (a function (a, b) => -1 | 0 | 1)"
      })
    )

// ---------------------------------------------------------------------------
// Module functions: the instance members as functions, for any scope's queue
// (`SharedQueue` and `manager.queue()` too), following Effect's `Queue`
// module (`Queue.offer(queue, x)` / `pipe(queue, Queue.offer(x))`).

/**
 * `queue.put(item)`: `Queue.put(queue, item)` or `pipe(queue, Queue.put(item))`.
 *
 * @example
 * ```ts
 * import { Effect, pipe } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* Queue.fifo<number>()
 *   yield* Queue.put(queue, 1)
 *   yield* pipe(queue, Queue.put(2))
 *   return yield* Queue.get(queue) // 1
 * })
 * ```
 */
export const put: {
  <A>(item: A): (self: Queue<A>) => Effect.Effect<void, QueueShutDownError>
  <A>(self: Queue<A>, item: A): Effect.Effect<void, QueueShutDownError>
} = dual(2, <A>(self: Queue<A>, item: A) => self.put(item))

/**
 * `queue.putNowait(item)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* Queue.fifo<number>(1)
 *   yield* Queue.putNowait(queue, 1)
 *   return yield* Effect.flip(Queue.putNowait(queue, 2)) // QueueFullError
 * })
 * ```
 */
export const putNowait: {
  <A>(item: A): (self: Queue<A>) => Effect.Effect<void, QueueFullError | QueueShutDownError>
  <A>(self: Queue<A>, item: A): Effect.Effect<void, QueueFullError | QueueShutDownError>
} = dual(2, <A>(self: Queue<A>, item: A) => self.putNowait(item))

/**
 * `queue.putFor(item, timeout)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { Effect, pipe } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* Queue.fifo<number>(1)
 *   yield* Queue.putFor(queue, 1, "1 second")
 *   return yield* Effect.flip(pipe(queue, Queue.putFor(2, "10 millis"))) // QueueFullError
 * })
 * ```
 */
export const putFor: {
  <A>(item: A, timeout: Duration.Input): (self: Queue<A>) => Effect.Effect<void, QueueFullError | QueueShutDownError | InvalidArgumentError>
  <A>(self: Queue<A>, item: A, timeout: Duration.Input): Effect.Effect<void, QueueFullError | QueueShutDownError | InvalidArgumentError>
} = dual(3, <A>(self: Queue<A>, item: A, timeout: Duration.Input) => self.putFor(item, timeout))

/**
 * `queue.get` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* Queue.lifo<string>()
 *   yield* Queue.put(queue, "a")
 *   return yield* Queue.get(queue) // "a"
 * })
 * ```
 */
export const get = <A>(self: Queue<A>): Effect.Effect<A, QueueShutDownError> => self.get

/**
 * `queue.getNowait` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Queue.fifo<number>(), (queue) => Effect.flip(Queue.getNowait(queue))) // QueueEmptyError
 * ```
 */
export const getNowait = <A>(self: Queue<A>): Effect.Effect<A, QueueEmptyError | QueueShutDownError> => self.getNowait

/**
 * `queue.getFor(timeout)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { Effect, pipe } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Queue.fifo<number>(), (queue) => Effect.flip(pipe(queue, Queue.getFor(10)))) // QueueEmptyError
 * ```
 */
export const getFor: {
  (timeout: Duration.Input): <A>(self: Queue<A>) => Effect.Effect<A, QueueEmptyError | QueueShutDownError | InvalidArgumentError>
  <A>(self: Queue<A>, timeout: Duration.Input): Effect.Effect<A, QueueEmptyError | QueueShutDownError | InvalidArgumentError>
} = dual(2, <A>(self: Queue<A>, timeout: Duration.Input) => self.getFor(timeout))

/**
 * `queue.size` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Queue.fifo<number>(), Queue.size) // 0
 * ```
 */
export const size = <A>(self: Queue<A>): Effect.Effect<number> => self.size

/**
 * `queue.isEmpty` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Queue.fifo<number>(), Queue.isEmpty) // true
 * ```
 */
export const isEmpty = <A>(self: Queue<A>): Effect.Effect<boolean> => self.isEmpty

/**
 * `queue.isFull` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Queue.fifo<number>(), Queue.isFull) // false: unbounded
 * ```
 */
export const isFull = <A>(self: Queue<A>): Effect.Effect<boolean> => self.isFull

/**
 * `queue.taskDone` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Queue.fifo<number>(), (queue) => Effect.flip(Queue.taskDone(queue))) // TaskDoneError
 * ```
 */
export const taskDone = <A>(self: Queue<A>): Effect.Effect<void, TaskDoneError> => self.taskDone

/**
 * `queue.join` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Queue.fifo<number>(), Queue.join) // nothing put: returns at once
 * ```
 */
export const join = <A>(self: Queue<A>): Effect.Effect<void> => self.join

/**
 * `queue.shutdown(options)` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Queue } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* Queue.fifo<number>()
 *   yield* Queue.shutdown(queue, { immediate: true })
 *   return yield* Effect.flip(Queue.put(queue, 1)) // QueueShutDownError
 * })
 * ```
 */
export const shutdown = <A>(self: Queue<A>, options?: ShutdownOptions): Effect.Effect<void> =>
  self.shutdown(options)
