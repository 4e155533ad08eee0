/**
 * The pool interface shared by `ThreadPool` and `ProcessPool`, and the Effect
 * API over the dispatch core. Use `ThreadPool.make` or `ProcessPool.make` to
 * get one.
 *
 * Python mapping: `submit` is `executor.submit` / `pool.apply`, `map` is
 * `pool.map`, `imap` is `pool.imap`, `imapUnordered` is `pool.imap_unordered`, `applyAsync` is
 * `pool.apply_async(callback=, error_callback=)`, `close` / `terminate` /
 * `join` are the same, and leaving the pool's `Scope` is
 * `shutdown(wait=False)` plus terminate.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ThreadPool, type Pool } from "@weft/pools"
 *
 * const sum = (pool: Pool.Pool<typeof import("./worker.ts").default>) =>
 *   Effect.map(pool.map("inc", [1, 2, 3]), (xs) => xs.reduce((a, b) => a + b, 0))
 * ```
 *
 * @module
 */
import type { Duration, Effect, Stream } from "effect"
import type {
  InvalidArgumentError,
  PoolClosedError,
  PoolFullError,
  PoolKind,
  PoolRunningError,
  TaskError,
  TaskTimeoutError,
  WorkerCrashedError
} from "./errors.ts"
import type { TaskFunction, Transfer, WorkerDefinition } from "./worker.ts"

/**
 * Submit-to-result latency in milliseconds: `count`, `min`, `mean`, `p50`,
 * `p90`, `p99`, `max` (log-scale buckets, each percentile within about 9%).
 *
 * @example
 * ```ts
 * const { latency } = yield* pool.stats
 * console.log(`p99 ${latency.p99.toFixed(2)} ms over ${latency.count} tasks`)
 * ```
 */
export interface LatencySummary {
  /** Tasks measured (from submit to result, in milliseconds). */
  readonly count: number
  readonly min: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

/**
 * Options common to both kinds of pool.
 *
 * @example
 * ```ts
 * const options: Pool.Options = {
 *   module: new URL("./worker.ts", import.meta.url),
 *   size: 4, minSize: 1, idleTimeout: "30 seconds",
 *   maxQueued: 10_000, maxTasksPerWorker: 1_000, taskTimeout: "5 seconds"
 * }
 * ```
 */
export interface Options {
  /**
   * The name the pool is listed under by `Inspect.snapshot` (with its running,
   * queued, workers and idle counts). Without one it is listed as
   * `ThreadPool@<place it was made>` (or `ProcessPool@...`).
   */
  readonly name?: string | undefined
  /** The worker module: a file URL or an absolute path (`.js`, `.mjs` or `.ts`) whose default export is `defineWorker({...})`. */
  readonly module: string | URL
  /** Most workers at once. Default: `os.availableParallelism()`. */
  readonly size?: number | undefined
  /** Workers kept even when idle; the pool starts with this many and grows on demand up to `size`. Default: `size`. */
  readonly minSize?: number | undefined
  /** How long a worker above `minSize` may stay idle before it stops. Default: 10 seconds. */
  readonly idleTimeout?: Duration.Input | undefined
  /** Most tasks waiting to start; `submit` beyond fails with `PoolFullError`. Default: no bound. */
  readonly maxQueued?: number | undefined
  /** A worker is replaced after running this many tasks. Default: no limit. */
  readonly maxTasksPerWorker?: number | undefined
  /** A task running longer than this (from when it starts on a worker) fails with `TaskTimeoutError`, and its worker is replaced. */
  readonly taskTimeout?: Duration.Input | undefined
  /** How long a cancelled running task may take to stop after its `AbortSignal` fires, before its worker is replaced. Default: 1 second. */
  readonly abortTimeout?: Duration.Input | undefined
  /**
   * When `make` returns: `"first"` (the default) as soon as one worker is
   * ready, the others taking tasks as they come up; `"all"` once all `size`
   * workers are ready (all of them are started at once, whatever `minSize`),
   * for callers that need every worker running from the start.
   */
  readonly ready?: "first" | "all" | undefined
}

/**
 * Options for how each worker is started, common to both kinds.
 *
 * @example
 * ```ts
 * const spawn: Pool.SpawnOptions = { env: { ...process.env, MODE: "batch" }, execArgv: ["--max-old-space-size=256"] }
 * ```
 */
export interface SpawnOptions {
  /** The workers' `process.env` (default: the pool's `process.env`, copied when each worker starts). */
  readonly env?: Record<string, string | undefined> | undefined
  /** Runtime options for the workers (default: a worker thread inherits the pool's; a child process gets none). */
  readonly execArgv?: ReadonlyArray<string> | undefined
}

/**
 * What `stats` returns.
 *
 * @example
 * ```ts
 * const { busy, queued, latency } = yield* pool.stats
 * console.log(`${busy} busy, ${queued} queued, p99 ${latency.p99.toFixed(2)} ms`)
 * ```
 */
export interface Stats {
  /** Workers alive (starting, idle or busy). */
  readonly size: number
  /** Workers starting up. */
  readonly starting: number
  /** Workers running a task. */
  readonly busy: number
  /** Workers ready and without a task. */
  readonly idle: number
  /** Tasks submitted and not yet started. */
  readonly queued: number
  /** Tasks that returned a value. */
  readonly completed: number
  /** Tasks that ended with an error (including timeouts, crashes and terminate). */
  readonly failed: number
  /** Tasks whose caller interrupted them. */
  readonly cancelled: number
  /** Tasks moved from a busy worker to an idle one before they started (stolen from a thread worker, given back by a process worker). */
  readonly stolen: number
  /** Submit-to-result latency of completed and failed tasks, in milliseconds. */
  readonly latency: LatencySummary
}

/**
 * Every way a task can fail.
 *
 * @example
 * ```ts
 * const handle = (e: Pool.SubmitError) => e._tag === "TaskError" ? e.remoteMessage : e.message
 * ```
 */
export type SubmitError =
  | TaskError
  | WorkerCrashedError
  | PoolClosedError
  | PoolFullError
  | TaskTimeoutError
  | InvalidArgumentError

/**
 * The task functions of a worker definition.
 *
 * @example
 * ```ts
 * type Tasks = Pool.TasksOf<typeof import("./worker.ts").default> // { inc: (x: number) => number, ... }
 * ```
 */
export type TasksOf<W> = W extends WorkerDefinition<infer T> ? T : Record<string, TaskFunction>

/**
 * A task's arguments, each possibly wrapped in `transfer(...)`.
 *
 * @example
 * ```ts
 * type Args = Pool.ArgsOf<(buffer: ArrayBuffer, n: number) => number> // [ArrayBuffer | Transfer<ArrayBuffer>, number | Transfer<number>]
 * ```
 */
export type ArgsOf<F> = F extends (...args: infer A) => any ? { [I in keyof A]: A[I] | Transfer<A[I]> } : Array<unknown>

/**
 * What a task function's result becomes in the pool: Promise, Effect and `transfer` unwrapped.
 *
 * @example
 * ```ts
 * type A = Pool.ResultOf<(x: number) => Promise<string>> // string
 * type B = Pool.ResultOf<(x: number) => Effect.Effect<number>> // number
 * ```
 */
export type ResultOf<F> = F extends (...args: any) => infer R ? Unwrap<Awaited<R>> : unknown

type Unwrap<R> = R extends Effect.Effect<infer A, any, any> ? A : R extends Transfer<infer A> ? A : R

/**
 * A handle on a task started with `applyAsync` (Python's `AsyncResult`).
 *
 * @example
 * ```ts
 * const result = yield* pool.applyAsync("inc", [1])
 * yield* result.wait
 * const done = yield* result.ready // true
 * const value = yield* result.get // 2
 * ```
 */
export interface AsyncResult<A> {
  /** The task's value, waiting for it (Python: `get()`). */
  readonly get: Effect.Effect<A, SubmitError>
  /** Waits until the task ends, however it ends (Python: `wait()`). */
  readonly wait: Effect.Effect<void>
  /** Whether the task has ended (Python: `ready()`). */
  readonly ready: Effect.Effect<boolean>
}

/**
 * Callbacks for `applyAsync`, run in the pool's thread when the task ends
 * (Python: `callback=` and `error_callback=`). A callback that throws is
 * reported with `console.error` and does not break the pool.
 *
 * @example
 * ```ts
 * const callbacks: Pool.Callbacks<number> = { onSuccess: (n) => console.log(n), onError: (e) => console.error(e.message) }
 * ```
 */
export interface Callbacks<A> {
  readonly onSuccess?: ((value: A) => void) | undefined
  readonly onError?: ((error: SubmitError) => void) | undefined
}

/**
 * A pool of worker threads or processes running the tasks of one worker
 * module. Typed by the module's default export:
 * `ThreadPool.make<typeof import("./worker.ts").default>(...)`.
 *
 * @example
 * ```ts
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* ThreadPool.make<typeof import("./worker.ts").default>({ module: new URL("./worker.ts", import.meta.url) })
 *   const one = yield* pool.submit("inc", 1)           // 2
 *   const all = yield* pool.map("inc", [1, 2, 3])      // [2, 3, 4]
 *   yield* pool.close
 *   yield* pool.join
 * }))
 * ```
 */
export interface Pool<W = WorkerDefinition> {
  /** `"ThreadPool"` or `"ProcessPool"`. */
  readonly kind: PoolKind
  /**
   * Runs one task; interrupting the returned effect cancels it (dropped if
   * queued; aborted, then replaced if it will not stop, if running).
   */
  submit<K extends keyof TasksOf<W> & string>(name: K, ...args: ArgsOf<TasksOf<W>[K]>): Effect.Effect<ResultOf<TasksOf<W>[K]>, SubmitError>
  /** Python's `apply`: the same as `submit`. */
  apply<K extends keyof TasksOf<W> & string>(name: K, ...args: ArgsOf<TasksOf<W>[K]>): Effect.Effect<ResultOf<TasksOf<W>[K]>, SubmitError>
  /**
   * Runs the task once per input (one argument each); all results in input
   * order. The first failure fails the whole map and cancels the rest.
   */
  map<K extends keyof TasksOf<W> & string>(name: K, inputs: Iterable<ArgsOf<TasksOf<W>[K]>[0]>): Effect.Effect<Array<ResultOf<TasksOf<W>[K]>>, SubmitError>
  /** Python's `imap`: the results in input order, each as soon as it and those before it are done. Ending the stream early cancels the rest. */
  imap<K extends keyof TasksOf<W> & string>(name: K, inputs: Iterable<ArgsOf<TasksOf<W>[K]>[0]>): Stream.Stream<ResultOf<TasksOf<W>[K]>, SubmitError>
  /** Python's `imap_unordered`: the results as they complete. Ending the stream early cancels the rest. */
  imapUnordered<K extends keyof TasksOf<W> & string>(name: K, inputs: Iterable<ArgsOf<TasksOf<W>[K]>[0]>): Stream.Stream<ResultOf<TasksOf<W>[K]>, SubmitError>
  /**
   * Python's `apply_async`: starts the task and returns at once with an
   * `AsyncResult`; `onSuccess` / `onError` run when it ends. The task is not
   * tied to the caller's fiber (only `terminate` or the pool's scope stop it).
   */
  applyAsync<K extends keyof TasksOf<W> & string>(
    name: K,
    args: ArgsOf<TasksOf<W>[K]>,
    callbacks?: Callbacks<ResultOf<TasksOf<W>[K]>>
  ): Effect.Effect<AsyncResult<ResultOf<TasksOf<W>[K]>>>
  /** `{ size, starting, busy, idle, queued, completed, failed, cancelled, stolen, latency }` right now. */
  readonly stats: Effect.Effect<Stats>
  /** Refuses new work (`PoolClosedError`), finishes what is queued and running, then stops the workers. Returns at once; `join` waits. */
  readonly close: Effect.Effect<void>
  /** Stops every worker now; queued and running tasks fail with `PoolClosedError`. Waits until every worker has exited. */
  readonly terminate: Effect.Effect<void>
  /** Waits until every worker has exited; call `close` or `terminate` first (else `PoolRunningError`, Python's `ValueError: Pool is still running`). */
  readonly join: Effect.Effect<void, PoolRunningError>
  /**
   * The Promise face, for code that does not use Effect: runs one task and
   * resolves with its result. When the task throws, it rejects with the error
   * the task threw (same class for the built-in ones, same `name`, `message`
   * and the worker's `stack`; Weft's `TaskError` is its `cause`); any other
   * failure rejects with the same tagged error `submit` fails with.
   *
   * @example
   * ```ts
   * const two = await pool.run("inc", 1)
   * const results = await Promise.all([1, 2, 3].map((x) => pool.run("inc", x)))
   * ```
   */
  run<K extends keyof TasksOf<W> & string>(name: K, ...args: ArgsOf<TasksOf<W>[K]>): Promise<ResultOf<TasksOf<W>[K]>>
}
