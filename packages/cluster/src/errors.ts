/**
 * The tagged errors of `@weft/cluster`. The primitives' own errors
 * (`NotHeldError`, `QueueEmptyError`, `InvalidArgumentError`, ...) come from
 * `@weft/primitives` and are the same classes at every scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "@weft/cluster"
 *
 * const lock = (cluster: Cluster.Cluster) =>
 *   cluster.lock("orders").pipe(Effect.catchTag("ClusterNameClashError", (e) => Effect.die(e.message)))
 * ```
 *
 * @module
 */
import { Data } from "effect"

/**
 * A name already taken by a primitive of another kind, or by one of the same
 * kind made with other settings (permits, parties, maxsize). The same name
 * from any process is the same primitive, so it cannot be two things.
 *
 * @example
 * ```ts
 * const err = new ClusterNameClashError({ name: "jobs", existing: "lock", requested: "queue" })
 * err.message // "Cluster name \"jobs\" is a lock, not a queue"
 * ```
 */
export class ClusterNameClashError extends Data.TaggedError("ClusterNameClashError")<{
  readonly name: string
  readonly existing: string
  readonly requested: string
}> {
  override get message(): string {
    return `Cluster name ${JSON.stringify(this.name)} is a ${this.existing}, not a ${this.requested}`
  }
}

/**
 * The PostgreSQL server cannot be reached, refused the connection, or the
 * connection dropped (the server stopped, the network failed). `connect`
 * fails with it as a typed error; an operation of a primitive dies with it (a
 * defect: the primitive interfaces, shared with the fiber twins, have no
 * error channel for transport failures), and whatever that connection held
 * was released by the server when it dropped.
 *
 * @example
 * ```ts
 * const err = new ClusterUnavailableError({ server: "/tmp/pg/.s.PGSQL.5432", reason: "ECONNREFUSED" })
 * err.message // "PostgreSQL at /tmp/pg/.s.PGSQL.5432 is unavailable: ECONNREFUSED"
 * ```
 */
export class ClusterUnavailableError extends Data.TaggedError("ClusterUnavailableError")<{
  readonly server: string
  readonly reason: string
}> {
  override get message(): string {
    return `PostgreSQL at ${this.server} is unavailable: ${this.reason}`
  }
}

/**
 * A lock (or semaphore permits, or the session that owns taken queue items)
 * that this process can no longer count on: its connection to PostgreSQL
 * completed no round trip within the lease (half of `partitionTimeout`), or
 * failed. The server releases it within `partitionTimeout` of the cut, but
 * never before the holder was told: the `withLock` / `withPermits` body is
 * interrupted and ends with this error (a defect, as transport errors are),
 * and `fencingToken`, `release` and `taskDone` die with it from then on.
 *
 * @example
 * ```ts
 * const err = new LockLostError({ what: "ClusterLock \"orders\"", server: "db:5432", reason: "no round trip for 5000 ms", bound: "10s" })
 * err.message
 * // "ClusterLock \"orders\" was lost: no round trip for 5000 ms with PostgreSQL at db:5432; the server releases it within 10s, so another process may hold it now"
 * ```
 */
export class LockLostError extends Data.TaggedError("LockLostError")<{
  /** The primitive and its name, e.g. `ClusterLock "orders"`. */
  readonly what: string
  readonly server: string
  readonly reason: string
  /** The `partitionTimeout` the server releases within. */
  readonly bound: string
}> {
  override get message(): string {
    return `${this.what} was lost: ${this.reason} with PostgreSQL at ${this.server}; the server releases it within ${this.bound}, so another process may hold it now`
  }
}
