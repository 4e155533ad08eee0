/**
 * `@weft/cluster`: Weft's primitives across processes and machines, on
 * PostgreSQL. `Cluster.connect({ url })` returns a handle whose primitives
 * have the same interfaces as their fiber twins in `@weft/primitives`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "@weft/cluster"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const cluster = yield* Cluster.connect({ url: "postgres://app@localhost/app" })
 *   const jobs = yield* cluster.queue<{ id: number }>("jobs")
 *   yield* jobs.put({ id: 1 })
 * }))
 * ```
 *
 * @module
 */
export * as Cluster from "./Cluster.ts"
export * from "./errors.ts"
export * as Connection from "./Connection.ts"
