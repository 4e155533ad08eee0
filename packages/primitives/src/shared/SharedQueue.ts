/**
 * A FIFO queue between worker threads, over a `SharedArrayBuffer` — Python's
 * `queue.Queue` (or `multiprocessing.Queue`) for `node:worker_threads`.
 *
 * What Effect gives: nothing at this scope (Effect has no SharedArrayBuffer
 * primitive; `effect/Queue` carries values between fibers of one thread, and a
 * worker's `postMessage` has no capacity, no blocking put and no `join`). What
 * Weft adds: the `Queue` interface (`put`, `putNowait`, `putFor`, `get`,
 * `getNowait`, `getFor`, `size`, `isEmpty`, `isFull`, `taskDone`, `join`,
 * `shutdown`) across threads, with a `handle` and `SharedQueue.attach(handle)`.
 *
 * Items are JSON-serializable values, copied as UTF-8 JSON through a ring
 * buffer in the SharedArrayBuffer (what comes out is what `JSON.parse` gives:
 * a `Date` arrives as a string). The buffer has `bytes` bytes (64 KiB unless
 * told); an item whose encoding does not fit is refused whole, never
 * truncated. Because `put`'s error type is shared with the fiber `Queue`, such
 * a refusal is a defect carrying `QueueItemTooLargeError` (or
 * `InvalidArgumentError` for a value JSON cannot carry, such as a function, a
 * `bigint` or a cycle): recover from it with `Effect.catchDefect`.
 *
 * Waiting: putters wait for a free place (`maxsize`) and then for buffer
 * bytes, getters for an item, each on a `SharedSemaphore`-style FIFO ticket
 * queue across all threads (so nobody starves), sleeping in
 * `Atomics.waitAsync` with the thread kept alive. An interrupted or timed-out
 * `put` puts nothing and gives back what it reserved; an interrupted `get` is
 * either before it took an item (nothing happens) or after (it is not
 * interruptible while it copies the item out), so no item is lost.
 *
 * Scopes: fiber: `Queue`; worker threads: this module; processes:
 * `manager.queue()`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { SharedQueue } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const jobs = yield* SharedQueue.make<{ url: string }>(100)
 *   new Worker(new URL("./crawler.ts", import.meta.url), { workerData: jobs.handle })
 *   yield* jobs.put({ url: "https://example.com" })
 *   yield* jobs.join // every job was taken and marked done
 * })
 *
 * // crawler.ts
 * const crawler = Effect.gen(function*() {
 *   const jobs = yield* SharedQueue.attach<{ url: string }>(workerData)
 *   while (true) {
 *     const job = yield* jobs.get
 *     yield* Effect.log(`crawl ${job.url}`)
 *     yield* jobs.taskDone
 *   }
 * })
 * ```
 *
 * @module
 */
import * as Effect from "effect/Effect"
import type * as Duration from "effect/Duration"
import {
  InvalidArgumentError,
  QueueEmptyError,
  QueueFullError,
  QueueItemTooLargeError,
  QueueShutDownError,
  TaskDoneError
} from "../errors.ts"
import { bindMethods } from "../internal/bind.ts"
import { stringify } from "../json.ts"
import { count, timeout as validTimeout } from "../validate.ts"
import type * as Queue from "../Queue.ts"
import { checkHandle, checkName, type Handle as AnyHandle, handleOf, hold, Kind, nameOf, unhold, waitOn } from "./internal/futex.ts"
import { BYTES as PERMITS_BYTES, type Seen, SharedPermits } from "./internal/SharedPermits.ts"
import type { Party } from "../inspect/Registry.ts"
import * as Registry from "../inspect/Registry.ts"

// Header words.
const MUTEX = 1
const COUNT = 2
const HEAD = 3
const TAIL = 4
const MAXSIZE = 5
const UNFINISHED = 6
const SHUTDOWN = 7
const DONE_GEN = 8
const CAPACITY = 9
const HEADER_BYTES = 64
/** Each record: a 4-byte length, then the UTF-8 JSON. */
const RECORD_HEADER = 4
/** Enough permits to let every waiter through after `shutdown`. */
const FLOOD = 1 << 28
const MAX_ITEMS = 1 << 27
const DEFAULT_BYTES = 64 * 1024
const MAX_BYTES = 1 << 27
const JOIN_TICK = 1000

/**
 * What crosses threads: structured-cloneable, turned back into a queue with
 * `SharedQueue.attach`.
 *
 * @example
 * ```ts
 * declare const queue: SharedQueue.SharedQueue<string>
 * new Worker(new URL("./worker.ts", import.meta.url), { workerData: queue.handle satisfies SharedQueue.Handle })
 * ```
 */
export type Handle = AnyHandle<"SharedQueue">

/**
 * A `Queue` shared between worker threads, plus its `handle`.
 *
 * @example
 * ```ts
 * const drain = <A>(queue: Queue.Queue<A>) => queue.getNowait
 * yield* drain(yield* SharedQueue.make<number>(10)) // a SharedQueue is a Queue
 * ```
 */
export interface SharedQueue<A> extends Queue.Queue<A> {
  /** Pass this to another thread and `attach` it there. */
  readonly handle: Handle
}

/**
 * Options for `make`.
 *
 * @example
 * ```ts
 * const queue = yield* SharedQueue.make<string>(10, { bytes: 1024 * 1024 })
 * ```
 */
export interface Options {
  /** The ring buffer's size in bytes (default 64 KiB); no item's JSON may be larger. */
  readonly bytes?: number | undefined
  /** The name `Inspect.snapshot` lists it under, in every thread that made or attached it. */
  readonly name?: string | undefined
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const shutDown = (operation: string) => new QueueShutDownError({ operation })

class SharedQueueImpl<A> implements SharedQueue<A> {
  readonly handle: Handle
  readonly header: Int32Array
  readonly data: Uint8Array
  readonly capacity: number
  readonly maxsize: number
  /** Items in the ring. */
  readonly items: SharedPermits
  /** Free places (maxsize; unbounded: a huge number). */
  readonly room: SharedPermits
  /** Free bytes in the ring. */
  readonly space: SharedPermits

  constructor(buffer: SharedArrayBuffer, name: string | undefined) {
    this.handle = handleOf("SharedQueue", buffer, name)
    this.header = new Int32Array(buffer, 0, HEADER_BYTES / 4)
    this.maxsize = Atomics.load(this.header, MAXSIZE)
    this.capacity = Atomics.load(this.header, CAPACITY)
    const at = (i: number) => new Int32Array(buffer, HEADER_BYTES + i * PERMITS_BYTES, PERMITS_BYTES / 4)
    this.items = new SharedPermits(at(0))
    this.room = new SharedPermits(at(1))
    this.space = new SharedPermits(at(2))
    this.data = new Uint8Array(buffer, HEADER_BYTES + 3 * PERMITS_BYTES, this.capacity)
    bindMethods(this, "put", "putNowait", "putFor", "getFor", "shutdown")
    const { header, items, maxsize, room, space } = this
    // Getters wait on `items`; putters on `room`, then on `space` (bytes).
    const party = (role: string) => (seen: Seen): Party => ({
      who: `thread ${seen.thread} (${role})`,
      thread: seen.thread,
      pid: process.pid,
      since: seen.since
    })
    Registry.register(this, { kind: "SharedQueue", scope: "thread", name }, () => ({
      holders: [],
      waiters: [...items.waiters().map(party("get")), ...room.waiters().map(party("put")), ...space.waiters().map(party("put"))],
      counts: {
        size: Atomics.load(header, COUNT),
        maxsize,
        getters: items.queued,
        putters: room.queued + space.queued,
        unfinished: Atomics.load(header, UNFINISHED)
      }
    }))
  }

  // --- the ring, under a short spin lock (a copy; never held across a wait)

  private lock(): void {
    const h = this.header
    while (Atomics.compareExchange(h, MUTEX, 0, 1) !== 0) {
      while (Atomics.load(h, MUTEX) !== 0) { /* spin: the holder is copying bytes */ }
    }
  }

  private unlock(): void {
    Atomics.store(this.header, MUTEX, 0)
  }

  private copyIn(at: number, bytes: Uint8Array): number {
    const cap = this.capacity
    const first = Math.min(bytes.length, cap - at)
    this.data.set(bytes.subarray(0, first), at)
    if (first < bytes.length) this.data.set(bytes.subarray(first), 0)
    return (at + bytes.length) % cap
  }

  private copyOut(at: number, length: number): Uint8Array {
    const cap = this.capacity
    const out = new Uint8Array(length)
    const first = Math.min(length, cap - at)
    out.set(this.data.subarray(at, at + first))
    if (first < length) out.set(this.data.subarray(0, length - first), first)
    return out
  }

  /** Appends a record; the caller reserved a place and its bytes. */
  private append(body: Uint8Array): void {
    const length = new Uint8Array(4)
    new DataView(length.buffer).setUint32(0, body.length)
    this.lock()
    const h = this.header
    let tail = Atomics.load(h, TAIL)
    tail = this.copyIn(tail, length)
    tail = this.copyIn(tail, body)
    Atomics.store(h, TAIL, tail)
    Atomics.add(h, COUNT, 1)
    Atomics.add(h, UNFINISHED, 1)
    this.unlock()
    this.items.release(1)
  }

  /** Removes the oldest record, or `undefined` when there is none; the caller took an `items` permit. */
  private remove(): A | undefined {
    const h = this.header
    this.lock()
    if (Atomics.load(h, COUNT) === 0) {
      this.unlock()
      return undefined
    }
    const head = Atomics.load(h, HEAD)
    const length = new DataView(this.copyOut(head, RECORD_HEADER).buffer).getUint32(0)
    const body = this.copyOut((head + RECORD_HEADER) % this.capacity, length)
    Atomics.store(h, HEAD, (head + RECORD_HEADER + length) % this.capacity)
    Atomics.sub(h, COUNT, 1)
    this.unlock()
    this.space.release(RECORD_HEADER + length)
    this.room.release(1)
    return JSON.parse(decoder.decode(body)) as A
  }

  private get isShutDown(): boolean {
    return Atomics.load(this.header, SHUTDOWN) !== 0
  }

  // --- put

  private encode(operation: string, item: A): Uint8Array {
    const json = stringify(`SharedQueue.${operation}`, item)
    if (typeof json !== "string") throw json
    const body = encoder.encode(json)
    if (body.length + RECORD_HEADER > this.capacity) {
      throw new QueueItemTooLargeError({ bytes: body.length + RECORD_HEADER, capacity: this.capacity })
    }
    return body
  }

  /** Encodes, or dies with the tagged error (see the module doc). */
  private encoded<E, R>(operation: string, item: A, then: (body: Uint8Array) => Effect.Effect<void, E, R>) {
    return Effect.suspend(() => {
      let body: Uint8Array
      try {
        body = this.encode(operation, item)
      } catch (error) {
        return Effect.die(error)
      }
      return then(body)
    })
  }

  /** Takes a place and the bytes (waiting in FIFO order), then appends. Puts nothing if interrupted. */
  private reserveAndAppend(body: Uint8Array): Effect.Effect<void, QueueShutDownError> {
    const bytes = body.length + RECORD_HEADER
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(this.room.take(1)), () =>
        Effect.flatMap(
          Effect.onInterrupt(restore(this.space.take(bytes)), () => Effect.sync(() => this.room.release(1))),
          () =>
            Effect.suspend(() => {
              if (this.isShutDown) {
                this.space.release(bytes)
                this.room.release(1)
                return Effect.fail(shutDown("put"))
              }
              this.append(body)
              return Effect.void
            })
        ))
    )
  }

  put(item: A): Effect.Effect<void, QueueShutDownError> {
    return this.encoded("put", item, (body) =>
      Effect.suspend(() => (this.isShutDown ? Effect.fail(shutDown("put")) : this.reserveAndAppend(body))))
  }

  putNowait(item: A): Effect.Effect<void, QueueFullError | QueueShutDownError> {
    return this.encoded("putNowait", item, (body) =>
      Effect.suspend((): Effect.Effect<void, QueueFullError | QueueShutDownError> => {
        if (this.isShutDown) return Effect.fail(shutDown("putNowait"))
        const bytes = body.length + RECORD_HEADER
        if (!this.room.tryTake(1)) return Effect.fail(new QueueFullError({ maxsize: this.maxsize }))
        if (!this.space.tryTake(bytes)) {
          this.room.release(1)
          return Effect.fail(new QueueFullError({ maxsize: this.maxsize }))
        }
        this.append(body)
        return Effect.void
      }))
  }

  putFor(item: A, timeout: Duration.Input): Effect.Effect<void, QueueFullError | QueueShutDownError | InvalidArgumentError> {
    return Effect.flatMap(validTimeout("SharedQueue.putFor", timeout), (duration) =>
      this.encoded("putFor", item, (body) =>
        Effect.suspend(() => {
          if (this.isShutDown) return Effect.fail(shutDown("putFor"))
          return Effect.flatMap(
            Effect.timeoutOption(this.reserveAndAppend(body), duration),
            (done): Effect.Effect<void, QueueFullError | QueueShutDownError> =>
              done._tag === "Some" ? Effect.void : Effect.fail(new QueueFullError({ maxsize: this.maxsize }))
          )
        })))
  }

  // --- get

  /** After an `items` permit: the item, or (shut down and drained) the permit goes back and the get fails. */
  private takeOne(operation: string): Effect.Effect<A, QueueShutDownError> {
    return Effect.suspend(() => {
      const item = this.remove()
      // JSON has no `undefined`, so `undefined` means "no item": only after a shutdown.
      if (item !== undefined) return Effect.succeed(item)
      this.items.release(1)
      return Effect.fail(shutDown(operation))
    })
  }

  readonly get: Effect.Effect<A, QueueShutDownError> = Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(this.items.take(1)), () => this.takeOne("get"))
  )

  readonly getNowait: Effect.Effect<A, QueueEmptyError | QueueShutDownError> = Effect.suspend((): Effect.Effect<
    A,
    QueueEmptyError | QueueShutDownError
  > => {
    if (!this.items.tryTake(1)) {
      return this.isShutDown ? Effect.fail(shutDown("getNowait")) : Effect.fail(new QueueEmptyError())
    }
    return this.takeOne("getNowait")
  })

  getFor(timeout: Duration.Input): Effect.Effect<A, QueueEmptyError | QueueShutDownError | InvalidArgumentError> {
    return Effect.flatMap(validTimeout("SharedQueue.getFor", timeout), (duration) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          restore(Effect.timeoutOption(this.items.take(1), duration)),
          (got): Effect.Effect<A, QueueEmptyError | QueueShutDownError> =>
            got._tag === "Some" ? this.takeOne("getFor") : Effect.fail(new QueueEmptyError())
        )
      ))
  }

  // --- counts, tasks, shutdown

  readonly size: Effect.Effect<number> = Effect.sync(() => Atomics.load(this.header, COUNT))

  readonly isEmpty: Effect.Effect<boolean> = Effect.sync(() => Atomics.load(this.header, COUNT) === 0)

  readonly isFull: Effect.Effect<boolean> = Effect.sync(() =>
    this.maxsize > 0 && Atomics.load(this.header, COUNT) >= this.maxsize
  )

  readonly taskDone: Effect.Effect<void, TaskDoneError> = Effect.suspend(() => {
    const h = this.header
    for (;;) {
      const n = Atomics.load(h, UNFINISHED)
      if (n <= 0) return Effect.fail(new TaskDoneError())
      if (Atomics.compareExchange(h, UNFINISHED, n, n - 1) !== n) continue
      if (n === 1) {
        Atomics.add(h, DONE_GEN, 1)
        Atomics.notify(h, DONE_GEN)
      }
      return Effect.void
    }
  })

  readonly join: Effect.Effect<void> = Effect.callback<void>((resume) => {
    const h = this.header
    let done = false
    const finish = () => {
      if (!done) {
        done = true
        unhold()
      }
    }
    const check = (): void => {
      if (done) return
      const gen = Atomics.load(h, DONE_GEN)
      if (Atomics.load(h, UNFINISHED) <= 0) {
        finish()
        return resume(Effect.void)
      }
      if (!waitOn(h, DONE_GEN, gen, JOIN_TICK, check)) check()
    }
    hold()
    check()
    return Effect.sync(finish)
  })

  shutdown(options?: Queue.ShutdownOptions): Effect.Effect<void> {
    return Effect.sync(() => {
      const h = this.header
      if (Atomics.compareExchange(h, SHUTDOWN, 0, 1) !== 0 && options?.immediate !== true) return
      Atomics.store(h, SHUTDOWN, 1)
      if (options?.immediate === true) {
        this.lock()
        const dropped = Atomics.load(h, COUNT)
        Atomics.store(h, COUNT, 0)
        Atomics.store(h, HEAD, Atomics.load(h, TAIL))
        this.unlock()
        // The dropped items' bytes and places are not given back: the queue is done.
        for (;;) {
          const n = Atomics.load(h, UNFINISHED)
          const left = Math.max(0, n - dropped)
          if (Atomics.compareExchange(h, UNFINISHED, n, left) !== n) continue
          if (left === 0) {
            Atomics.add(h, DONE_GEN, 1)
            Atomics.notify(h, DONE_GEN)
          }
          break
        }
      }
      // Wake every blocked getter and putter: each finds the queue shut down and fails.
      this.items.release(FLOOD)
      this.room.release(FLOOD)
      this.space.release(FLOOD)
    })
  }
}

/**
 * Creates a shared FIFO queue holding at most `maxsize` items (0: no limit on
 * the count), with a ring buffer of `options.bytes` bytes (default 64 KiB) for
 * their JSON. A bad `maxsize` or `bytes` fails with `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * const queue = yield* SharedQueue.make<string>(2)
 * yield* queue.put("a")
 * yield* queue.size // 1, in every thread that attached it
 * ```
 */
export const make = <A>(maxsize: number, options?: Options): Effect.Effect<SharedQueue<A>, InvalidArgumentError> =>
  Effect.suspend(() => {
    const bytes = options?.bytes ?? DEFAULT_BYTES
    const error = checkName("SharedQueue.make", options?.name) ?? count("SharedQueue.make", "maxsize", maxsize, 0) ??
      (maxsize > MAX_ITEMS
        ? new InvalidArgumentError({ operation: "SharedQueue.make", argument: "maxsize", value: maxsize, expected: `at most ${MAX_ITEMS}` })
        : undefined) ??
      count("SharedQueue.make", "options.bytes", bytes, 16) ??
      (bytes > MAX_BYTES
        ? new InvalidArgumentError({ operation: "SharedQueue.make", argument: "options.bytes", value: bytes, expected: `at most ${MAX_BYTES}` })
        : undefined)
    if (error) return Effect.fail(error)
    const buffer = new SharedArrayBuffer(HEADER_BYTES + 3 * PERMITS_BYTES + bytes)
    const header = new Int32Array(buffer, 0, HEADER_BYTES / 4)
    header[MAXSIZE] = maxsize
    header[CAPACITY] = bytes
    const at = (i: number) => new Int32Array(buffer, HEADER_BYTES + i * PERMITS_BYTES, PERMITS_BYTES / 4)
    at(0)[1] = 0
    at(1)[1] = maxsize === 0 ? MAX_ITEMS : maxsize
    at(2)[1] = bytes
    Atomics.store(header, 0, Kind.SharedQueue)
    return Effect.succeed<SharedQueue<A>>(new SharedQueueImpl<A>(buffer, options?.name))
  })

/**
 * Uses, in this thread, the queue whose `handle` another thread sent. Fails
 * with `InvalidArgumentError` when `handle` is not a `SharedQueue` handle.
 *
 * @example
 * ```ts
 * const jobs = yield* SharedQueue.attach<{ url: string }>(workerData)
 * const job = yield* jobs.get
 * ```
 */
export const attach = <A>(handle: Handle): Effect.Effect<SharedQueue<A>, InvalidArgumentError> =>
  Effect.suspend(() => {
    const checked = checkHandle("SharedQueue", handle, HEADER_BYTES + 3 * PERMITS_BYTES + 16)
    if (!(checked instanceof Int32Array)) return Effect.fail(checked)
    return Effect.succeed<SharedQueue<A>>(new SharedQueueImpl<A>(checked.buffer as SharedArrayBuffer, nameOf(handle)))
  })
