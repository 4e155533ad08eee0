/**
 * A pool of child processes (`node:child_process.fork` with an IPC channel) —
 * Python's `multiprocessing.Pool` and `ProcessPoolExecutor`. Arguments and
 * results cross as JSON (measured faster than `advanced` on Node and Bun, and
 * about even on Deno): plain objects, arrays, strings, finite
 * numbers, booleans and null. Anything else (a function, a bigint, a Map, a
 * Date, a cycle, NaN) is refused with `InvalidArgumentError` before it is sent.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProcessPool } from "@weft/pools"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* ProcessPool.make<typeof import("./worker.ts").default>({
 *     module: new URL("./worker.ts", import.meta.url),
 *     size: 4
 *   })
 *   return yield* pool.map("inc", [1, 2, 3]) // [2, 3, 4]
 * }))
 * ```
 *
 * @module
 */
import type { Effect, Scope } from "effect"
import type { InvalidArgumentError, WorkerCrashedError } from "./errors.ts"
import * as internal from "./internal/make.ts"
import { processes } from "./internal/transport.ts"
import type * as Pool from "./Pool.ts"
import type { WorkerDefinition } from "./worker.ts"

/**
 * `ProcessPool.make` options: the common pool options and how each child
 * process starts.
 *
 * @example
 * ```ts
 * const options: ProcessPool.Options = {
 *   module: new URL("./worker.ts", import.meta.url),
 *   env: { ...process.env, MODE: "batch" },
 *   execArgv: ["--max-old-space-size=256"]
 * }
 * ```
 */
export interface Options extends Pool.Options, Pool.SpawnOptions {}

/**
 * Starts a process pool in the current `Scope`: starts `minSize` children at
 * once and returns as soon as one of them is ready (the others take tasks as
 * they come up), or once all `size` are with `ready: "all"`; leaving the
 * scope kills every child and reaps
 * it (no zombies). A child also exits by itself if the pool's process dies.
 *
 * @example
 * ```ts
 * const pool = yield* ProcessPool.make<typeof import("./worker.ts").default>({
 *   module: new URL("./worker.ts", import.meta.url),
 *   size: 4,
 *   maxTasksPerWorker: 100
 * })
 * const two = yield* pool.submit("inc", 1)
 * ```
 */
export const make = <W extends WorkerDefinition = WorkerDefinition>(
  options: Options
): Effect.Effect<Pool.Pool<W>, InvalidArgumentError | WorkerCrashedError, Scope.Scope> =>
  internal.make(options, processes(options))
