/**
 * The one `Semaphore` implementation over a permit counter: the fiber
 * `Semaphore` runs it on `Permits`, `SharedSemaphore` on `SharedPermits`.
 * Each checks its arguments the same way, and a bounded one refuses a
 * release above its initial count.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { type InvalidArgumentError, SemaphoreOverflowError } from "../errors.ts"
import type * as Semaphore from "../Semaphore.ts"
import { bindMethods } from "./bind.ts"
import { within } from "./within.ts"
import { guarded, type PermitSource } from "./guard.ts"
import { count, permitRequest } from "../validate.ts"
import type { Tracker } from "./track.ts"

/** What a semaphore needs from its counter. @internal */
export interface SemaphoreCore extends PermitSource {
  readonly free: number
  take(n: number): Effect.Effect<void>
  takeWithin(operation: string, n: number, timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError>
  releaseUpTo(n: number, limit: number): number | undefined
}

/** @internal */
export class PermitSemaphore implements Semaphore.Semaphore {
  readonly name: string
  readonly core: SemaphoreCore
  /** The initial count; a bounded semaphore never has more free. */
  readonly initial: number
  readonly bounded: boolean
  /** The fiber scope's inspection and lock-order state; other scopes have none. */
  tracker: Tracker | undefined = undefined

  constructor(name: string, core: SemaphoreCore, initial: number, bounded: boolean) {
    this.name = name
    this.core = core
    this.initial = initial
    this.bounded = bounded
    bindMethods(this, "acquire", "tryAcquire", "acquireFor", "release", "withPermits")
  }

  check(operation: string, k: number): InvalidArgumentError | undefined {
    return permitRequest(this.name, operation, k, this.bounded ? this.initial : undefined)
  }

  acquire(k = 1): Effect.Effect<void, InvalidArgumentError> {
    const error = this.check("acquire", k)
    if (error) return Effect.fail(error)
    const tracker = this.tracker
    if (tracker === undefined) return this.core.take(k)
    return Effect.suspend(() =>
      tracker.active ? tracker.acquire(k, () => this.core.tryTake(k), this.core.wait(k)) : this.core.take(k)
    )
  }

  tryAcquire(k = 1): Effect.Effect<boolean, InvalidArgumentError> {
    const error = this.check("tryAcquire", k)
    if (error) return Effect.fail(error)
    return Effect.sync(() => {
      if (!this.core.tryTake(k)) return false
      if (this.tracker?.active) this.tracker.enter(Fiber.getCurrent(), k, undefined)
      return true
    })
  }

  acquireFor(timeout: Duration.Input, k = 1): Effect.Effect<boolean, InvalidArgumentError> {
    const error = this.check("acquireFor", k)
    if (error) return Effect.fail(error)
    const tracker = this.tracker
    if (tracker === undefined) return this.core.takeWithin(`${this.name}.acquireFor`, k, timeout)
    return Effect.suspend(() => {
      if (!tracker.active) return this.core.takeWithin(`${this.name}.acquireFor`, k, timeout)
      const fiber = Fiber.getCurrent()
      const error = tracker.check(fiber, false)
      if (error !== undefined) return Effect.die(error)
      return within(`${this.name}.acquireFor`, timeout, tracker.waitThenEnter(fiber, k, this.core.wait(k), () => {}), () => {
        if (!this.core.tryTake(k)) return false
        tracker.enter(fiber, k, undefined)
        return true
      })
    })
  }

  release(k = 1): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError> {
    const error = count(`${this.name}.release`, "k", k, 1)
    if (error) return Effect.fail(error)
    return Effect.suspend(() => {
      if (this.tracker !== undefined && this.tracker.holds.length > 0) this.tracker.exitCurrent()
      if (!this.bounded) {
        this.core.release(k)
        return Effect.void
      }
      const available = this.core.releaseUpTo(k, this.initial)
      return available === undefined
        ? Effect.void
        : Effect.fail(new SemaphoreOverflowError({ permits: this.initial, available, released: k }))
    })
  }

  withPermits(k: number): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidArgumentError, R> {
    const error = this.check("withPermits", k)
    return error ? () => Effect.fail(error) : guarded(this.core, k, this.tracker)
  }

  readonly available: Effect.Effect<number> = Effect.sync(() => this.core.free)
}
