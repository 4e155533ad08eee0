/**
 * Runs an effect holding permits, and gives them back however it ends: the
 * body of `withLock` and `withPermits` for the fiber and the thread scope.
 *
 * Why it is shaped like this (it is the hot path; see bench/src/primitives/main.ts):
 * one `uninterruptibleMask` so that the permits are taken and the finalizer
 * registered with no interruption in between, and `onExitPrimitive` with a
 * finalizer that returns `undefined` (nothing left to run: the release is
 * synchronous) and `interruptible: true` (it runs where the mask already put
 * it, so no extra region is pushed). An `Effect.suspend` and a plain
 * `Effect.onExit` around the same logic cost about a fifth of the throughput.
 *
 * `guardedBy(acquire, release)` is the same shape for holds that are
 * effects, not permit counts: a manager's remote lock, a cluster lock. It is
 * exported (`@weft/primitives/guard`) for the sibling packages.
 *
 * @module
 */
import * as Effect from "effect/Effect"
import { lockdep } from "../Lockdep.ts"
import type { Tracker } from "./track.ts"

/** What `guarded` needs from a permit counter. @internal */
export interface PermitSource {
  tryTake(n: number): boolean
  /** Queues for `n` permits; interruption-safe (nothing taken if interrupted). */
  wait(n: number): Effect.Effect<void>
  release(n: number): void
}

/**
 * `withPermits(k)` over `source`. With a `tracker` (the fiber scope), a named
 * primitive or lock-order checking takes the tracked path; otherwise the cost
 * is two field reads.
 *
 * @internal
 */
export const guarded = (source: PermitSource, k: number, tracker?: Tracker) => {
  const release = (): undefined => {
    source.release(k)
    return undefined
  }
  const tryTake = () => source.tryTake(k)
  const releaseNow = () => source.release(k)
  const exclusiveDone = tracker?.exclusive ? tracker.exclusiveDone(releaseNow) : undefined
  // Built once: an effect is a description, and the uncontended path must not make one per call.
  const wait = tracker === undefined ? undefined : source.wait(k)
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      tracker !== undefined && (tracker.profile !== undefined || lockdep.on)
        ? tracker.guard(restore, effect, k, tryTake, wait!, releaseNow, exclusiveDone)
        : source.tryTake(k)
        ? Effect.onExitPrimitive(restore(effect), release, true)
        : Effect.flatMap(restore(source.wait(k)), () => Effect.onExitPrimitive(restore(effect), release, true))
    )
}

/**
 * Runs `effect` holding what `acquire` took, and runs `release` however
 * `effect` ends (success, failure, interruption). Interruption is possible
 * only while `acquire` waits and inside `effect`, never between them, so a
 * hold is never leaked; a failing `release` is ignored (the body's outcome
 * stands).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { guardedBy } from "@weft/primitives/guard"
 *
 * declare const take: Effect.Effect<void>
 * declare const give: Effect.Effect<void>
 * const withHold = <A, E, R>(body: Effect.Effect<A, E, R>) => guardedBy(take, give, body)
 * ```
 */
export const guardedBy = <A, E, R>(
  acquire: Effect.Effect<unknown, any>,
  release: Effect.Effect<unknown, any>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) => {
    const done = Effect.ignore(release)
    return Effect.flatMap(restore(acquire), () => Effect.onExitPrimitive(restore(effect), () => done, true))
  }) as Effect.Effect<A, E, R>
