/**
 * The manager's hook into a fiber `Queue` it hosts: gets that also return
 * the item's sequence number, and `restore`, which puts such an item back in
 * its original place (to the next waiting getter if there is one) without
 * touching the unfinished-task count. A remote getter whose caller was
 * interrupted after the manager took the item gives it back this way.
 *
 * Keyed by `Symbol.for` so that nothing public exports it; it stays off the
 * `get`/`put` hot path (`Queue` builds it on demand).
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { InvalidArgumentError, QueueEmptyError, QueueShutDownError } from "../errors.ts"

/** @internal */
export const RemoteQueueId: unique symbol = Symbol.for("@weft/primitives/Queue/remote")

/** An item taken for a remote getter, with its place in the queue's order. @internal */
export interface Taken<A = unknown> {
  readonly item: A
  readonly seq: number
}

/** @internal */
export interface RemoteQueue<A = unknown> {
  readonly get: Effect.Effect<Taken<A>, QueueShutDownError>
  readonly getNowait: Effect.Effect<Taken<A>, QueueEmptyError | QueueShutDownError>
  getFor(timeout: Duration.Input): Effect.Effect<Taken<A>, QueueEmptyError | QueueShutDownError | InvalidArgumentError>
  restore(item: A, seq: number): Effect.Effect<void>
}

/** The hook of a queue made by `Queue.fifo`, `lifo` or `priority`. @internal */
export const remoteQueue = (queue: unknown): RemoteQueue => {
  const hook = (queue as Record<symbol, RemoteQueue | undefined>)[RemoteQueueId]
  if (hook === undefined) throw new Error("not a Queue made by @weft/primitives")
  return hook
}
