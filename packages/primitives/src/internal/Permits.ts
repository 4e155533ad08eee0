/**
 * A FIFO permit counter with direct hand-off: the core of `Lock`, `RLock` and
 * `Semaphore`.
 *
 * Why not Effect's `Semaphore`: it wakes every waiter that fits and lets them
 * race for the permits on the next `setImmediate`, so a contended hand-off
 * costs an event-loop turn and a smaller later request may overtake a larger
 * earlier one. Here `release` gives the permits to the head of the queue at
 * once (strict FIFO: nobody barges in, nobody starves) and wakes it on a
 * microtask (see `handoff.ts`).
 *
 * Interruption safety: a waiter that is interrupted before it was granted
 * leaves the queue; one interrupted after it was granted but before its fiber
 * resumed gives the permits back. Either way nothing stays taken.
 *
 * Exported as `@weft/primitives/Permits` for scopes built outside this
 * package: `@weft/cluster` queues a process's fibers with it before they wait
 * in PostgreSQL.
 *
 * @example
 * ```ts
 * import { Permits } from "@weft/primitives/Permits"
 *
 * const turn = new Permits(1)
 * if (!turn.tryTake(1)) yield* turn.wait(1) // FIFO behind the holder
 * turn.release(1) // hands the permit to the next in line, if any
 * ```
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { InvalidArgumentError } from "../errors.ts"
import { wake } from "./handoff.ts"
import { within } from "./within.ts"
import { type Link, WaitList } from "./WaitList.ts"

interface Waiter extends Link<Waiter> {
  readonly n: number
  /** Higher goes first; equal priorities keep arrival order (FIFO). */
  readonly priority: number
  readonly resume: () => void
  /** How `cancel` fails this waiter; `undefined` for waits that cannot fail (they keep their place). */
  readonly fail: ((error: unknown) => void) | undefined
  granted: boolean
  /** The free count just before this waiter was served (async-mutex's semaphore value). */
  seen: number
}

/** A wait for the moment `n` permits could be taken, without taking them. */
interface Watcher extends Link<Watcher> {
  readonly n: number
  readonly priority: number
  readonly resume: () => void
}

/** A FIFO permit counter with direct hand-off (see the module's doc). */
export class Permits {
  free: number
  private readonly queue = new WaitList<Waiter>()
  /** Waits for "could take now" (`whenFree`); empty on the hot path, checked by one field read. */
  private readonly watchers = new WaitList<Watcher>()

  constructor(free: number) {
    this.free = free
  }

  /** How many requests wait. */
  get waiting(): number {
    return this.queue.size
  }

  /** Takes `n` permits if they are free and nobody is queued ahead. */
  tryTake(n: number): boolean {
    const head = this.queue.head
    if ((head === undefined || head.priority < 0) && this.free >= n) {
      this.free -= n
      return true
    }
    return false
  }

  /**
   * Takes `n` permits if they are free and nobody of `priority` or higher is
   * queued ahead (a request of higher priority than every waiter goes first).
   */
  tryTakeAt(n: number, priority: number): boolean {
    if (this.couldTake(n, priority)) {
      this.free -= n
      return true
    }
    return false
  }

  /** Whether a request for `n` permits at `priority` would be served right now. */
  couldTake(n: number, priority: number): boolean {
    const head = this.queue.head
    return (head === undefined || head.priority < priority) && this.free >= n
  }

  /** Takes `n` permits, waiting in FIFO order. */
  take(n: number): Effect.Effect<void> {
    return Effect.suspend(() => (this.tryTake(n) ? Effect.void : this.wait(n)))
  }

  /** Queues for `n` permits; the caller already failed `tryTake`. */
  wait(n: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.tryTake(n)) return resume(Effect.void)
      const waiter = this.enqueue(n, 0, () => resume(Effect.void), undefined)
      return Effect.sync(() => this.abandon(waiter))
    })
  }

  /**
   * Takes `n` permits at `priority` (higher first, equal priorities FIFO).
   * `cancel(error)` fails a pending one with `onCancel(error)`.
   */
  takeAt<E>(n: number, priority: number, onCancel: (error: unknown) => E): Effect.Effect<void, E> {
    return Effect.callback<void, E>((resume) => {
      if (this.tryTakeAt(n, priority)) return resume(Effect.void)
      const waiter = this.enqueue(n, priority, () => resume(Effect.void), (error) => resume(Effect.fail(onCancel(error))))
      return Effect.sync(() => this.abandon(waiter))
    })
  }

  /**
   * Queues for `n` permits outside of a fiber (the Promise face): resolves
   * once they are taken for the caller, in the same FIFO queue as the fibers.
   * The caller already failed `tryTake`; such a wait cannot be abandoned.
   */
  waitPromise(n: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.enqueue(n, 0, resolve, reject)
    })
  }

  /**
   * `waitPromise` at `priority`, resolving with the free count just before
   * the permits were taken; `cancel(error)` rejects it with `error`.
   * `abandon`, when given, receives a function that leaves the queue (or gives
   * the permits back if they were already granted), for a timed wait.
   */
  waitPromiseAt(n: number, priority: number, abandon?: (leave: () => void) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = this.enqueue(n, priority, () => resolve(waiter.seen), reject)
      if (abandon !== undefined) abandon(() => this.abandon(waiter))
    })
  }

  /**
   * Waits until `n` permits at `priority` could be taken, without taking them
   * (async-mutex's `waitForUnlock`). Nothing guarantees they are still free
   * once the waiter runs.
   */
  whenFree(n: number, priority: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.couldTake(n, priority)) return resume(Effect.void)
      const watcher = this.watch(n, priority, () => resume(Effect.void))
      return Effect.sync(() => {
        if (watcher.prev !== undefined || this.watchers.head === watcher) this.watchers.unlink(watcher)
      })
    })
  }

  /** `whenFree` for Promise code. */
  whenFreePromise(n: number, priority: number): Promise<void> {
    if (this.couldTake(n, priority)) return Promise.resolve()
    return new Promise((resolve) => {
      this.watch(n, priority, resolve)
    })
  }

  /**
   * Fails every pending request that can fail (Promise waits and `takeAt`)
   * with `error`; returns how many. Permits already held stay held; waits
   * that cannot fail (`take`, `wait`) keep their place.
   */
  cancel(error: unknown): number {
    let cancelled = 0
    let waiter = this.queue.head
    while (waiter !== undefined) {
      const next = waiter.next
      if (waiter.fail !== undefined) {
        this.queue.unlink(waiter)
        waiter.fail(error)
        cancelled++
      }
      waiter = next
    }
    this.dispatch()
    return cancelled
  }

  /** Sets the free count to `n` (may be negative) and serves the queue (async-mutex's `setValue`). */
  set(n: number): void {
    this.free = n
    this.dispatch()
  }

  /**
   * Waits at most `timeout` for `n` permits; `true` if they were taken. A bad
   * timeout fails even when the permits are free.
   */
  takeWithin(operation: string, n: number, timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return within(operation, timeout, this.wait(n), () => this.tryTake(n))
  }

  /**
   * Returns `n` permits unless that would make more than `limit` free; then
   * changes nothing and returns how many are free.
   */
  releaseUpTo(n: number, limit: number): number | undefined {
    if (this.free + n > limit) return this.free
    this.release(n)
    return undefined
  }

  /** Returns `n` permits and hands them on to the queue. */
  release(n: number): void {
    this.free += n
    if (this.queue.head !== undefined || this.watchers.head !== undefined) this.dispatch()
  }

  /**
   * A function that returns `n` permits the first time it is called and does
   * nothing after: a releaser handed to a user releases exactly the hold it
   * was given, never someone else's.
   */
  releaser(n: number): () => void {
    let held = true
    return () => {
      if (held) {
        held = false
        this.release(n)
      }
    }
  }

  private enqueue(n: number, priority: number, resume: () => void, fail: Waiter["fail"]): Waiter {
    const waiter: Waiter = { n, priority, resume, fail, granted: false, seen: 0, prev: undefined, next: undefined }
    insertByPriority(this.queue, waiter)
    return waiter
  }

  private watch(n: number, priority: number, resume: () => void): Watcher {
    const watcher: Watcher = { n, priority, resume, prev: undefined, next: undefined }
    insertByPriority(this.watchers, watcher)
    return watcher
  }

  private dispatch(): void {
    if (this.watchers.head !== undefined) this.notifyWatchers()
    let waiter = this.queue.head
    while (waiter !== undefined && waiter.n <= this.free) {
      waiter.seen = this.free
      this.free -= waiter.n
      this.queue.unlink(waiter)
      waiter.granted = true
      wake(waiter.resume)
      if (this.watchers.head !== undefined) this.notifyWatchers()
      waiter = this.queue.head
    }
  }

  /** Wakes each watcher whose request could be served right now. */
  private notifyWatchers(): void {
    let watcher = this.watchers.head
    while (watcher !== undefined) {
      const next = watcher.next
      if (this.couldTake(watcher.n, watcher.priority)) {
        this.watchers.unlink(watcher)
        wake(watcher.resume)
      }
      watcher = next
    }
  }

  private abandon(waiter: Waiter): void {
    if (waiter.granted) {
      waiter.granted = false
      this.release(waiter.n)
    } else if (waiter.prev !== undefined || this.queue.head === waiter) {
      this.queue.unlink(waiter)
      // A large request at the head may have blocked smaller ones behind it.
      if (this.queue.head !== undefined || this.watchers.head !== undefined) this.dispatch()
    }
  }
}

/** Inserts `item` behind every item of equal or higher priority: FIFO within a priority. */
const insertByPriority = <W extends Link<W> & { readonly priority: number }>(list: WaitList<W>, item: W): void => {
  let after = list.tail
  // With one priority in use (the default), the tail is the spot: one comparison.
  while (after !== undefined && after.priority < item.priority) after = after.prev
  list.insertAfter(after, item)
}

/**
 * How the Promise face (`Promised.ts`) finds the `Permits` of a fiber-scope
 * `Lock` or `Semaphore`, to take them without starting a fiber. Keyed by a
 * symbol so that nothing public exports it.
 *
 * @internal
 */
export const PermitsId: unique symbol = Symbol.for("@weft/primitives/Permits")

/** @internal */
export interface PermitsHook {
  readonly permits: Permits
  /**
   * Whether the primitive is named: then its operations go through its
   * effects, which track them (as they do for any one under lock-order checking).
   */
  readonly named: boolean
  /** Whether `k` is a request this primitive accepts (else the slow path reports the error). */
  valid(k: number): boolean
}

/** @internal */
export const permitsOf = (primitive: unknown): PermitsHook | undefined =>
  typeof primitive === "object" && primitive !== null && PermitsId in primitive
    ? (primitive as { readonly [PermitsId]: PermitsHook })[PermitsId]
    : undefined
