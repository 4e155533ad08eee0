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
 * const sum = (pool: Pool.Pool) => Effect.map(pool.map("inc", [1, 2, 3]), (xs) => xs.reduce((a, b) => a + b, 0))
 * ```
 *
 * @module
 */
import { Deferred, Duration, Effect, Queue, Cause, Stream } from "effect"
import { existsSync } from "node:fs"
import { availableParallelism } from "node:os"
import { isAbsolute } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import {
  InvalidArgumentError,
  type PoolClosedError,
  type PoolFullError,
  type PoolKind,
  type TaskError,
  type TaskTimeoutError,
  WorkerCrashedError
} from "./errors.ts"
import { Core, type CoreStats, type Task, type Timers } from "./internal/core.ts"
import type { LatencySummary } from "./internal/histogram.ts"
import type { TransportKind } from "./internal/transport.ts"
import type { Transfer, TaskFunction, WorkerDefinition } from "./worker.ts"

/**
 * Submit-to-result latency in milliseconds: `count`, `min`, `p50`, `p90`,
 * `p99`, `max` (log-scale buckets, each percentile within about 9%).
 *
 * @example
 * ```ts
 * const { latency } = yield* pool.stats
 * console.log(`p99 ${latency.p99.toFixed(2)} ms over ${latency.count} tasks`)
 * ```
 */
export type { LatencySummary } from "./internal/histogram.ts"

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
export interface Stats extends CoreStats {
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
  /** Tasks moved from a busy thread worker to an idle one before they started (work stealing). */
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
 * (yield* result.ready) // true
 * (yield* result.get) // 2
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
  /** Waits until every worker has exited; call `close` or `terminate` first (else `InvalidArgumentError`, like Python's `ValueError`). */
  readonly join: Effect.Effect<void, InvalidArgumentError>
}

// ------------------------------------------------------------------ make

/**
 * The constructor both kinds share; use `ThreadPool.make` or `ProcessPool.make`.
 *
 * @example
 * ```ts
 * // what ThreadPool.make does:
 * const pool = yield* Pool.make("ThreadPool", { module: new URL("./worker.ts", import.meta.url) }, threads)
 * ```
 *
 * @internal
 */
export const make = (
  pool: PoolKind,
  options: Options,
  kind: (options: any) => TransportKind
): Effect.Effect<Pool<any>, InvalidArgumentError | WorkerCrashedError, import("effect").Scope.Scope> =>
  Effect.gen(function*() {
    const operation = `${pool}.make`
    const config = yield* validate(operation, options)
    const context = yield* Effect.context<never>()
    const runCallback = Effect.runCallbackWith(context)
    const timers: Timers = {
      set: (millis, f) => {
        const interrupt = runCallback(Effect.sleep(millis), {
          onExit: (exit) => {
            if (exit._tag === "Success") f()
          }
        })
        return () => interrupt()
      }
    }
    const core = new Core({ kind: kind(options), ...config, timers })
    yield* Effect.addFinalizer(() => terminateAndWait(core))
    for (let i = 0; i < config.minSize; i++) core.spawn()
    const startError = yield* Effect.callback<string | undefined>((resume) => {
      core.whenReady((error) => resume(Effect.succeed(error)))
    })
    if (startError !== undefined) {
      const init = core.initError
      if (init !== undefined) {
        return yield* new InvalidArgumentError({
          operation,
          argument: "module",
          value: config.moduleUrl,
          expected: `a module whose default export is defineWorker({ ... }) (${init})`
        })
      }
      return yield* new WorkerCrashedError({ pool, task: "(start-up)", workerId: 0, exitCode: null, signal: null, reason: startError })
    }
    return makePool(core, config)
  })

const terminateAndWait = (core: Core): Effect.Effect<void> =>
  Effect.suspend(() => {
    core.terminate()
    return Effect.callback<void>((resume) => core.whenExited(() => resume(Effect.void)))
  })

interface Config {
  readonly moduleUrl: string
  readonly size: number
  readonly minSize: number
  readonly idleTimeoutMillis: number
  readonly maxQueued: number
  readonly maxTasksPerWorker: number
  readonly taskTimeoutMillis: number | undefined
  readonly abortTimeoutMillis: number
}

const validate = (operation: string, options: Options): Effect.Effect<Config, InvalidArgumentError> =>
  Effect.suspend(() => {
    const bad = (argument: string, value: unknown, expected: string) =>
      Effect.fail(new InvalidArgumentError({ operation, argument, value, expected }))
    if (options === null || typeof options !== "object") return bad("options", options, "an object with at least a module")
    const moduleUrl = toModuleUrl(options.module)
    if (moduleUrl === undefined) return bad("module", String(options.module), "a file URL or an absolute path")
    if (!/\.(m?js|c?js|m?ts)$/.test(moduleUrl)) return bad("module", moduleUrl, "a .js, .mjs or .ts file")
    if (!existsSync(fileURLToPath(moduleUrl))) return bad("module", moduleUrl, "an existing file")
    const positive = (name: string, value: number | undefined, fallback: number, min: number) => {
      if (value === undefined) return fallback
      if (!Number.isInteger(value) || value < min) return new InvalidArgumentError({ operation, argument: name, value, expected: `an integer >= ${min}` })
      return value
    }
    const size = positive("size", options.size, Math.max(1, availableParallelism()), 1)
    if (typeof size !== "number") return Effect.fail(size)
    const minSize = positive("minSize", options.minSize, size, 0)
    if (typeof minSize !== "number") return Effect.fail(minSize)
    if (minSize > size) return bad("minSize", minSize, `at most size (${size})`)
    const maxQueued = positive("maxQueued", options.maxQueued, Number.POSITIVE_INFINITY, 1)
    if (typeof maxQueued !== "number") return Effect.fail(maxQueued)
    const maxTasksPerWorker = positive("maxTasksPerWorker", options.maxTasksPerWorker, Number.POSITIVE_INFINITY, 1)
    if (typeof maxTasksPerWorker !== "number") return Effect.fail(maxTasksPerWorker)
    const duration = (name: string, value: Duration.Input | undefined, positiveOnly: boolean) => {
      if (value === undefined) return undefined
      const decoded = Duration.fromInput(value)
      if (decoded._tag === "None") return new InvalidArgumentError({ operation, argument: name, value, expected: "a duration (milliseconds or a string like \"5 seconds\")" })
      const millis = Duration.toMillis(decoded.value)
      if (!(millis >= 0) || (positiveOnly && millis === 0)) {
        return new InvalidArgumentError({ operation, argument: name, value, expected: positiveOnly ? "a positive duration" : "a duration >= 0" })
      }
      return millis
    }
    const idle = duration("idleTimeout", options.idleTimeout, false)
    if (idle instanceof InvalidArgumentError) return Effect.fail(idle)
    const taskTimeout = duration("taskTimeout", options.taskTimeout, true)
    if (taskTimeout instanceof InvalidArgumentError) return Effect.fail(taskTimeout)
    const abort = duration("abortTimeout", options.abortTimeout, false)
    if (abort instanceof InvalidArgumentError) return Effect.fail(abort)
    return Effect.succeed({
      moduleUrl,
      size,
      minSize,
      idleTimeoutMillis: idle ?? 10_000,
      maxQueued,
      maxTasksPerWorker,
      taskTimeoutMillis: taskTimeout,
      abortTimeoutMillis: abort ?? 1_000
    })
  })

const toModuleUrl = (module: unknown): string | undefined => {
  if (module instanceof URL) return module.protocol === "file:" ? module.href : undefined
  if (typeof module !== "string") return undefined
  if (module.startsWith("file:")) {
    try {
      return new URL(module).href
    } catch {
      return undefined
    }
  }
  return isAbsolute(module) ? pathToFileURL(module).href : undefined
}

// ------------------------------------------------------------------ instance

const makePool = (core: Core, config: Config): Pool<any> => {
  // Bulk calls keep at most maxQueued tasks outstanding, so they alone never overflow the queue.
  const window = config.maxQueued

  const submit = (name: string, ...args: Array<unknown>): Effect.Effect<any, SubmitError> =>
    Effect.callback<any, SubmitError>((resume) => {
      const task = core.submit(name, args, (ok, value) => resume(ok ? Effect.succeed(value) : Effect.fail(value as SubmitError)))
      if (task !== undefined) return Effect.sync(() => core.cancel(task))
    })

  /**
   * Runs `name` over `inputs` keeping at most `window` tasks outstanding;
   * `onResult(index, value)` for each success, `onEnd(error?)` once.
   */
  const runMany = (
    name: string,
    inputs: Iterable<unknown>,
    onResult: (index: number, value: unknown) => void,
    onEnd: (error: SubmitError | undefined) => void
  ): () => void => {
    const items = Array.from(inputs)
    const outstanding = new Set<Task>()
    let next = 0
    let done = 0
    let ended = false
    const end = (error: SubmitError | undefined) => {
      if (ended) return
      ended = true
      for (const task of outstanding) core.cancel(task)
      outstanding.clear()
      onEnd(error)
    }
    const launch = () => {
      while (!ended && next < items.length && outstanding.size < window) {
        const index = next++
        let task: Task | undefined = undefined
        let settled = false
        task = core.submit(name, [items[index]], (ok, value) => {
          settled = true
          if (task !== undefined) outstanding.delete(task)
          if (ended) return
          if (!ok) return end(value as SubmitError)
          onResult(index, value)
          if (++done === items.length) return end(undefined)
          if (next < items.length) launch()
        })
        if (task !== undefined && !settled) outstanding.add(task)
      }
    }
    if (items.length === 0) end(undefined)
    else launch()
    return () => end(undefined)
  }

  const map = (name: string, inputs: Iterable<unknown>) =>
    Effect.callback<Array<unknown>, SubmitError>((resume) => {
      const results: Array<unknown> = []
      const cancel = runMany(name, inputs, (i, v) => {
        results[i] = v
      }, (error) => resume(error === undefined ? Effect.succeed(results) : Effect.fail(error)))
      return Effect.sync(cancel)
    })

  const imapUnordered = (name: string, inputs: Iterable<unknown>) =>
    Stream.callback<unknown, SubmitError>((queue) =>
      Effect.gen(function*() {
        const cancel = runMany(name, inputs, (_, v) => {
          Queue.offerUnsafe(queue, v)
        }, (error) => {
          if (error === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(error))
        })
        yield* Effect.addFinalizer(() => Effect.sync(cancel))
      })
    )

  const imap = (name: string, inputs: Iterable<unknown>) =>
    Stream.callback<unknown, SubmitError>((queue) =>
      Effect.gen(function*() {
        const held = new Map<number, unknown>()
        let nextOut = 0
        const cancel = runMany(name, inputs, (i, v) => {
          held.set(i, v)
          while (held.has(nextOut)) {
            Queue.offerUnsafe(queue, held.get(nextOut))
            held.delete(nextOut++)
          }
        }, (error) => {
          if (error === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(error))
        })
        yield* Effect.addFinalizer(() => Effect.sync(cancel))
      })
    )

  const applyAsync = (name: string, args: ReadonlyArray<unknown>, callbacks?: Callbacks<any>) =>
    Effect.sync((): AsyncResult<any> => {
      const deferred = Deferred.makeUnsafe<any, SubmitError>()
      core.submit(name, args, (ok, value) => {
        try {
          if (ok) callbacks?.onSuccess?.(value)
          else callbacks?.onError?.(value as SubmitError)
        } catch (error) {
          console.error(`${core.pool}.applyAsync(${JSON.stringify(name)}): a callback threw`, error)
        }
        Deferred.doneUnsafe(deferred, ok ? Effect.succeed(value) : Effect.fail(value as SubmitError))
      })
      return {
        get: Deferred.await(deferred),
        wait: Effect.asVoid(Effect.exit(Deferred.await(deferred))),
        ready: Deferred.isDone(deferred)
      }
    })

  return {
    kind: core.pool,
    submit,
    apply: submit,
    map,
    imap,
    imapUnordered,
    applyAsync,
    stats: Effect.sync(() => ({ ...core.stats(), latency: core.histogram.summary() })),
    close: Effect.sync(() => core.close()),
    terminate: terminateAndWait(core),
    join: Effect.suspend(() =>
      core.state === "open"
        ? Effect.fail(
          new InvalidArgumentError({ operation: `${core.pool}.join`, argument: "the pool", value: "running", expected: "closed or terminated first" })
        )
        : Effect.callback<void>((resume) => core.whenExited(() => resume(Effect.void)))
    )
  } as Pool<any>
}
