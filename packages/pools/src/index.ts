/**
 * `@weft/pools`: thread and process pools for Effect 4 with Python's
 * `multiprocessing.Pool` / `concurrent.futures` semantics, on one
 * queue-and-dispatch core, on Node, Bun and Deno.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ProcessPool, ThreadPool } from "@weft/pools"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const threads = yield* ThreadPool.make({ module: new URL("./worker.ts", import.meta.url), size: 2 })
 *   const procs = yield* ProcessPool.make({ module: new URL("./worker.ts", import.meta.url), size: 2 })
 *   return [yield* threads.submit("inc", 1), yield* procs.submit("inc", 1)]
 * }))
 * ```
 *
 * @module
 */
export * from "./errors.ts"
export * as Pool from "./Pool.ts"
export * as ProcessPool from "./ProcessPool.ts"
export * as ThreadPool from "./ThreadPool.ts"
export {
  currentSignal,
  defineWorker,
  isWorkerDefinition,
  type TaskContext,
  type TaskFunction,
  transfer,
  type Transfer,
  type WorkerDefinition
} from "./worker.ts"
