/**
 * The tagged errors of Weft's pools. Each names the pool and what went wrong,
 * so a log line alone tells the story; catch them by tag with
 * `Effect.catchTag`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ThreadPool } from "@weft/pools"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* ThreadPool.make({ module: new URL("./worker.ts", import.meta.url), size: 2 })
 *   return yield* pool.submit("fails").pipe(
 *     Effect.catchTag("TaskError", (e) => Effect.succeed(e.remoteMessage))
 *   )
 * }))
 * ```
 *
 * @module
 */
import { Data } from "effect"

/**
 * Which kind of pool raised an error.
 *
 * @example
 * ```ts
 * const where = (e: TaskError): PoolKind => e.pool // "ThreadPool" or "ProcessPool"
 * ```
 */
export type PoolKind = "ThreadPool" | "ProcessPool"

/**
 * The task threw (or its Promise rejected, or its Effect failed) inside the
 * worker. Carries the remote error's name, message and stack.
 *
 * @example
 * ```ts
 * const err = new TaskError({ pool: "ThreadPool", task: "parse", remoteName: "SyntaxError", remoteMessage: "bad json", remoteStack: "SyntaxError: bad json\n    at ..." })
 * err.message // "ThreadPool task parse failed: SyntaxError: bad json"
 * ```
 */
export class TaskError extends Data.TaggedError("TaskError")<{
  readonly pool: PoolKind
  readonly task: string
  readonly remoteName: string
  readonly remoteMessage: string
  readonly remoteStack: string | undefined
  /** The thrown value itself when it was not an `Error` (cloned back). */
  readonly remoteValue?: unknown
}> {
  override get message(): string {
    return `${this.pool} task ${this.task} failed: ${this.remoteName}: ${this.remoteMessage}`
  }
}

/**
 * The worker running the task died: it exited, threw outside a task, was
 * killed (SIGKILL to a child process), or could not start. The pool replaces
 * it; tasks that had not started on it go back to the queue.
 *
 * @example
 * ```ts
 * const err = new WorkerCrashedError({ pool: "ProcessPool", task: "work", workerId: 3, exitCode: null, signal: "SIGKILL", reason: undefined })
 * err.message // "ProcessPool worker 3 crashed while running task work (signal SIGKILL)"
 * ```
 */
export class WorkerCrashedError extends Data.TaggedError("WorkerCrashedError")<{
  readonly pool: PoolKind
  readonly task: string
  readonly workerId: number
  readonly exitCode: number | null
  readonly signal: string | null
  /** The uncaught error or start-up failure, when there was one. */
  readonly reason: string | undefined
}> {
  override get message(): string {
    const how = this.signal !== null
      ? `signal ${this.signal}`
      : this.exitCode !== null
      ? `exit code ${this.exitCode}`
      : "no exit code"
    return `${this.pool} worker ${this.workerId} crashed while running task ${this.task} (${how})${
      this.reason === undefined ? "" : `: ${this.reason}`
    }`
  }
}

/**
 * Work submitted after `close` or `terminate`, or a task that was still queued
 * or running when the pool was terminated (Python: `ValueError: Pool not
 * running`).
 *
 * @example
 * ```ts
 * const err = new PoolClosedError({ pool: "ThreadPool", operation: "submit", state: "closed" })
 * err.message // "ThreadPool.submit: the pool is closed"
 * ```
 */
export class PoolClosedError extends Data.TaggedError("PoolClosedError")<{
  readonly pool: PoolKind
  readonly operation: string
  readonly state: "closed" | "terminated"
}> {
  override get message(): string {
    return `${this.pool}.${this.operation}: the pool is ${this.state}`
  }
}

/**
 * `join` on a pool that is still running: call `close` or `terminate` first
 * (Python: `ValueError: Pool is still running`).
 *
 * @example
 * ```ts
 * const err = new PoolRunningError({ pool: "ThreadPool", operation: "join" })
 * err.message // "ThreadPool.join: the pool is still running; call close or terminate first"
 * ```
 */
export class PoolRunningError extends Data.TaggedError("PoolRunningError")<{
  readonly pool: PoolKind
  readonly operation: string
}> {
  override get message(): string {
    return `${this.pool}.${this.operation}: the pool is still running; call close or terminate first`
  }
}

/**
 * `submit` when `maxQueued` tasks are already waiting for a worker.
 *
 * @example
 * ```ts
 * const err = new PoolFullError({ pool: "ThreadPool", maxQueued: 100 })
 * err.message // "ThreadPool is full: 100 tasks are already queued (maxQueued 100)"
 * ```
 */
export class PoolFullError extends Data.TaggedError("PoolFullError")<{
  readonly pool: PoolKind
  readonly maxQueued: number
}> {
  override get message(): string {
    return `${this.pool} is full: ${this.maxQueued} tasks are already queued (maxQueued ${this.maxQueued})`
  }
}

/**
 * A task ran longer than `taskTimeout` (counted from when it started on a
 * worker). The stuck worker is replaced.
 *
 * @example
 * ```ts
 * const err = new TaskTimeoutError({ pool: "ProcessPool", task: "spin", timeoutMillis: 500 })
 * err.message // "ProcessPool task spin timed out after 500 ms"
 * ```
 */
export class TaskTimeoutError extends Data.TaggedError("TaskTimeoutError")<{
  readonly pool: PoolKind
  readonly task: string
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `${this.pool} task ${this.task} timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * A bad argument: an option out of range (size 0, minSize above size, a
 * negative timeout), a module that does not exist or has no `defineWorker`
 * default export, an unknown task name, or a task argument that cannot cross
 * to the worker. It names the argument, what it got, and what it expected.
 * It is `@weft/primitives`' `InvalidArgumentError`, so one `catchTag` (or
 * `instanceof`) covers both packages.
 *
 * @example
 * ```ts
 * const err = new InvalidArgumentError({ operation: "ThreadPool.make", argument: "size", value: 0, expected: "an integer >= 1" })
 * err.message // "ThreadPool.make: size must be an integer >= 1, got 0"
 * ```
 */
export { InvalidArgumentError } from "@weft/primitives/errors"
