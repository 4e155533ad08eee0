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
import { Duration, Effect, Fiber, type Order } from "effect"
import { dual } from "effect/Function"
import {
  InvalidArgumentError,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
  TaskDoneError
} from "./errors.ts"
import { bindMethods } from "./internal/bind.ts"
import { wake } from "./internal/handoff.ts"
import { type RemoteQueue, RemoteQueueId, type Taken } from "./internal/remoteQueue.ts"
import { FifoStore, LifoStore, PriorityStore, type Store } from "./internal/QueueStore.ts"
import { type Link, WaitList } from "./internal/WaitList.ts"
import { count, timeout as validTimeout } from "./validate.ts"

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
  shutdown(options?: { readonly immediate?: boolean | undefined }): Effect.Effect<void>
}

// ---------------------------------------------------------------------------
// Waiters: FIFO lists (internal/WaitList.ts), O(1) removal on interruption.

const QUEUED = 0 // in its list, waiting
const GRANTED = 1 // handed an item / a slot; its fiber has not resumed yet
const DONE = 2 // resumed, timed out, failed or abandoned

interface Waiter<A> extends Link<Waiter<A>> {
  resume: ((effect: Effect.Effect<any, any>) => void) | undefined
  state: number
  /** Putter: the item to put. Getter: the item handed to it. */
  item: A | undefined
  /** Getter: the sequence number of the item handed to it. */
  seq: number
  /** A timed waiter whose timer fired before it registered: its error. */
  failure: unknown
}

const makeWaiter = <A>(item: A | undefined): Waiter<A> => ({
  resume: undefined,
  state: QUEUED,
  item,
  seq: 0,
  failure: undefined,
  prev: undefined,
  next: undefined
})

const shutDownPut = (): QueueShutDownError => new QueueShutDownError({ operation: "put" })
const shutDownGet = (): QueueShutDownError => new QueueShutDownError({ operation: "get" })

class QueueImpl<A> implements Queue<A> {
  private readonly getters = new WaitList<Waiter<A>>()
  private readonly putters = new WaitList<Waiter<A>>()
  private readonly joiners = new Set<() => void>()
  /** Items handed to getters whose fibers have not resumed; they still count in `size`. */
  private inFlight = 0
  /** Slots granted to putters whose fibers have not resumed; their items are not in yet. */
  private reserved = 0
  /** Items put and not yet marked with `taskDone`. */
  private unfinished = 0
  private isShutDown = false
  /** Set by an immediate shutdown: items still handed out are dropped. */
  private dropped = false

  readonly maxsize: number
  private readonly store: Store<A>

  constructor(maxsize: number, store: Store<A>) {
    this.maxsize = maxsize
    this.store = store
    bindMethods(this, "put", "putNowait", "putFor", "getFor", "shutdown")
  }

  private hasRoom(): boolean {
    return this.maxsize === 0 || this.store.size + this.inFlight + this.reserved < this.maxsize
  }

  // --- putting -------------------------------------------------------------

  put(item: A): Effect.Effect<void, QueueShutDownError> {
    return Effect.suspend(() => {
      if (this.isShutDown) return Effect.fail(shutDownPut())
      if (this.putters.head === undefined && this.hasRoom()) {
        this.insert(item)
        return Effect.void
      }
      return this.waitPut(makeWaiter(item))
    })
  }

  putNowait(item: A): Effect.Effect<void, QueueFullError | QueueShutDownError> {
    return Effect.suspend((): Effect.Effect<void, QueueFullError | QueueShutDownError> => {
      if (this.isShutDown) return Effect.fail(shutDownPut())
      if (this.putters.head === undefined && this.hasRoom()) {
        this.insert(item)
        return Effect.void
      }
      return Effect.fail(new QueueFullError({ maxsize: this.maxsize }))
    })
  }

  putFor(item: A, timeout: Duration.Input): Effect.Effect<void, QueueFullError | QueueShutDownError | InvalidArgumentError> {
    return Effect.flatMap(validTimeout("Queue.putFor", timeout), (duration) =>
      Effect.suspend((): Effect.Effect<void, QueueFullError | QueueShutDownError> => {
        if (this.isShutDown) return Effect.fail(shutDownPut())
        if (this.putters.head === undefined && this.hasRoom()) {
          this.insert(item)
          return Effect.void
        }
        if (Duration.isZero(duration)) return Effect.fail(new QueueFullError({ maxsize: this.maxsize }))
        const waiter = makeWaiter(item)
        if (!Duration.isFinite(duration)) return this.waitPut(waiter)
        return this.timed(
          this.waitPut<QueueFullError>(waiter),
          duration,
          () => this.timeOut(this.putters, waiter, new QueueFullError({ maxsize: this.maxsize }))
        )
      }))
  }

  /** Adds an item that has room: straight to the longest-waiting getter, or to the store. */
  private insert(item: A): void {
    this.unfinished++
    const getter = this.getters.head
    if (getter === undefined) this.store.push(item)
    else this.handToGetter(getter, item, this.store.nextSeq())
  }

  /** Queues a putter; `E` is the error a timed wait's `expire` may resume it with. */
  private waitPut<E = never>(waiter: Waiter<A>): Effect.Effect<void, QueueShutDownError | E> {
    return this.enqueue<void, E>(this.putters, waiter, () => this.abandonPut(waiter))
  }

  /**
   * Parks `waiter` in `list` until it is served (or fails with the error a
   * timer left on it before it registered); `abandon` runs if it is
   * interrupted.
   */
  private enqueue<X, E>(list: WaitList<Waiter<A>>, waiter: Waiter<A>, abandon: () => void): Effect.Effect<X, QueueShutDownError | E> {
    return Effect.callback<X, QueueShutDownError | E>((resume) => {
      if (waiter.state === DONE) return resume(Effect.fail(waiter.failure as E))
      waiter.resume = resume
      list.push(waiter)
      return Effect.sync(abandon)
    })
  }

  /** Grants free slots to waiting putters, in order. */
  private servePutters(): void {
    let putter = this.putters.head
    while (putter !== undefined && this.hasRoom()) {
      this.putters.unlink(putter)
      putter.state = GRANTED
      this.reserved++
      const granted = putter
      wake(() => granted.resume!(Effect.suspend(() => this.commitPut(granted))))
      putter = this.putters.head
    }
  }

  /** A granted putter's fiber resumed: its item goes in now. */
  private commitPut(waiter: Waiter<A>): Effect.Effect<void, QueueShutDownError> {
    waiter.state = DONE
    this.reserved--
    const item = waiter.item as A
    waiter.item = undefined
    if (this.isShutDown) return Effect.fail(shutDownPut())
    this.insert(item)
    return Effect.void
  }

  private abandonPut(waiter: Waiter<A>): void {
    const state = waiter.state
    waiter.state = DONE
    waiter.item = undefined
    if (state === QUEUED) {
      this.putters.unlink(waiter)
    } else if (state === GRANTED) {
      // Interrupted before it could put: its slot goes to the next putter.
      this.reserved--
      this.servePutters()
    }
  }

  // --- getting -------------------------------------------------------------

  readonly get: Effect.Effect<A, QueueShutDownError> = Effect.suspend(() => {
    if (this.store.size > 0) return Effect.succeed(this.takeNow())
    if (this.isShutDown) return Effect.fail(shutDownGet())
    return this.waitGet(makeWaiter<A>(undefined))
  })

  readonly getNowait: Effect.Effect<A, QueueEmptyError | QueueShutDownError> = Effect.suspend((): Effect.Effect<A, QueueEmptyError | QueueShutDownError> => {
    if (this.store.size > 0) return Effect.succeed(this.takeNow())
    if (this.isShutDown) return Effect.fail(shutDownGet())
    return Effect.fail(new QueueEmptyError())
  })

  getFor(timeout: Duration.Input): Effect.Effect<A, QueueEmptyError | QueueShutDownError | InvalidArgumentError> {
    return Effect.flatMap(validTimeout("Queue.getFor", timeout), (duration) =>
      Effect.suspend((): Effect.Effect<A, QueueEmptyError | QueueShutDownError> => {
        if (this.store.size > 0) return Effect.succeed(this.takeNow())
        if (this.isShutDown) return Effect.fail(shutDownGet())
        if (Duration.isZero(duration)) return Effect.fail(new QueueEmptyError())
        const waiter = makeWaiter<A>(undefined)
        if (!Duration.isFinite(duration)) return this.waitGet(waiter)
        return this.timed(this.waitGet<QueueEmptyError>(waiter), duration, () => this.timeOut(this.getters, waiter, new QueueEmptyError()))
      }))
  }

  /** Takes the next stored item; a freed slot goes to the longest-waiting putter. */
  private takeNow(): A {
    const item = this.store.take()
    if (this.putters.head !== undefined) this.servePutters()
    return item
  }

  /** Queues a getter; `E` is the error a timed wait's `expire` may resume it with. */
  private waitGet<E = never>(waiter: Waiter<A>): Effect.Effect<A, QueueShutDownError | E> {
    return this.enqueue<A, E>(this.getters, waiter, () => this.abandonGet(waiter))
  }

  private handToGetter(getter: Waiter<A>, item: A, seq: number): void {
    this.getters.unlink(getter)
    getter.state = GRANTED
    getter.item = item
    getter.seq = seq
    this.inFlight++
    wake(() => getter.resume!(Effect.suspend(() => this.receive(getter))))
  }

  /** A granted getter's fiber resumed: it has the item now. */
  private receive(waiter: Waiter<A>): Effect.Effect<A, QueueShutDownError> {
    waiter.state = DONE
    const item = waiter.item as A
    waiter.item = undefined
    // An immediate shutdown dropped the item (and counted it as done).
    if (this.dropped) return Effect.fail(shutDownGet())
    this.inFlight--
    if (this.putters.head !== undefined) this.servePutters()
    return Effect.succeed(item)
  }

  private abandonGet(waiter: Waiter<A>): void {
    const state = waiter.state
    waiter.state = DONE
    if (state === QUEUED) {
      this.getters.unlink(waiter)
    } else if (state === GRANTED) {
      // Interrupted after it was handed an item but before it resumed: the
      // item goes back to its place (or to the next getter in line).
      const item = waiter.item as A
      waiter.item = undefined
      if (this.dropped) return
      this.inFlight--
      const next = this.getters.head
      if (next === undefined) this.store.restore(item, waiter.seq)
      else this.handToGetter(next, item, waiter.seq)
    }
  }

  // --- the manager's hook ------------------------------------------------------

  /**
   * Get variants that also return the item's sequence number, and `restore`,
   * which puts an item taken that way back in its original place: a remote
   * getter whose caller was interrupted after the manager took the item gives
   * it back. Built on demand (the manager asks once per hosted queue).
   *
   * @internal
   */
  get [RemoteQueueId](): RemoteQueue<A> {
    const takeNow = (): Taken<A> => {
      const item = this.store.take()
      const seq = this.store.lastSeq
      if (this.putters.head !== undefined) this.servePutters()
      return { item, seq }
    }
    const wait = <E>(waiter: Waiter<A>, waiting: Effect.Effect<A, E>): Effect.Effect<Taken<A>, E> =>
      Effect.map(waiting, (item) => ({ item, seq: waiter.seq }))
    return {
      get: Effect.suspend(() => {
        if (this.store.size > 0) return Effect.succeed(takeNow())
        if (this.isShutDown) return Effect.fail(shutDownGet())
        const waiter = makeWaiter<A>(undefined)
        return wait(waiter, this.waitGet(waiter))
      }),
      getNowait: Effect.suspend((): Effect.Effect<Taken<A>, QueueEmptyError | QueueShutDownError> => {
        if (this.store.size > 0) return Effect.succeed(takeNow())
        if (this.isShutDown) return Effect.fail(shutDownGet())
        return Effect.fail(new QueueEmptyError())
      }),
      getFor: (timeout) =>
        Effect.flatMap(validTimeout("Queue.getFor", timeout), (duration) =>
          Effect.suspend((): Effect.Effect<Taken<A>, QueueEmptyError | QueueShutDownError> => {
            if (this.store.size > 0) return Effect.succeed(takeNow())
            if (this.isShutDown) return Effect.fail(shutDownGet())
            if (Duration.isZero(duration)) return Effect.fail(new QueueEmptyError())
            const waiter = makeWaiter<A>(undefined)
            if (!Duration.isFinite(duration)) return wait(waiter, this.waitGet(waiter))
            return wait(
              waiter,
              this.timed(this.waitGet<QueueEmptyError>(waiter), duration, () =>
                this.timeOut(this.getters, waiter, new QueueEmptyError()))
            )
          })),
      restore: (item, seq) =>
        Effect.sync(() => {
          if (this.dropped) {
            // An immediate shutdown dropped everything: this item is dropped
            // too, and counts as done (as the others did).
            if (this.unfinished > 0 && --this.unfinished === 0) this.wakeJoiners()
            return
          }
          // The unfinished-task count is untouched: the item was never done.
          const next = this.getters.head
          if (next === undefined) this.store.restore(item, seq)
          else this.handToGetter(next, item, seq)
        })
    }
  }

  // --- timed waits ---------------------------------------------------------

  /**
   * Runs `wait` with a timer that calls `expire` when it fires. The decision
   * "handed an item" vs "timed out" is taken once, in the queue's state, so a
   * waiter that times out was never handed anything. (A race of `wait` against
   * a sleep would not do: the item could reach a losing `wait` fiber.)
   */
  private timed<X, E>(
    wait: Effect.Effect<X, E>,
    duration: Duration.Duration,
    expire: () => void
  ): Effect.Effect<X, E> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        Effect.forkChild(Effect.andThen(Effect.sleep(duration), Effect.sync(expire)), { startImmediately: true }),
        (timer) => Effect.onExit(restore(wait), () => Fiber.interrupt(timer))
      )
    )
  }

  /** Ends a waiter that was unlinked without being served. */
  /** The timer of a timed wait fired: the waiter fails unless it was served first. */
  private timeOut(list: WaitList<Waiter<A>>, waiter: Waiter<A>, error: QueueFullError | QueueEmptyError): void {
    if (waiter.state !== QUEUED) return
    if (waiter.resume === undefined) {
      // The timer beat the waiter's registration (its fiber yielded in
      // between): it fails as soon as it registers.
      waiter.state = DONE
      waiter.failure = error
      return
    }
    list.unlink(waiter)
    this.expire(waiter, error)
  }

  private expire(waiter: Waiter<A>, error: QueueFullError | QueueEmptyError | QueueShutDownError): void {
    waiter.state = DONE
    waiter.item = undefined
    const resume = waiter.resume!
    wake(() => resume(Effect.fail(error)))
  }

  // --- sizes -----------------------------------------------------------------

  readonly size: Effect.Effect<number> = Effect.sync(() => this.store.size + this.inFlight)

  readonly isEmpty: Effect.Effect<boolean> = Effect.sync(() => this.store.size + this.inFlight === 0)

  readonly isFull: Effect.Effect<boolean> = Effect.sync(() => !this.hasRoom())

  // --- tasks -----------------------------------------------------------------

  readonly taskDone: Effect.Effect<void, TaskDoneError> = Effect.suspend(() => {
    if (this.unfinished <= 0) return Effect.fail(new TaskDoneError())
    this.unfinished--
    if (this.unfinished === 0) this.wakeJoiners()
    return Effect.void
  })

  readonly join: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.unfinished === 0) return resume(Effect.void)
    const joiner = () => resume(Effect.void)
    this.joiners.add(joiner)
    return Effect.sync(() => {
      this.joiners.delete(joiner)
    })
  })

  private wakeJoiners(): void {
    for (const joiner of this.joiners) wake(joiner)
    this.joiners.clear()
  }

  // --- shutdown --------------------------------------------------------------

  shutdown(options?: { readonly immediate?: boolean | undefined }): Effect.Effect<void> {
    return Effect.sync(() => {
      this.isShutDown = true
      if (options?.immediate === true) {
        this.dropped = true
        // Python: each dropped item counts as done, down to zero. Items handed
        // to getters that have not resumed are dropped too (`receive` fails).
        const dropped = this.store.size + this.inFlight
        this.store.clear()
        this.inFlight = 0
        this.unfinished = Math.max(0, this.unfinished - dropped)
        if (this.unfinished === 0) this.wakeJoiners()
      }
      this.failAll(this.getters, shutDownGet)
      this.failAll(this.putters, shutDownPut)
    })
  }

  private failAll(list: WaitList<Waiter<A>>, error: () => QueueShutDownError): void {
    let waiter = list.head
    while (waiter !== undefined) {
      list.unlink(waiter)
      this.expire(waiter, error())
      waiter = list.head
    }
  }
}

const maxsizeOf = (operation: string, maxsize: number | undefined): number | InvalidArgumentError => {
  if (maxsize === undefined) return 0
  return count(operation, "maxsize", maxsize, 0) ?? maxsize
}

const make = <A>(operation: string, maxsize: number | undefined, store: (maxsize: number) => Store<A>) =>
  Effect.suspend(() => {
    const size = maxsizeOf(operation, maxsize)
    return typeof size === "number"
      ? Effect.succeed<Queue<A>>(new QueueImpl(size, store(size)))
      : Effect.fail(size)
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
export const fifo = <A>(maxsize?: number): Effect.Effect<Queue<A>, InvalidArgumentError> =>
  make("Queue.fifo", maxsize, (size) => new FifoStore<A>(size))

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
export const lifo = <A>(maxsize?: number): Effect.Effect<Queue<A>, InvalidArgumentError> =>
  make("Queue.lifo", maxsize, () => new LifoStore<A>())

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
export const priority = <A>(order: Order.Order<A>, maxsize?: number): Effect.Effect<Queue<A>, InvalidArgumentError> =>
  typeof order === "function"
    ? make("Queue.priority", maxsize, () => new PriorityStore<A>(order))
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
export const shutdown = <A>(self: Queue<A>, options?: { readonly immediate?: boolean | undefined }): Effect.Effect<void> =>
  self.shutdown(options)
