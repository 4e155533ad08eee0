/**
 * What several hosted kinds share: booking what an operation took in the
 * same step, and the JSON copy that queue items and pubsub messages cross
 * as.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { stringify } from "../../json.ts"
import type { Cast, Invoke } from "../kind.ts"

/** A cast that is `invoke` with its outcome ignored (the manager's own process). @internal */
export const ignoring = (invoke: Invoke): Cast => (op, args) => Effect.ignore(invoke(op, args))

/** Runs `op` and books what it took, in one step that interruption cannot split. @internal */
export const tracked = <A, E>(op: Effect.Effect<A, E>, book: (a: A) => void): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.map(restore(op), (a) => {
      book(a)
      return a
    })
  )

/**
 * The JSON copy an item crosses as, in every process including the
 * manager's own, so a getter sees the same value wherever it runs. A value
 * JSON cannot carry dies with an `InvalidArgumentError`.
 *
 * @internal
 */
export const jsonItem = (operation: string, item: unknown, kind = "queue"): Effect.Effect<unknown> =>
  Effect.suspend(() => {
    const json = stringify(`manager ${kind}.${operation}`, item)
    return typeof json === "string" ? Effect.succeed(JSON.parse(json)) : Effect.die(json)
  })

/** `acquire` / `tryAcquire` / `acquireFor` that took the primitive: what a compensation undoes. @internal */
export const took = (op: string, value: unknown): boolean =>
  op === "acquire" || ((op === "tryAcquire" || op === "acquireFor") && value === true)
