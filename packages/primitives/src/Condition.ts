/**
 * A condition variable for fibers — Python's `threading.Condition`.
 *
 * A condition pairs a lock with a queue of waiters. A fiber that holds the
 * lock calls `wait`: it lets go of the lock (completely, even an `RLock` taken
 * several times), sleeps until another fiber calls `notify` or `notifyAll`,
 * then takes the lock back at the same depth before `wait` returns. The usual
 * pattern waits in a loop on a predicate over state the lock guards, which is
 * what `waitUntil` does (Python's `wait_for`).
 *
 * What Effect gives: no condition variable. It has `Latch` (an event: every
 * waiter wakes, nobody gives up a lock) and `Deferred` (one value, once).
 * What Weft adds: the Python interface over Weft's own `Lock` or `RLock` —
 * `wait` / `waitFor(timeout)` / `waitUntil(predicate, timeout?)`, `notify(n)`
 * waking exactly `n` waiters in FIFO order, `notifyAll` — with the ownership
 * checks Python makes (`NotHeldError` when the caller does not hold the
 * lock). The waiter queue is Weft's own (one `Effect.callback` per waiter,
 * resumed through the same microtask hand-off as `Lock`) rather than a
 * `Deferred` per waiter: a notification is an event on a queue entry that can
 * be withdrawn or passed on, which a `Deferred` cannot express.
 *
 * Interruption safety: `wait`, `waitFor` and `waitUntil` always re-take the
 * lock before they end, whether they were notified, timed out or interrupted
 * (interruption does not cut the re-acquire short), so `withLock` around them
 * always releases a lock that is held. A waiter interrupted after it was
 * notified, before it resumed, passes its notification on to the next waiter:
 * `notify(n)` always reaches `n` waiters that go on running (as many as
 * there are). A waiter that times out just as it is notified counts as
 * notified (`waitFor` returns `true`), so no notification is lost there
 * either. As in Python, a woken waiter must re-check its predicate: another
 * fiber may have taken the lock first and changed the state.
 *
 * "Holds the lock": for an `RLock`, the calling fiber owns it. A plain `Lock`
 * has no owner, so (as in Python) it only has to be locked — by anyone.
 *
 * Scopes: fiber (this module); processes: `manager.condition()`.
 *
 * @example
 * ```ts
 * import { Effect, Fiber } from "effect"
 * import { Condition } from "@weft/primitives"
 *
 * // Producer/consumer: the consumer waits, under the lock, until there is an item.
 * const program = Effect.gen(function*() {
 *   const cond = yield* Condition.make()
 *   const items: Array<number> = []
 *   const consumer = cond.withLock(
 *     Effect.andThen(cond.waitUntil(() => items.length > 0), Effect.sync(() => items.shift()!))
 *   )
 *   const producer = (n: number) => cond.withLock(Effect.andThen(Effect.sync(() => items.push(n)), cond.notify()))
 *   const fiber = yield* Effect.forkChild(consumer)
 *   yield* producer(42)
 *   return yield* Fiber.join(fiber) // 42
 * })
 * ```
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import { InvalidArgumentError, NotHeldError, type NotOwnerError } from "./errors.ts"
import { bindMethods } from "./internal/bind.ts"
import { wake } from "./internal/handoff.ts"
import { type ConditionLock, conditionLock } from "./internal/ownership.ts"
import { waitUntil as waitUntilLoop } from "./internal/waitUntil.ts"
import { type Source, Tracker } from "./internal/track.ts"
import { type Link, WaitList } from "./internal/WaitList.ts"
import { count, timeout as parseTimeout } from "./validate.ts"
import type * as Lock from "./Lock.ts"
import * as RLock from "./RLock.ts"

/**
 * The condition interface. `Condition` and a manager's `condition()`
 * implement it.
 *
 * @example
 * ```ts
 * const waitForWork = (cond: Condition.Condition, queue: Array<string>) =>
 *   cond.withLock(cond.waitUntil(() => queue.length > 0, "5 seconds"))
 * ```
 */
export interface Condition {
  /** Takes the underlying lock (waits, FIFO). */
  readonly acquire: Effect.Effect<void>
  /** Releases the underlying lock (fails as the lock's own `release` does). */
  readonly release: Effect.Effect<void, NotHeldError | NotOwnerError>
  /** Runs `effect` holding the underlying lock, and releases it however `effect` ends. */
  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
  /**
   * Releases the lock, waits for a `notify`, and re-takes the lock (at the
   * same depth) before returning. Fails with `NotHeldError` when the calling
   * fiber does not hold the lock.
   */
  readonly wait: Effect.Effect<void, NotHeldError>
  /**
   * As `wait`, for at most `timeout`: `true` if notified, `false` if the time
   * ran out. The lock is held again either way (Python's `wait(timeout)`).
   */
  waitFor(timeout: Duration.Input): Effect.Effect<boolean, NotHeldError | InvalidArgumentError>
  /**
   * Waits until `predicate` is true (Python's `wait_for`): checks it, and
   * while it is false waits for a notification and checks again, all under
   * the lock. Returns the last value of the predicate — `false` only when
   * `timeout` ran out first. With a zero timeout it checks once and never
   * waits. The predicate is a function or an `Effect<boolean>`. Fails with
   * `NotHeldError` when the calling fiber does not hold the lock.
   */
  waitUntil<E = never, R = never>(
    predicate: (() => boolean) | Effect.Effect<boolean, E, R>,
    timeout?: Duration.Input
  ): Effect.Effect<boolean, E | NotHeldError | InvalidArgumentError, R>
  /**
   * Wakes up to `n` (default 1) waiting fibers, longest-waiting first. Must
   * hold the lock (else `NotHeldError`); `n` is an integer >= 0 (else
   * `InvalidArgumentError`). The woken fibers resume once they re-take the
   * lock, so after the caller releases it.
   */
  notify(n?: number): Effect.Effect<void, NotHeldError | InvalidArgumentError>
  /** Wakes every waiting fiber. Must hold the lock (else `NotHeldError`). */
  readonly notifyAll: Effect.Effect<void, NotHeldError>
}

interface Waiter extends Link<Waiter> {
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  queued: boolean
  notified: boolean
}

/** A FIFO queue of waiters with O(1) removal. */
class Waiters {
  private readonly list = new WaitList<Waiter>()

  get size(): number {
    return this.list.size
  }

  push(): Waiter {
    const waiter: Waiter = { resume: undefined, queued: true, notified: false, prev: undefined, next: undefined }
    this.list.push(waiter)
    return waiter
  }

  remove(waiter: Waiter): void {
    this.list.unlink(waiter)
    waiter.queued = false
  }

  /** Wakes up to `n` waiters from the head of the queue. */
  notify(n: number): void {
    while (n > 0 && this.list.head !== undefined) {
      const waiter = this.list.head
      this.remove(waiter)
      waiter.notified = true
      const resume = waiter.resume
      // A waiter whose fiber has not registered its callback yet finds
      // `notified` set when it does.
      if (resume !== undefined) wake(() => resume(Effect.void))
      n--
    }
  }
}

// Module-level, so that no closure of the constructor keeps the condition alive from the registry.
const conditionSource: Source<ConditionImpl> = { counts: (self) => ({ waiting: self.waiters.size }) }

class ConditionImpl implements Condition {
  readonly waiters = new Waiters()
  readonly acquire: Effect.Effect<void>
  readonly release: Effect.Effect<void, NotHeldError | NotOwnerError>
  readonly wait: Effect.Effect<void, NotHeldError>
  readonly notifyAll: Effect.Effect<void, NotHeldError>

  readonly lock: Lock.Lock | RLock.RLock
  readonly hooks: ConditionLock
  readonly tracker: Tracker

  constructor(lock: Lock.Lock | RLock.RLock, hooks: ConditionLock, name: string | undefined) {
    this.lock = lock
    this.hooks = hooks
    this.tracker = new Tracker(this, "Condition", name, conditionSource)
    this.acquire = lock.acquire
    this.release = lock.release
    this.wait = Effect.asVoid(this.suspend("wait", undefined))
    this.notifyAll = this.ifOwned("notifyAll", () => this.waiters.notify(this.waiters.size))
    bindMethods(this, "withLock", "waitFor", "waitUntil", "notify")
  }

  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.lock.withLock(effect)
  }

  private notHeld(operation: string): NotHeldError {
    return new NotHeldError({ primitive: "Condition", operation })
  }

  private ifOwned(operation: string, f: () => void): Effect.Effect<void, NotHeldError> {
    return Effect.flatMap(this.hooks.owned, (owned) => owned ? Effect.sync(f) : Effect.fail(this.notHeld(operation)))
  }

  // Parks the fiber until `waiter` is notified. The cleanup after an
  // interruption or a timeout is done by `settle`, in the caller's
  // uninterruptible region, so there is exactly one place that decides.
  private sleep(waiter: Waiter): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (waiter.notified) resume(Effect.void)
      else waiter.resume = resume
    })
  }

  // Decides how a wait ended: `true` if the waiter was notified and goes on.
  private settle(waiter: Waiter, exit: Exit.Exit<unknown>): boolean {
    waiter.resume = undefined
    if (waiter.queued) {
      // Timed out or interrupted before any notify reached it.
      this.waiters.remove(waiter)
      return false
    }
    if (Exit.isFailure(exit)) {
      // Notified, then interrupted before it resumed: the notification is
      // not swallowed, it goes to the next waiter.
      this.waiters.notify(1)
      return false
    }
    return true
  }

  /**
   * The core of `wait`/`waitFor`: the caller must hold the lock. `duration`
   * undefined means no timeout. The lock is re-taken uninterruptibly before
   * the effect ends, whatever happened while it waited.
   */
  private suspend(operation: string, duration: Duration.Duration | undefined): Effect.Effect<boolean, NotHeldError> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(this.hooks.owned, (owned) => {
        if (!owned) return Effect.fail(this.notHeld(operation))
        // Queue up before letting go of the lock, as Python does, so a
        // notify issued the moment the lock is free already sees us.
        const waiter = this.waiters.push()
        return Effect.flatMap(this.hooks.releaseSave, (saved) => {
          const sleep = this.sleep(waiter)
          const waiting = duration === undefined ? sleep : Effect.timeoutOption(sleep, duration)
          return Effect.flatMap(Effect.exit(restore(this.tracker.waiting(waiting))), (exit) => {
            const notified = this.settle(waiter, exit)
            return Effect.flatMap(
              this.hooks.restore(saved),
              () => Exit.isFailure(exit) ? Effect.failCause(exit.cause) : Effect.succeed(notified)
            )
          })
        })
      })
    )
  }

  private duration(
    operation: string,
    input: Duration.Input
  ): Effect.Effect<Duration.Duration | undefined, InvalidArgumentError> {
    return Effect.map(parseTimeout(operation, input), (d) => Duration.isFinite(d) ? d : undefined)
  }

  waitFor(timeout: Duration.Input): Effect.Effect<boolean, NotHeldError | InvalidArgumentError> {
    return Effect.flatMap(
      this.duration("Condition.waitFor", timeout),
      (duration) => this.suspend("waitFor", duration)
    )
  }

  waitUntil<E = never, R = never>(
    predicate: (() => boolean) | Effect.Effect<boolean, E, R>,
    timeout?: Duration.Input
  ): Effect.Effect<boolean, E | NotHeldError | InvalidArgumentError, R> {
    return waitUntilLoop(predicate, timeout, this.hooks.owned, (left) => this.suspend("waitUntil", left))
  }

  notify(n: number = 1): Effect.Effect<void, NotHeldError | InvalidArgumentError> {
    return Effect.suspend((): Effect.Effect<void, NotHeldError | InvalidArgumentError> => {
      const bad = count("Condition.notify", "n", n, 0)
      return bad ? Effect.fail(bad) : this.ifOwned("notify", () => this.waiters.notify(n))
    })
  }
}

/**
 * Creates a condition over `lock` — a `Lock` or an `RLock` from this package
 * — or, without an argument, over a new `RLock` (Python's default). Another
 * object (for instance a lock from another scope) is refused with
 * `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * // Python's notify(n): ten fibers wait; notify(3) lets exactly three go on.
 * const cond = yield* Condition.make()
 * let woken = 0
 * yield* Effect.forkChild(Effect.forEach(
 *   Array.from({ length: 10 }, (_, i) => i),
 *   () => cond.withLock(Effect.andThen(cond.wait, Effect.sync(() => woken++))),
 *   { concurrency: "unbounded" }
 * ))
 * yield* Effect.yieldNow
 * yield* cond.withLock(cond.notify(3)) // woken becomes 3
 *
 * // Sharing a plain Lock with other code:
 * const lock = yield* Lock.make
 * const cond2 = yield* Condition.make(lock)
 * ```
 */
export function make(): Effect.Effect<Condition>
export function make(lock: Lock.Lock | RLock.RLock): Effect.Effect<Condition, InvalidArgumentError>
export function make(lock?: Lock.Lock | RLock.RLock): Effect.Effect<Condition, InvalidArgumentError> {
  return makeNamed(lock, undefined)
}

/**
 * `make` with a name: the condition is listed by `Inspect.snapshot` with the
 * fibers waiting on it; without a `lock`, its new `RLock` is named
 * `<name>.lock` (the class lock-order checking knows it by).
 *
 * @example
 * ```ts
 * declare const accountsLock: Lock.Lock
 * const nonEmpty = yield* Condition.named("jobs")
 * const onAccounts = yield* Condition.named("accounts changed", accountsLock)
 * ```
 */
export function named(name: string): Effect.Effect<Condition>
export function named(name: string, lock: Lock.Lock | RLock.RLock): Effect.Effect<Condition, InvalidArgumentError>
export function named(name: string, lock?: Lock.Lock | RLock.RLock): Effect.Effect<Condition, InvalidArgumentError> {
  return makeNamed(lock, name)
}

const makeNamed = (lock: Lock.Lock | RLock.RLock | undefined, name: string | undefined): Effect.Effect<Condition, InvalidArgumentError> => {
  if (lock === undefined) {
    return Effect.map(name === undefined ? RLock.make : RLock.named(`${name}.lock`), (rlock) => new ConditionImpl(rlock, conditionLock(rlock)!, name))
  }
  return Effect.suspend(() => {
    const hooks = conditionLock(lock)
    return hooks === undefined
      ? Effect.fail(
        new InvalidArgumentError({
          operation: "Condition.make",
          argument: "lock",
          value: (lock as object)?.constructor?.name ?? typeof lock,
          expected: "a Lock or an RLock from @weft/primitives (fiber scope)"
        })
      )
      : Effect.succeed(new ConditionImpl(lock, hooks, name))
  })
}

// ---------------------------------------------------------------------------
// Module functions: the instance members as functions, for any scope's
// condition (`manager.condition()` too). `withLock` is `Lock.withLock`, which
// takes a condition as well.

/**
 * Runs `effect` holding the condition's lock: `Condition.withLock(cond, effect)`
 * or `effect.pipe(Condition.withLock(cond))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Condition.make(), (cond) => Condition.notifyAll(cond).pipe(Condition.withLock(cond)))
 * ```
 */
export { withLock } from "./Lock.ts"

/**
 * `cond.wait` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@weft/primitives"
 *
 * const waitOnce = (cond: Condition.Condition) => cond.withLock(Condition.wait(cond))
 * ```
 */
export const wait = (self: Pick<Condition, "wait">): Effect.Effect<void, NotHeldError> => self.wait

/**
 * `cond.waitFor(timeout)`: `Condition.waitFor(cond, timeout)` or
 * `pipe(cond, Condition.waitFor(timeout))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Condition.make(), (cond) => cond.withLock(Condition.waitFor(cond, 10))) // false
 * ```
 */
export const waitFor: {
  (timeout: Duration.Input): (self: Pick<Condition, "waitFor">) => Effect.Effect<boolean, NotHeldError | InvalidArgumentError>
  (self: Pick<Condition, "waitFor">, timeout: Duration.Input): Effect.Effect<boolean, NotHeldError | InvalidArgumentError>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && "notifyAll" in args[0],
  (self: Pick<Condition, "waitFor">, timeout: Duration.Input) => self.waitFor(timeout)
)

/**
 * `cond.waitUntil(predicate, timeout?)` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@weft/primitives"
 *
 * const items: Array<number> = [1]
 * const program = Effect.flatMap(Condition.make(), (cond) =>
 *   cond.withLock(Condition.waitUntil(cond, () => items.length > 0))) // true at once
 * ```
 */
export const waitUntil = <E = never, R = never>(
  self: Pick<Condition, "waitUntil">,
  predicate: (() => boolean) | Effect.Effect<boolean, E, R>,
  timeout?: Duration.Input
): Effect.Effect<boolean, E | NotHeldError | InvalidArgumentError, R> => self.waitUntil(predicate, timeout)

/**
 * `cond.notify(n)` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Condition.make(), (cond) => cond.withLock(Condition.notify(cond, 2)))
 * ```
 */
export const notify = (self: Pick<Condition, "notify">, n?: number): Effect.Effect<void, NotHeldError | InvalidArgumentError> =>
  self.notify(n)

/**
 * `cond.notifyAll` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Condition } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Condition.make(), (cond) => cond.withLock(Condition.notifyAll(cond)))
 * ```
 */
export const notifyAll = (self: Pick<Condition, "notifyAll">): Effect.Effect<void, NotHeldError> => self.notifyAll
