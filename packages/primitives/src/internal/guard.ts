/**
 * Runs an effect holding permits, and gives them back however it ends: the
 * body of `withLock` and `withPermits` for the fiber and the thread scope.
 *
 * Why it is shaped like this (it is the hot path; see bench/src/primitives.ts):
 * one `uninterruptibleMask` so that the permits are taken and the finalizer
 * registered with no interruption in between, and `onExitPrimitive` with a
 * finalizer that returns `undefined` (nothing left to run: the release is
 * synchronous) and `interruptible: true` (it runs where the mask already put
 * it, so no extra region is pushed). An `Effect.suspend` and a plain
 * `Effect.onExit` around the same logic cost about a fifth of the throughput.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** What `guarded` needs from a permit counter. @internal */
export interface PermitSource {
  tryTake(n: number): boolean
  /** Queues for `n` permits; interruption-safe (nothing taken if interrupted). */
  wait(n: number): Effect.Effect<void>
  release(n: number): void
}

/** `withPermits(k)` over `source`. @internal */
export const guarded = (source: PermitSource, k: number) => {
  const release = (): undefined => {
    source.release(k)
    return undefined
  }
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      source.tryTake(k)
        ? Effect.onExitPrimitive(restore(effect), release, true)
        : Effect.flatMap(restore(source.wait(k)), () => Effect.onExitPrimitive(restore(effect), release, true))
    )
}
