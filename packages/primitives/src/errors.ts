/**
 * The tagged errors of Weft's primitives. Every one names the primitive and
 * what was wrong, so a log line alone tells the story; catch them by tag with
 * `Effect.catchTag`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Lock.make
 *   return yield* lock.release.pipe(
 *     Effect.catchTag("NotHeldError", (e) => Effect.succeed(e.message))
 *   )
 * })
 * // => "Lock.release: the lock is not held"
 * ```
 *
 * @module
 */
import { Data } from "effect"

/**
 * Releasing a lock that is not held, or waiting on a `Condition` without
 * holding its lock (Python: `RuntimeError: release unlocked lock`).
 *
 * @example
 * ```ts
 * const err = new NotHeldError({ primitive: "Lock", operation: "release" })
 * err.message // "Lock.release: the lock is not held"
 * ```
 */
export class NotHeldError extends Data.TaggedError("NotHeldError")<{
  readonly primitive: string
  readonly operation: string
}> {
  override get message(): string {
    return `${this.primitive}.${this.operation}: the lock is not held`
  }
}

/**
 * Releasing an `RLock` from a fiber that does not own it (Python:
 * `RuntimeError: cannot release un-acquired lock`).
 *
 * @example
 * ```ts
 * const err = new NotOwnerError({ primitive: "RLock", operation: "release", owner: "fiber #3", caller: "fiber #7" })
 * err.message // "RLock.release: held by fiber #3, not by fiber #7"
 * ```
 */
export class NotOwnerError extends Data.TaggedError("NotOwnerError")<{
  readonly primitive: string
  readonly operation: string
  readonly owner: string | undefined
  readonly caller: string
}> {
  override get message(): string {
    return this.owner === undefined
      ? `${this.primitive}.${this.operation}: not held by anyone, so not by ${this.caller}`
      : `${this.primitive}.${this.operation}: held by ${this.owner}, not by ${this.caller}`
  }
}

/**
 * Releasing a bounded semaphore above its initial value (Python:
 * `ValueError: Semaphore released too many times`).
 *
 * @example
 * ```ts
 * const err = new SemaphoreOverflowError({ permits: 4, available: 4, released: 1 })
 * err.message // "BoundedSemaphore.release(1): 4 of 4 permits are already available"
 * ```
 */
export class SemaphoreOverflowError extends Data.TaggedError("SemaphoreOverflowError")<{
  readonly permits: number
  readonly available: number
  readonly released: number
}> {
  override get message(): string {
    return `BoundedSemaphore.release(${this.released}): ${this.available} of ${this.permits} permits are already available`
  }
}

/**
 * A `Barrier` that was aborted, reset while parties waited, or broken by a
 * timed-out or interrupted waiter or a failed action (Python:
 * `threading.BrokenBarrierError`). For `"action failed"`, `cause` holds what
 * the action failed with.
 *
 * @example
 * ```ts
 * const err = new BrokenBarrierError({ reason: "aborted" })
 * err.message // "Barrier is broken (aborted)"
 * ```
 */
export class BrokenBarrierError extends Data.TaggedError("BrokenBarrierError")<{
  readonly reason: "aborted" | "reset" | "timeout" | "interrupted" | "action failed"
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Barrier is broken (${this.reason})`
  }
}

/**
 * `putNowait` / `putFor` on a full queue (Python: `queue.Full`).
 *
 * @example
 * ```ts
 * const err = new QueueFullError({ maxsize: 3 })
 * err.message // "Queue is full (maxsize 3)"
 * ```
 */
export class QueueFullError extends Data.TaggedError("QueueFullError")<{
  readonly maxsize: number
}> {
  override get message(): string {
    return `Queue is full (maxsize ${this.maxsize})`
  }
}

/**
 * `getNowait` / `getFor` on an empty queue (Python: `queue.Empty`).
 *
 * @example
 * ```ts
 * new QueueEmptyError().message // "Queue is empty"
 * ```
 */
export class QueueEmptyError extends Data.TaggedError("QueueEmptyError")<{}> {
  override get message(): string {
    return "Queue is empty"
  }
}

/**
 * Any put, or a get on an empty queue, after `shutdown` (Python 3.13:
 * `queue.ShutDown`).
 *
 * @example
 * ```ts
 * new QueueShutDownError({ operation: "put" }).message // "Queue.put: the queue is shut down"
 * ```
 */
export class QueueShutDownError extends Data.TaggedError("QueueShutDownError")<{
  readonly operation: string
}> {
  override get message(): string {
    return `Queue.${this.operation}: the queue is shut down`
  }
}

/**
 * `taskDone` called more times than there were items put (Python:
 * `ValueError: task_done() called too many times`).
 *
 * @example
 * ```ts
 * new TaskDoneError().message // "Queue.taskDone called more times than items were put"
 * ```
 */
export class TaskDoneError extends Data.TaggedError("TaskDoneError")<{}> {
  override get message(): string {
    return "Queue.taskDone called more times than items were put"
  }
}

/**
 * A bad argument to a constructor or method: negative or fractional permits, a
 * negative maxsize, parties < 1, a negative timeout. It names the argument,
 * what it got, and what it expected. It is a typed failure, not a defect, so
 * code that takes sizes from user input can recover from it.
 *
 * @example
 * ```ts
 * const err = new InvalidArgumentError({ operation: "Semaphore.make", argument: "permits", value: -1, expected: "an integer >= 0" })
 * err.message // "Semaphore.make: permits must be an integer >= 0, got -1"
 * ```
 */
export class InvalidArgumentError extends Data.TaggedError("InvalidArgumentError")<{
  readonly operation: string
  readonly argument: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    return `${this.operation}: ${this.argument} must be ${this.expected}, got ${describe(this.value)}`
  }
}

const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value)
  if (value === undefined || value === null) return String(value)
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}
