/**
 * A reentrant lock for fibers — Python's `threading.RLock`.
 *
 * The owner is the fiber that acquired it. The owner may acquire it again
 * (each acquire nests and needs its own release); any other fiber waits, in
 * FIFO order. Releasing from a fiber that does not own it fails with
 * `NotOwnerError`; releasing it when nobody holds it fails with `NotHeldError`.
 * A child fiber is another fiber: it does not inherit its parent's ownership.
 *
 * What Effect gives: `TxReentrantLock` is a fiber-owned read/write lock, but a
 * manual `acquireWrite` in an interrupted fiber leaks, it has no timed acquire
 * and no error for a release by a non-owner. What Weft adds: the Python
 * interface on the same FIFO hand-off core as `Lock`, interruption-safe.
 *
 * Scopes: fiber (this module); processes: `manager.rlock()`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RLock } from "@weft/primitives"
 *
 * // A recursive function that takes the lock at every level: with a plain
 * // Lock it would wait for itself forever.
 * const program = Effect.gen(function*() {
 *   const lock = yield* RLock.make
 *   const countdown = (n: number): Effect.Effect<number> =>
 *     lock.withLock(n === 0 ? Effect.succeed(0) : Effect.map(countdown(n - 1), (m) => m + 1))
 *   return yield* countdown(10) // 10
 * })
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { type InvalidArgumentError, NotHeldError, NotOwnerError } from "./errors.ts"
import { type ConditionLock, ConditionLockId } from "./internal/ownership.ts"
import { bindMethods } from "./internal/bind.ts"
import { Permits } from "./internal/Permits.ts"
import { type Hold, type Source, Tracker } from "./internal/track.ts"
import { lockdep } from "./Lockdep.ts"
import { within } from "./internal/within.ts"

/**
 * The reentrant lock interface: `Lock`'s, plus ownership. `RLock` and a
 * manager's `rlock()` implement it.
 *
 * @example
 * ```ts
 * const nested = (lock: RLock.RLock) => lock.withLock(lock.withLock(Effect.log("twice")))
 * ```
 */
export interface RLock {
  /** Takes the lock, or nests one level deeper if this fiber owns it. */
  readonly acquire: Effect.Effect<void>
  /** Takes (or nests) the lock if that is possible right now; never waits. */
  readonly tryAcquire: Effect.Effect<boolean>
  /** Waits at most `timeout` for the lock; `true` if it was taken. */
  acquireFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError>
  /**
   * Undoes one acquire of this fiber. Fails with `NotOwnerError` if another
   * fiber owns the lock, `NotHeldError` if nobody does.
   */
  readonly release: Effect.Effect<void, NotHeldError | NotOwnerError>
  /** Runs `effect` holding the lock (nesting if already owned). */
  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
  /** Whether any fiber holds the lock right now. */
  readonly locked: Effect.Effect<boolean>
  /** Whether the calling fiber holds the lock. */
  readonly isOwned: Effect.Effect<boolean>
}

const describeFiber = (fiber: Fiber.Fiber<unknown, unknown> | undefined): string | undefined =>
  fiber === undefined ? undefined : `fiber #${fiber.id}`

// Module-level, so that no closure of the constructor keeps the lock alive from the registry.
const rlockSource: Source<RLockImpl> = {
  counts: (self) => (self.depth > 1 ? { depth: self.depth } : {}),
  held: (self) => self.permits.free === 0,
  waiting: (self) => self.permits.waiting
}

class RLockImpl implements RLock {
  readonly permits = new Permits(1)
  owner: Fiber.Fiber<unknown, unknown> | undefined = undefined
  depth = 0
  readonly tracker: Tracker
  /** The owner's hold, while tracked. */
  private hold: Hold | undefined = undefined

  constructor(name: string | undefined) {
    this.tracker = new Tracker(this, "RLock", name, rlockSource, { ordered: true, exclusive: true })
    bindMethods(this, "acquireFor", "withLock")
  }

  private take(fiber: Fiber.Fiber<unknown, unknown>, depth: number): void {
    this.owner = fiber
    this.depth = depth
    if (this.tracker.active) this.hold ??= this.tracker.enter(fiber, 1, undefined)
  }

  private letGo(): void {
    this.owner = undefined
    if (this.hold !== undefined) {
      this.tracker.exit(this.hold)
      this.hold = undefined
    }
  }

  // The owner is set in the same uninterruptible step that receives the
  // permit, so an interrupted acquirer can never hold the lock without owning it.
  private acquireAt(depth: number): Effect.Effect<void> {
    return Effect.withFiber((fiber) => {
      if (this.owner === fiber) {
        this.depth++
        return Effect.void
      }
      const tracker = this.tracker
      if (tracker.profile !== undefined || lockdep.on) {
        const error = tracker.check(fiber)
        if (error !== undefined) return Effect.die(error)
        if (this.permits.tryTake(1)) {
          this.take(fiber, depth)
          return Effect.void
        }
        return tracker.waitThenEnter(fiber, 1, this.permits.wait(1), (hold) => {
          this.hold = hold
          this.owner = fiber
          this.depth = depth
        })
      }
      if (this.permits.tryTake(1)) {
        this.take(fiber, depth)
        return Effect.void
      }
      return Effect.uninterruptibleMask((restore) =>
        Effect.map(restore(this.permits.wait(1)), () => this.take(fiber, depth))
      )
    })
  }

  readonly acquire: Effect.Effect<void> = this.acquireAt(1)

  readonly tryAcquire: Effect.Effect<boolean> = Effect.withFiber((fiber) => {
    if (this.owner === fiber) {
      this.depth++
      return Effect.succeed(true)
    }
    if (!this.permits.tryTake(1)) return Effect.succeed(false)
    this.take(fiber, 1)
    return Effect.succeed(true)
  })

  acquireFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return Effect.withFiber((fiber) => {
      const now = () => {
        if (this.owner === fiber) {
          this.depth++
          return true
        }
        if (!this.permits.tryTake(1)) return false
        this.take(fiber, 1)
        return true
      }
      return Effect.uninterruptibleMask((restore) =>
        Effect.map(restore(within("RLock.acquireFor", timeout, this.permits.wait(1), now)), (taken) => {
          // `now` already took it, or the wait handed it over: make it ours.
          if (taken && this.owner !== fiber) this.take(fiber, 1)
          return taken
        })
      )
    })
  }

  private releaseBy(fiber: Fiber.Fiber<unknown, unknown>): NotHeldError | NotOwnerError | undefined {
    if (this.owner === undefined) return new NotHeldError({ primitive: "RLock", operation: "release" })
    if (this.owner !== fiber) {
      return new NotOwnerError({
        primitive: "RLock",
        operation: "release",
        owner: describeFiber(this.owner),
        caller: describeFiber(fiber)!
      })
    }
    if (--this.depth === 0) {
      this.letGo()
      this.permits.release(1)
    }
    return undefined
  }

  readonly release: Effect.Effect<void, NotHeldError | NotOwnerError> = Effect.withFiber((fiber) => {
    const error = this.releaseBy(fiber)
    return error ? Effect.fail(error) : Effect.void
  })

  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(this.acquire), () =>
        Effect.onExitPrimitive(restore(effect), this.releaseOwn, true))
    )
  }

  // The finalizer of `withLock`: runs in the fiber that took the lock.
  private readonly releaseOwn = (): undefined => {
    this.releaseBy(Fiber.getCurrent()!)
    return undefined
  }

  readonly locked: Effect.Effect<boolean> = Effect.sync(() => this.owner !== undefined)

  readonly isOwned: Effect.Effect<boolean> = Effect.withFiber((fiber) => Effect.succeed(this.owner === fiber))

  readonly [ConditionLockId]: ConditionLock = {
    owned: this.isOwned,
    releaseSave: Effect.sync(() => {
      const depth = this.depth
      this.letGo()
      this.depth = 0
      this.permits.release(1)
      return depth
    }),
    restore: (depth) => this.acquireAt(depth)
  }
}

/**
 * Creates an unlocked `RLock`.
 *
 * @example
 * ```ts
 * const lock = yield* RLock.make
 * yield* lock.acquire
 * yield* lock.acquire // nests: this fiber owns it
 * yield* lock.release
 * yield* lock.release // now free
 * ```
 */
export const make: Effect.Effect<RLock> = Effect.sync(() => new RLockImpl(undefined))

/**
 * Creates an unlocked `RLock` with a name: listed by `Inspect.snapshot` with
 * its owner, waiters and contention profile, and named in lock-order errors.
 *
 * @example
 * ```ts
 * const tree = yield* RLock.named("tree")
 * ```
 */
export const named = (name: string): Effect.Effect<RLock> => Effect.sync(() => new RLockImpl(name))

/**
 * The module functions of `Lock` (`acquire`, `tryAcquire`, `acquireFor`,
 * `release`, `withLock`, `locked`) take any lock, an `RLock` included.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RLock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* RLock.make
 *   return yield* Effect.succeed(1).pipe(RLock.withLock(lock), RLock.withLock(lock)) // nests
 * })
 * ```
 */
export { acquire, acquireFor, locked, release, tryAcquire, withLock } from "./Lock.ts"

/**
 * `rlock.isOwned` as a function: whether the calling fiber holds it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RLock } from "@weft/primitives"
 *
 * const program = Effect.flatMap(RLock.make, (lock) => RLock.withLock(lock, RLock.isOwned(lock))) // true
 * ```
 */
export const isOwned = (self: Pick<RLock, "isOwned">): Effect.Effect<boolean> => self.isOwned
