/**
 * A mutual-exclusion lock for fibers — Python's `threading.Lock`.
 *
 * What Effect gives: `Semaphore.make(1)` is a lock without a timed acquire, a
 * `locked` query or an error for a release of an unlocked lock, and each
 * contended hand-off costs one `setImmediate`. What Weft adds: the Python
 * interface, strict FIFO order, and a direct hand-off to the next waiter (about
 * twice Effect's contended throughput; see `bench/RESULTS.md`).
 *
 * Like Python's `Lock` (and unlike `RLock`), a `Lock` has no owner: any fiber
 * may release it, and a fiber that acquires it twice waits for itself.
 *
 * Scopes: fiber (this module); worker threads: `SharedLock`; processes:
 * `manager.lock()` and `FileLock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Lock.make
 *   let balance = 100
 *   const withdraw = (n: number) =>
 *     lock.withLock(Effect.sync(() => { if (balance >= n) balance -= n }))
 *   yield* Effect.all([withdraw(70), withdraw(70)], { concurrency: "unbounded" })
 *   return balance // 30: the second withdrawal saw the first
 * })
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import { type InvalidArgumentError, NotHeldError, WaitCancelledError } from "./errors.ts"
import { type ConditionLock, ConditionLockId } from "./internal/ownership.ts"
import { bindMethods } from "./internal/bind.ts"
import { guarded } from "./internal/guard.ts"
import { Permits, PermitsId, type PermitsHook } from "./internal/Permits.ts"
import { type Source, Tracker } from "./internal/track.ts"
import { lockdep } from "./Lockdep.ts"
import { within } from "./internal/within.ts"
import { priority as checkPriority } from "./validate.ts"

/**
 * The lock interface, shared by every scope: `Lock`, `SharedLock`, a
 * manager's `lock()` and `FileLock` all implement it.
 *
 * @example
 * ```ts
 * const critical = (lock: Lock.Lock) => lock.withLock(Effect.log("only me"))
 * ```
 */
export interface Lock {
  /** Waits (FIFO) until the lock is free, then takes it. */
  readonly acquire: Effect.Effect<void>
  /** Takes the lock if it is free right now; `false` otherwise. Never waits. */
  readonly tryAcquire: Effect.Effect<boolean>
  /** Waits at most `timeout` for the lock; `true` if it was taken. */
  acquireFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError>
  /** Releases the lock; fails with `NotHeldError` when it is not locked. */
  readonly release: Effect.Effect<void, NotHeldError>
  /** Runs `effect` holding the lock, and releases it however `effect` ends. */
  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
  /** Whether the lock is held right now. */
  readonly locked: Effect.Effect<boolean>
}

/**
 * Options of a wait on a fiber-scope `Lock`.
 *
 * @example
 * ```ts
 * const lock = yield* Lock.make
 * yield* lock.acquireWith({ priority: 10 }) // ahead of every waiter below 10
 * ```
 */
export interface WaitOptions {
  /** Higher is served first; equal priorities stay FIFO. Any finite number; default 0. */
  readonly priority?: number | undefined
}

/**
 * What the fiber-scope `Lock` adds to the interface of every scope: waits
 * with a priority, cancelling the pending waiters, and waiting until the lock
 * could be taken without taking it (what async-mutex offers; its drop-in,
 * `@weft/primitives/compat/async-mutex`, is built on these).
 *
 * @example
 * ```ts
 * const lock = yield* Lock.make
 * yield* lock.acquire
 * const urgent = yield* Effect.forkChild(lock.acquireWith({ priority: 1 }))
 * yield* lock.cancelWaiters("shutting down") // urgent fails with WaitCancelledError
 * ```
 */
export interface FiberLock extends Lock {
  /**
   * Waits for the lock ahead of every waiter of lower priority, then takes it.
   * Fails with `WaitCancelledError` if `cancelWaiters` ends the wait first.
   */
  acquireWith(options: WaitOptions): Effect.Effect<void, WaitCancelledError | InvalidArgumentError>
  /**
   * Waits until the lock could be taken at this priority, without taking it.
   * Nothing guarantees it is still free once the fiber runs on.
   */
  waitUntilFree(options?: WaitOptions): Effect.Effect<void, InvalidArgumentError>
  /**
   * Fails every pending `acquireWith` with `WaitCancelledError` carrying
   * `reason` (a Promise-face wait rejects with `reason` itself); returns how
   * many. The holder keeps
   * the lock, and waits that cannot fail (`acquire`, `withLock`) keep their
   * place.
   */
  cancelWaiters(reason?: unknown): Effect.Effect<number>
}

// Module-level, so that no closure of the constructor keeps the lock alive from the registry.
const lockSource: Source<LockImpl> = {
  counts: () => ({}),
  held: (self) => self.permits.free === 0,
  waiting: (self) => self.permits.waiting
}

class LockImpl implements FiberLock {
  readonly permits = new Permits(1)
  readonly tracker: Tracker

  constructor(name: string | undefined) {
    const permits = this.permits
    this.tracker = new Tracker(this, "Lock", name, lockSource, { ordered: true, exclusive: true, relock: true })
    this.guard = guarded(permits, 1, this.tracker)
    bindMethods(this, "acquireFor", "withLock", "acquireWith", "waitUntilFree", "cancelWaiters")
  }

  acquireWith(options: WaitOptions): Effect.Effect<void, WaitCancelledError | InvalidArgumentError> {
    const error = checkPriority("Lock.acquireWith", options.priority)
    if (error) return Effect.fail(error)
    const priority = options.priority ?? 0
    const take = this.permits.takeAt(1, priority, (reason) => new WaitCancelledError({ primitive: "Lock", reason }))
    return Effect.suspend(() =>
      this.tracker.active ? this.tracker.acquire(1, () => this.permits.tryTakeAt(1, priority), take) : take
    )
  }

  waitUntilFree(options: WaitOptions = {}): Effect.Effect<void, InvalidArgumentError> {
    const error = checkPriority("Lock.waitUntilFree", options.priority)
    return error ? Effect.fail(error) : this.permits.whenFree(1, options.priority ?? 0)
  }

  cancelWaiters(reason?: unknown): Effect.Effect<number> {
    return Effect.sync(() => this.permits.cancel(reason))
  }

  private readonly tryTake = (): boolean => this.permits.tryTake(1)

  private readonly wait1: Effect.Effect<void> = this.permits.wait(1)

  readonly acquire: Effect.Effect<void> = Effect.suspend(() =>
    this.tracker.profile !== undefined || lockdep.on
      ? this.tracker.acquire(1, this.tryTake, this.wait1)
      : this.permits.tryTake(1)
      ? Effect.void
      : this.permits.wait(1)
  )

  readonly tryAcquire: Effect.Effect<boolean> = Effect.sync(() => {
    if (!this.permits.tryTake(1)) return false
    if (this.tracker.active) this.tracker.enter(Fiber.getCurrent(), 1, undefined)
    return true
  })

  acquireFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return Effect.suspend(() => {
      if (!this.tracker.active) return within("Lock.acquireFor", timeout, this.permits.wait(1), this.tryTake)
      // Tracked: a timed wait never hangs, so only the order is checked (not a relock).
      const fiber = Fiber.getCurrent()
      const error = this.tracker.check(fiber, false)
      if (error !== undefined) return Effect.die(error)
      return within("Lock.acquireFor", timeout, this.tracker.waitThenEnter(fiber, 1, this.permits.wait(1), () => {}), () => {
        if (!this.permits.tryTake(1)) return false
        this.tracker.enter(fiber, 1, undefined)
        return true
      })
    })
  }

  readonly release: Effect.Effect<void, NotHeldError> = Effect.suspend(() => {
    if (this.permits.free !== 0) return Effect.fail(new NotHeldError({ primitive: "Lock", operation: "release" }))
    if (this.tracker.holds.length > 0) this.tracker.exitCurrent()
    this.permits.release(1)
    return Effect.void
  })

  private readonly guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

  get [PermitsId](): PermitsHook {
    return { permits: this.permits, valid: (k) => k === 1, named: this.tracker.profile !== undefined }
  }

  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.guard(effect)
  }

  readonly locked: Effect.Effect<boolean> = Effect.sync(() => this.permits.free === 0)

  readonly [ConditionLockId]: ConditionLock = {
    owned: this.locked,
    releaseSave: Effect.sync(() => {
      if (this.tracker.holds.length > 0) this.tracker.exitCurrent()
      this.permits.release(1)
      return 1
    }),
    restore: () => this.acquire
  }
}

/**
 * Creates an unlocked `Lock`.
 *
 * @example
 * ```ts
 * const lock = yield* Lock.make
 * yield* lock.acquire
 * yield* lock.locked // true
 * yield* lock.release
 * ```
 */
export const make: Effect.Effect<FiberLock> = Effect.sync(() => new LockImpl(undefined))

/**
 * Creates an unlocked `Lock` with a name: it is listed by `Inspect.snapshot`
 * with its holders, waiters and contention profile (also as Effect metrics),
 * and lock-order checking names it in its errors.
 *
 * @example
 * ```ts
 * const accounts = yield* Lock.named("accounts")
 * ```
 */
export const named = (name: string): Effect.Effect<FiberLock> => Effect.sync(() => new LockImpl(name))

/**
 * Creates an unlocked `Lock` outside of an effect, for module-level state.
 *
 * @example
 * ```ts
 * const lock = Lock.makeUnsafe()
 * const accounts = Lock.makeUnsafe({ name: "accounts" })
 * ```
 */
export const makeUnsafe = (options?: { readonly name?: string | undefined }): FiberLock => new LockImpl(options?.name)

// ---------------------------------------------------------------------------
// Module functions: the instance members as functions, for any scope's lock
// (they take the interface, so `SharedLock`, `manager.lock()`, `FileLock` and
// `RLock` work too).

// Tells the data-first call from the data-last one.
const isLockLike = (u: unknown): boolean => typeof u === "object" && u !== null && "withLock" in u

/**
 * `lock.acquire` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Lock.make
 *   yield* Lock.acquire(lock)
 *   yield* Lock.release(lock)
 * })
 * ```
 */
export const acquire = <E = never>(self: { readonly acquire: Effect.Effect<void, E> }): Effect.Effect<void, E> => self.acquire

/**
 * `lock.tryAcquire` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Lock.make, Lock.tryAcquire) // true
 * ```
 */
export const tryAcquire = (self: { readonly tryAcquire: Effect.Effect<boolean> }): Effect.Effect<boolean> => self.tryAcquire

/**
 * `lock.acquireFor(timeout)`, data-first or data-last.
 *
 * @example
 * ```ts
 * import { Effect, pipe } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Lock.make
 *   const first = yield* Lock.acquireFor(lock, "1 second") // true
 *   const second = yield* pipe(lock, Lock.acquireFor(10)) // false after 10 ms
 *   return [first, second]
 * })
 * ```
 */
export const acquireFor: {
  (timeout: Duration.Input): <L extends Pick<Lock, "acquireFor">>(self: L) => ReturnType<L["acquireFor"]>
  <L extends Pick<Lock, "acquireFor">>(self: L, timeout: Duration.Input): ReturnType<L["acquireFor"]>
} = dual(
  (args) => isLockLike(args[0]),
  (self: Pick<Lock, "acquireFor">, timeout: Duration.Input) => self.acquireFor(timeout)
)

/**
 * `lock.release` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Lock.make, (lock) => Effect.flip(Lock.release(lock))) // NotHeldError
 * ```
 */
export const release = <E>(self: { readonly release: Effect.Effect<void, E> }): Effect.Effect<void, E> => self.release

/**
 * Runs `effect` holding `self`: `Lock.withLock(lock, effect)`, or data-last
 * `effect.pipe(Lock.withLock(lock))`. Works for every lock at every scope,
 * and for a `Condition` (its lock).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Lock.make
 *   const a = yield* Lock.withLock(lock, Effect.succeed(1))
 *   const b = yield* Effect.succeed(2).pipe(Lock.withLock(lock))
 *   return a + b
 * })
 * ```
 */
export const withLock: {
  (self: Pick<Lock, "withLock">): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Pick<Lock, "withLock">, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
} = (<A, E, R>(self: Pick<Lock, "withLock">, effect?: Effect.Effect<A, E, R>) =>
  effect === undefined ? self.withLock : self.withLock(effect)) as any

/**
 * `lock.locked` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Lock.make, Lock.locked) // false
 * ```
 */
export const locked = (self: { readonly locked: Effect.Effect<boolean> }): Effect.Effect<boolean> => self.locked
