/**
 * A counting semaphore for fibers — Python's `threading.Semaphore` and
 * `threading.BoundedSemaphore`.
 *
 * What Effect gives: `effect/Semaphore` counts permits and is
 * interruption-safe, but it has no timed acquire, lets a smaller later request
 * overtake a larger earlier one, has no bound on `release`, and each contended
 * hand-off costs a `setImmediate`. What Weft adds: `acquireFor`, `available`,
 * strict FIFO order (no request starves), a direct hand-off to the next
 * waiter, and `bounded(n)`, whose `release` above `n` fails with
 * `SemaphoreOverflowError`.
 *
 * Scopes: fiber (this module); worker threads: `SharedSemaphore`; processes:
 * `manager.semaphore(n)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Semaphore } from "@weft/primitives"
 *
 * // The KTV from the tutorial: 4 rooms, 10 groups; never more than 4 inside.
 * const program = Effect.gen(function*() {
 *   const rooms = yield* Semaphore.make(4)
 *   yield* Effect.forEach(
 *     Array.from({ length: 10 }, (_, i) => i),
 *     (group) => rooms.withPermits(1)(Effect.log(`group ${group} sings`).pipe(Effect.delay("1 second"))),
 *     { concurrency: "unbounded" }
 *   )
 * })
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { InvalidArgumentError, SemaphoreOverflowError, WaitCancelledError } from "./errors.ts"
import { bindMethods } from "./internal/bind.ts"
import { PermitSemaphore } from "./internal/PermitSemaphore.ts"
import { type Source, Tracker } from "./internal/track.ts"
import { Permits, PermitsId, type PermitsHook } from "./internal/Permits.ts"
import { count, priority as checkPriority } from "./validate.ts"

/**
 * The semaphore interface, shared by every scope: `Semaphore`,
 * `SharedSemaphore` and a manager's `semaphore(n)` implement it.
 *
 * @example
 * ```ts
 * const limited = (sem: Semaphore.Semaphore) => sem.withPermits(1)(Effect.log("one of n"))
 * ```
 */
export interface Semaphore {
  /** Waits (FIFO) for `k` permits (default 1), then takes them. */
  acquire(k?: number): Effect.Effect<void, InvalidArgumentError>
  /** Takes `k` permits if they are free right now and nobody waits ahead; never waits. */
  tryAcquire(k?: number): Effect.Effect<boolean, InvalidArgumentError>
  /** Waits at most `timeout` for `k` permits; `true` if they were taken. */
  acquireFor(timeout: Duration.Input, k?: number): Effect.Effect<boolean, InvalidArgumentError>
  /**
   * Returns `k` permits. A bounded semaphore fails with
   * `SemaphoreOverflowError` (and changes nothing) when that would exceed its
   * initial count.
   */
  release(k?: number): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError>
  /** Runs `effect` holding `k` permits, and returns them however it ends. */
  withPermits(k: number): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidArgumentError, R>
  /** The permits free right now. */
  readonly available: Effect.Effect<number>
}

/**
 * Options of a wait on a fiber-scope `Semaphore`.
 *
 * @example
 * ```ts
 * const sem = yield* Semaphore.make(2)
 * yield* sem.acquireWith({ permits: 2, priority: 10 })
 * ```
 */
export interface WaitOptions {
  /** How many permits (default 1). */
  readonly permits?: number | undefined
  /** Higher is served first; equal priorities stay FIFO. Any finite number; default 0. */
  readonly priority?: number | undefined
}

/**
 * What the fiber-scope `Semaphore` adds to the interface of every scope:
 * waits with a priority, cancelling the pending waiters, and waiting until
 * permits could be taken without taking them.
 *
 * @example
 * ```ts
 * const sem = yield* Semaphore.make(0)
 * const urgent = yield* Effect.forkChild(sem.acquireWith({ permits: 2, priority: 1 }))
 * yield* sem.cancelWaiters("closing") // urgent fails with WaitCancelledError
 * ```
 */
export interface FiberSemaphore extends Semaphore {
  /**
   * Waits for the permits ahead of every waiter of lower priority, then takes
   * them. Fails with `WaitCancelledError` if `cancelWaiters` ends the wait.
   */
  acquireWith(options: WaitOptions): Effect.Effect<void, WaitCancelledError | InvalidArgumentError>
  /** Waits until the permits could be taken at this priority, without taking them. */
  waitUntilFree(options?: WaitOptions): Effect.Effect<void, InvalidArgumentError>
  /**
   * Fails every pending `acquireWith` with `WaitCancelledError` carrying
   * `reason` (a Promise-face wait rejects with `reason` itself); returns how
   * many. Held permits stay held; `acquire` and `withPermits` waits keep their
   * place.
   */
  cancelWaiters(reason?: unknown): Effect.Effect<number>
}

// Module-level, so that no closure of the constructor (which close over
// `this`) keeps the semaphore alive from the registry.
const semaphoreSource: Source<SemaphoreImpl> = {
  counts: (self) => ({ free: self.permits.free, permits: self.initial, waiting: self.permits.waiting }),
  held: (self) => self.permits.free < self.initial,
  waiting: (self) => self.permits.waiting
}

class SemaphoreImpl extends PermitSemaphore implements FiberSemaphore {
  readonly [PermitsId]: PermitsHook
  readonly permits: Permits

  constructor(initial: number, bounded: boolean, name: string | undefined) {
    const permits = new Permits(initial)
    super(bounded ? "BoundedSemaphore" : "Semaphore", permits, initial, bounded)
    this.permits = permits
    this.tracker = new Tracker(this, this.name, name, semaphoreSource, { ordered: true })
    this[PermitsId] = {
      permits,
      valid: (k) => this.check("withPermits", k) === undefined,
      named: this.tracker!.profile !== undefined
    }
    bindMethods(this, "acquireWith", "waitUntilFree", "cancelWaiters")
  }

  private checkWait(operation: string, options: WaitOptions): InvalidArgumentError | undefined {
    return this.check(operation, options.permits ?? 1) ?? checkPriority(`${this.name}.${operation}`, options.priority)
  }

  acquireWith(options: WaitOptions): Effect.Effect<void, WaitCancelledError | InvalidArgumentError> {
    const error = this.checkWait("acquireWith", options)
    if (error) return Effect.fail(error)
    const k = options.permits ?? 1
    const priority = options.priority ?? 0
    const take = this.permits.takeAt(k, priority, (reason) => new WaitCancelledError({ primitive: this.name, reason }))
    const tracker = this.tracker!
    return Effect.suspend(() => tracker.active ? tracker.acquire(k, () => this.permits.tryTakeAt(k, priority), take) : take)
  }

  waitUntilFree(options: WaitOptions = {}): Effect.Effect<void, InvalidArgumentError> {
    const error = this.checkWait("waitUntilFree", options)
    return error ? Effect.fail(error) : this.permits.whenFree(options.permits ?? 1, options.priority ?? 0)
  }

  cancelWaiters(reason?: unknown): Effect.Effect<number> {
    return Effect.sync(() => this.permits.cancel(reason))
  }
}

/**
 * Options of `make` and `bounded`.
 *
 * @example
 * ```ts
 * const slots = yield* Semaphore.make(4, { name: "downloads" })
 * ```
 */
export interface Options {
  /** Lists it by `Inspect.snapshot` with holders, waiters and contention (also as Effect metrics); lock-order checking uses it as the class. */
  readonly name?: string | undefined
}

const makeWith = (operation: string, permits: number, bounded: boolean, options: Options | undefined) =>
  Effect.suspend(() => {
    const error = count(operation, "permits", permits, 0)
    return error ? Effect.fail(error) : Effect.succeed<FiberSemaphore>(new SemaphoreImpl(permits, bounded, options?.name))
  })

/**
 * Creates a semaphore with `permits` free permits (an integer >= 0).
 * `release` may raise the count above `permits`, as in Python.
 *
 * @example
 * ```ts
 * const sem = yield* Semaphore.make(2)
 * yield* sem.acquire()
 * yield* sem.available // 1
 * ```
 */
export const make = (permits: number, options?: Options): Effect.Effect<FiberSemaphore, InvalidArgumentError> =>
  makeWith("Semaphore.make", permits, false, options)

/**
 * Creates a bounded semaphore: like `make`, but a `release` that would raise
 * the count above `permits` fails with `SemaphoreOverflowError` — the usual
 * sign of a release without a matching acquire.
 *
 * @example
 * ```ts
 * const sem = yield* Semaphore.bounded(1)
 * yield* Effect.flip(sem.release()) // SemaphoreOverflowError
 * ```
 */
export const bounded = (permits: number, options?: Options): Effect.Effect<FiberSemaphore, InvalidArgumentError> =>
  makeWith("Semaphore.bounded", permits, true, options)

// ---------------------------------------------------------------------------
// Module functions: the instance members as functions, for any scope's
// semaphore (`SharedSemaphore` and `manager.semaphore(n)` too), following
// Effect's own `Semaphore` module.

// Tells the data-first call from the data-last one.
const isSemaphoreLike = (u: unknown): boolean => typeof u === "object" && u !== null && "withPermits" in u

/**
 * `sem.acquire(k)`: `Semaphore.acquire(sem, k?)` or `pipe(sem, Semaphore.acquire(k))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Semaphore } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const sem = yield* Semaphore.make(3)
 *   yield* Semaphore.acquire(sem, 2)
 *   return yield* Semaphore.available(sem) // 1
 * })
 * ```
 */
export const acquire: {
  (k?: number): (self: Semaphore) => Effect.Effect<void, InvalidArgumentError>
  (self: Semaphore, k?: number): Effect.Effect<void, InvalidArgumentError>
} = dual((args) => isSemaphoreLike(args[0]), (self: Semaphore, k?: number) => self.acquire(k))

/**
 * `sem.tryAcquire(k)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Semaphore } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Semaphore.make(1), (sem) => Semaphore.tryAcquire(sem)) // true
 * ```
 */
export const tryAcquire: {
  (k?: number): (self: Semaphore) => Effect.Effect<boolean, InvalidArgumentError>
  (self: Semaphore, k?: number): Effect.Effect<boolean, InvalidArgumentError>
} = dual((args) => isSemaphoreLike(args[0]), (self: Semaphore, k?: number) => self.tryAcquire(k))

/**
 * `sem.acquireFor(timeout, k)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { Effect, pipe } from "effect"
 * import { Semaphore } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const sem = yield* Semaphore.make(0)
 *   return yield* pipe(sem, Semaphore.acquireFor("10 millis")) // false
 * })
 * ```
 */
export const acquireFor: {
  (timeout: Duration.Input, k?: number): (self: Semaphore) => Effect.Effect<boolean, InvalidArgumentError>
  (self: Semaphore, timeout: Duration.Input, k?: number): Effect.Effect<boolean, InvalidArgumentError>
} = dual(
  (args) => isSemaphoreLike(args[0]),
  (self: Semaphore, timeout: Duration.Input, k?: number) => self.acquireFor(timeout, k)
)

/**
 * `sem.release(k)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Semaphore } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Semaphore.bounded(1), (sem) => Effect.flip(Semaphore.release(sem))) // SemaphoreOverflowError
 * ```
 */
export const release: {
  (k?: number): (self: Semaphore) => Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError>
  (self: Semaphore, k?: number): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError>
} = dual((args) => isSemaphoreLike(args[0]), (self: Semaphore, k?: number) => self.release(k))

/**
 * Runs an effect holding `k` permits of `self`, as Effect's
 * `Semaphore.withPermits`: `Semaphore.withPermits(sem, k, effect)`, or
 * `effect.pipe(Semaphore.withPermits(sem, k))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Semaphore } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const sem = yield* Semaphore.make(2)
 *   const a = yield* Semaphore.withPermits(sem, 2, Effect.succeed(1))
 *   const b = yield* Effect.succeed(2).pipe(Semaphore.withPermits(sem, 1))
 *   return a + b
 * })
 * ```
 */
export const withPermits: {
  (self: Semaphore, k: number): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidArgumentError, R>
  <A, E, R>(self: Semaphore, k: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | InvalidArgumentError, R>
} = (<A, E, R>(self: Semaphore, k: number, effect?: Effect.Effect<A, E, R>) =>
  effect === undefined ? self.withPermits(k) : self.withPermits(k)(effect)) as any

/**
 * `sem.available` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Semaphore } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Semaphore.make(4), Semaphore.available) // 4
 * ```
 */
export const available = (self: Pick<Semaphore, "available">): Effect.Effect<number> => self.available
