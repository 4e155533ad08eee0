/**
 * The fiber `Queue` itself: who waits, who is served, and the hand-off
 * between them (the orders live in `QueueStore.ts`, the interface and the
 * constructors in `../Queue.ts`). See `../Queue.ts` for the rules it keeps:
 * FIFO among waiting getters and putters, direct hand-off, nothing lost to
 * an interruption, Python's counting and `shutdown`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import {
  type InvalidArgumentError,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
  TaskDoneError
} from "../errors.ts"
import type { Queue, ShutdownOptions } from "../Queue.ts"
import { timeout as validTimeout } from "../validate.ts"
import { bindMethods } from "./bind.ts"
import { wake } from "./handoff.ts"
import type { Store } from "./QueueStore.ts"
import { type RemoteQueue, RemoteQueueId, type Taken } from "./remoteQueue.ts"
import { type Link, WaitList } from "./WaitList.ts"

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

/** @internal */
export class QueueImpl<A> implements Queue<A> {
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

  /** Its entry in the registry (kept alive by the queue). */
  tracker: unknown = undefined

  /** What `Inspect` shows of the queue: its size, bound, and who waits on each side. */
  counts(): Record<string, number> {
    return {
      size: this.store.size + this.inFlight,
      maxsize: this.maxsize,
      getters: this.getters.size,
      putters: this.putters.size,
      unfinished: this.unfinished
    }
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

  shutdown(options?: ShutdownOptions): Effect.Effect<void> {
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
