/**
 * The manager's `barrier(parties)`: a hosted `Barrier`. A client that dies
 * or is interrupted while waiting breaks it, as a fiber does at fiber scope;
 * `attach` reports its `parties`.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { BrokenBarrierError, InvalidArgumentError } from "../../errors.ts"
import * as Barrier from "../../Barrier.ts"
import { make } from "../kind.ts"
import type { Managed, Named } from "../Manager.ts"
import { encodeTimeout } from "../protocol.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted `Barrier` for `parties` parties (an `action`, if any, runs in
   * the manager's process). A client that dies or is interrupted while
   * waiting breaks it, as a fiber does at fiber scope.
   *
   * @example
   * ```ts
   * declare const manager: Manager.Manager
   * const start = yield* manager.barrier(3)
   * const arrival = yield* start.wait // 0, 1 or 2
   * ```
   */
  barrier(parties: number, action?: Effect.Effect<unknown, unknown>, options?: Named): Effect.Effect<Managed<"barrier">, InvalidArgumentError>
}

/** @internal */
export const kind = make<Factory>()({
  kind: "barrier",
  host: (parties: number, action?: Effect.Effect<unknown, unknown>) => Barrier.make(parties, action),
  ops: {
    wait: (barrier) => barrier.wait,
    waitFor: (barrier, [timeout]) => barrier.waitFor(timeout),
    abort: (barrier) => barrier.abort,
    reset: (barrier) => barrier.reset,
    waiting: (barrier) => barrier.waiting,
    broken: (barrier) => barrier.broken
  },
  info: (barrier): { readonly parties: number } => ({ parties: barrier.parties }),
  view: ({ invoke }, { parties = 0 }): Barrier.Barrier => ({
    wait: invoke("wait", []) as Effect.Effect<number, BrokenBarrierError>,
    waitFor: (timeout: Duration.Input): Effect.Effect<number, BrokenBarrierError | InvalidArgumentError> =>
      invoke("waitFor", [encodeTimeout(timeout)]),
    abort: invoke("abort", []),
    reset: invoke("reset", []),
    parties,
    waiting: invoke("waiting", []),
    broken: invoke("broken", [])
  }),
  local: (barrier) => barrier
})
