/**
 * A pool of worker threads (`node:worker_threads`) — Python's
 * `ThreadPoolExecutor` and `multiprocessing.pool.ThreadPool`, but the threads
 * run JavaScript in parallel. Arguments and results cross by structured clone;
 * wrap an `ArrayBuffer` in `transfer(...)` to move it instead of copying.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ThreadPool } from "@weft/pools"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* ThreadPool.make<typeof import("./worker.ts").default>({
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
import { threads } from "./internal/transport.ts"
import type * as Pool from "./Pool.ts"
import type { WorkerDefinition } from "./worker.ts"

/**
 * `ThreadPool.make` options: the common pool options plus what a worker
 * thread takes.
 *
 * @example
 * ```ts
 * const options: ThreadPool.Options = {
 *   module: new URL("./worker.ts", import.meta.url),
 *   resourceLimits: { maxOldGenerationSizeMb: 256 }
 * }
 * ```
 */
export interface Options extends Pool.Options, Pool.SpawnOptions {
  /** Heap and stack limits for each worker thread (Node; ignored where the runtime does not support them). */
  readonly resourceLimits?: {
    readonly maxOldGenerationSizeMb?: number
    readonly maxYoungGenerationSizeMb?: number
    readonly codeRangeSizeMb?: number
    readonly stackSizeMb?: number
  } | undefined
  /** A value cloned to each worker as `workerData` (`import { workerData } from "node:worker_threads"`). */
  readonly workerData?: unknown
  /** Arguments appended to `process.argv` in each worker (stringified), as `new Worker`'s `argv`. */
  readonly argv?: ReadonlyArray<unknown> | undefined
}

/**
 * Starts a thread pool in the current `Scope`: starts `minSize` workers at
 * once and returns as soon as one of them is ready (the module loaded; the
 * others take tasks as they come up), or once all `size` are with
 * `ready: "all"`; leaving the scope terminates every worker.
 * Fails with `InvalidArgumentError` for a bad option or a module without a
 * `defineWorker` default export.
 *
 * @example
 * ```ts
 * const pool = yield* ThreadPool.make<typeof import("./worker.ts").default>({
 *   module: new URL("./worker.ts", import.meta.url),
 *   size: 2,
 *   taskTimeout: "5 seconds"
 * })
 * const two = yield* pool.submit("inc", 1)
 * ```
 */
export const make = <W extends WorkerDefinition = WorkerDefinition>(
  options: Options
): Effect.Effect<Pool.Pool<W>, InvalidArgumentError | WorkerCrashedError, Scope.Scope> =>
  internal.make(options, threads(options))
