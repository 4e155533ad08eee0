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
  readonly resume: () => void
  granted: boolean
}

/** A FIFO permit counter with direct hand-off (see the module's doc). */
export class Permits {
  free: number
  private readonly queue = new WaitList<Waiter>()

  constructor(free: number) {
    this.free = free
  }

  /** How many requests wait. */
  get waiting(): number {
    return this.queue.size
  }

  /** Takes `n` permits if they are free and nobody is queued ahead. */
  tryTake(n: number): boolean {
    if (this.queue.head === undefined && this.free >= n) {
      this.free -= n
      return true
    }
    return false
  }

  /** Takes `n` permits, waiting in FIFO order. */
  take(n: number): Effect.Effect<void> {
    return Effect.suspend(() => (this.tryTake(n) ? Effect.void : this.wait(n)))
  }

  /** Queues for `n` permits; the caller already failed `tryTake`. */
  wait(n: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.tryTake(n)) return resume(Effect.void)
      const waiter = this.enqueue(n, () => resume(Effect.void))
      return Effect.sync(() => this.abandon(waiter))
    })
  }

  /**
   * Queues for `n` permits outside of a fiber (the Promise face): resolves
   * once they are taken for the caller, in the same FIFO queue as the fibers.
   * The caller already failed `tryTake`; such a wait cannot be abandoned.
   */
  waitPromise(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.enqueue(n, resolve)
    })
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
    if (this.queue.head !== undefined) this.dispatch()
  }

  private enqueue(n: number, resume: () => void): Waiter {
    const waiter: Waiter = { n, resume, granted: false, prev: undefined, next: undefined }
    this.queue.push(waiter)
    return waiter
  }

  private dispatch(): void {
    let waiter = this.queue.head
    while (waiter !== undefined && waiter.n <= this.free) {
      this.free -= waiter.n
      this.queue.unlink(waiter)
      waiter.granted = true
      wake(waiter.resume)
      waiter = this.queue.head
    }
  }

  private abandon(waiter: Waiter): void {
    if (waiter.granted) {
      this.release(waiter.n)
    } else {
      this.queue.unlink(waiter)
      // A large request at the head may have blocked smaller ones behind it.
      if (this.queue.head !== undefined) this.dispatch()
    }
  }
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
  /** Whether `k` is a request this primitive accepts (else the slow path reports the error). */
  valid(k: number): boolean
}

/** @internal */
export const permitsOf = (primitive: unknown): PermitsHook | undefined =>
  typeof primitive === "object" && primitive !== null && PermitsId in primitive
    ? (primitive as { readonly [PermitsId]: PermitsHook })[PermitsId]
    : undefined
