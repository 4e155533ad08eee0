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
import * as Data from "effect/Data"

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
 * A wait on a fiber-scope `Lock` or `Semaphore` that was cancelled by
 * `cancelWaiters(reason)` before it was served; `reason` is what the canceller
 * gave (async-mutex's `cancel()` rejects with `E_CANCELED`).
 *
 * @example
 * ```ts
 * const err = new WaitCancelledError({ primitive: "Lock", reason: "shutting down" })
 * err.message // "Lock: the wait was cancelled (shutting down)"
 * ```
 */
export class WaitCancelledError extends Data.TaggedError("WaitCancelledError")<{
  readonly primitive: string
  readonly reason: unknown
}> {
  override get message(): string {
    return this.reason === undefined
      ? `${this.primitive}: the wait was cancelled`
      : `${this.primitive}: the wait was cancelled (${this.reason instanceof Error ? this.reason.message : String(this.reason)})`
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

/**
 * A `SharedQueue` item whose JSON encoding does not fit in the queue's byte
 * buffer even when the queue is empty. It is refused whole, never truncated;
 * make the queue with a larger `bytes` option, or send a smaller item.
 *
 * @example
 * ```ts
 * const err = new QueueItemTooLargeError({ bytes: 70_000, capacity: 65_536 })
 * err.message // "SharedQueue.put: the item takes 70000 bytes, more than the queue's 65536-byte buffer"
 * ```
 */
export class QueueItemTooLargeError extends Data.TaggedError("QueueItemTooLargeError")<{
  readonly bytes: number
  readonly capacity: number
}> {
  override get message(): string {
    return `SharedQueue.put: the item takes ${this.bytes} bytes, more than the queue's ${this.capacity}-byte buffer`
  }
}

const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value)
  if (value === undefined || value === null) return String(value)
  if (typeof value === "function") return `a function${value.name ? ` (${value.name})` : ""}`
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

// --- process scope: Manager and FileLock -----------------------------------

/**
 * `Manager.attach` with a handle whose key the manager does not accept (like
 * a wrong `authkey` in Python's `multiprocessing`): the connection is refused
 * and closed before any operation runs.
 *
 * @example
 * ```ts
 * const err = new ManagerAuthError({ address: "/tmp/weft-x/manager.sock" })
 * err.message // "Manager at /tmp/weft-x/manager.sock refused the connection: wrong key"
 * ```
 */
export class ManagerAuthError extends Data.TaggedError("ManagerAuthError")<{
  readonly address: string
}> {
  override get message(): string {
    return `Manager at ${this.address} refused the connection: wrong key`
  }
}

/**
 * A manager that cannot be reached or stopped answering: nothing listens at
 * the handle's address, the connection dropped, or the handle names a
 * primitive the manager does not host. Raised by `Manager.attach` as a typed
 * failure; an operation of an attached primitive whose connection drops dies
 * with it (a defect: the primitive interfaces have no room for transport
 * errors), and everything the process held there is released by the manager.
 *
 * @example
 * ```ts
 * const err = new ManagerUnavailableError({ address: "/tmp/weft-x/manager.sock", reason: "ECONNREFUSED" })
 * err.message // "Manager at /tmp/weft-x/manager.sock is unavailable: ECONNREFUSED"
 * ```
 */
export class ManagerUnavailableError extends Data.TaggedError("ManagerUnavailableError")<{
  readonly address: string
  readonly reason: string
}> {
  override get message(): string {
    return `Manager at ${this.address} is unavailable: ${this.reason}`
  }
}

/**
 * The manager's scope was closed while a client waited (or a client called it
 * afterwards). Every waiting operation of every attached process dies with
 * this error (a defect carrying it; see `ManagerUnavailableError`).
 *
 * @example
 * ```ts
 * const err = new ManagerClosedError({ address: "/tmp/weft-x/manager.sock", operation: "lock.acquire" })
 * err.message // "lock.acquire: the manager at /tmp/weft-x/manager.sock was closed"
 * ```
 */
export class ManagerClosedError extends Data.TaggedError("ManagerClosedError")<{
  readonly address: string
  readonly operation: string
}> {
  override get message(): string {
    return `${this.operation}: the manager at ${this.address} was closed`
  }
}

/**
 * A lock file whose content is not a Weft `FileLock` record (empty, truncated,
 * or written by another tool). `FileLock.inspect` fails with it; `acquire`
 * treats such a file as held by an unknown owner and takes it over only once
 * its mtime is older than the staleness window.
 *
 * @example
 * ```ts
 * const err = new FileLockCorruptError({ path: "/tmp/app.lock", content: "garbage" })
 * err.message // "FileLock /tmp/app.lock: not a FileLock record: \"garbage\""
 * ```
 */
export class FileLockCorruptError extends Data.TaggedError("FileLockCorruptError")<{
  readonly path: string
  readonly content: string
}> {
  override get message(): string {
    return `FileLock ${this.path}: not a FileLock record: ${JSON.stringify(this.content.slice(0, 80))}`
  }
}

/**
 * A file-system failure under a `FileLock` other than contention (the
 * directory is missing or not writable, ...). It names the path, the
 * operation and the system error code. `acquire` dies with it (a defect: the
 * `Lock` interface has no error channel for I/O).
 *
 * @example
 * ```ts
 * const err = new FileLockError({ path: "/nope/app.lock", operation: "acquire", reason: "ENOENT: no such file or directory" })
 * err.message // "FileLock /nope/app.lock: acquire failed: ENOENT: no such file or directory"
 * ```
 */
export class FileLockError extends Data.TaggedError("FileLockError")<{
  readonly path: string
  readonly operation: string
  readonly reason: string
}> {
  override get message(): string {
    return `FileLock ${this.path}: ${this.operation} failed: ${this.reason}`
  }
}

/**
 * One edge of the lock-order graph: `to` was taken while `from` was held.
 * `where` is the first place the edge was seen (a span or stack frame), `who`
 * the fiber, thread or process that took it.
 *
 * @example
 * ```ts
 * import type { LockOrderEdge } from "@weft/primitives"
 *
 * const edge: LockOrderEdge = { from: "accounts", to: "audit", where: "src/transfer.ts:12", who: "fiber #7" }
 * ```
 */
export interface LockOrderEdge {
  readonly from: string
  readonly to: string
  readonly where: string
  readonly who: string
}

/**
 * Lock-order checking (lockdep) saw an acquisition that would close a cycle in
 * the order in which lock classes (by name) are taken: `acquiring` while
 * holding `held`, when the opposite order (`cycle`, edge by edge) was seen
 * before. Nothing has deadlocked yet, and the two orders need never have
 * raced; the acquisition fails so that the inversion is fixed.
 *
 * @example
 * ```ts
 * const err = new LockOrderError({
 *   acquiring: "a", held: "b",
 *   cycle: [{ from: "a", to: "b", where: "src/x.ts:3", who: "fiber #2" }],
 *   where: "src/y.ts:9", who: "fiber #5"
 * })
 * err.message // "lock order: taking a while holding b (src/y.ts:9, fiber #5) inverts a -> b (first seen at src/x.ts:3, fiber #2)"
 * ```
 */
export class LockOrderError extends Data.TaggedError("LockOrderError")<{
  readonly acquiring: string
  readonly held: string
  /** The order seen before, from `acquiring` back to `held`, with where each edge was first seen. */
  readonly cycle: ReadonlyArray<LockOrderEdge>
  readonly where: string
  readonly who: string
}> {
  override get message(): string {
    const seen = this.cycle.map((e) => `${e.from} -> ${e.to} (first seen at ${e.where}, ${e.who})`).join(", ")
    return `lock order: taking ${this.acquiring} while holding ${this.held} (${this.where}, ${this.who}) inverts ${seen}`
  }
}

/**
 * A cycle of waiters, each waiting for a lock the next one holds: a real
 * deadlock. One waiter (the one whose wait closed the cycle) fails with it,
 * naming the cycle, as PostgreSQL does; the others go on. At cluster scope,
 * PostgreSQL's own deadlock error (40P01) surfaces as this error.
 *
 * @example
 * ```ts
 * const err = new DeadlockError({ cycle: [{ who: "fiber #3", waitsFor: "a", heldBy: "fiber #4" }, { who: "fiber #4", waitsFor: "b", heldBy: "fiber #3" }] })
 * err.message // "deadlock: fiber #3 waits for a held by fiber #4; fiber #4 waits for b held by fiber #3"
 * ```
 */
export class DeadlockError extends Data.TaggedError("DeadlockError")<{
  readonly cycle: ReadonlyArray<{ readonly who: string; readonly waitsFor: string; readonly heldBy: string }>
  /** The database's own words, at cluster scope. */
  readonly detail?: string | undefined
}> {
  override get message(): string {
    const path = this.cycle.map((c) => `${c.who} waits for ${c.waitsFor} held by ${c.heldBy}`).join("; ")
    return `deadlock: ${path}${this.detail === undefined ? "" : ` (${this.detail})`}`
  }
}

/**
 * A fiber (thread, process) asked for a non-reentrant lock it already holds:
 * it would wait for itself forever. Raised at once when lock-order checking
 * is on.
 *
 * @example
 * ```ts
 * const err = new RelockError({ lock: "accounts", who: "fiber #4", heldSince: "src/a.ts:10" })
 * err.message // "accounts: fiber #4 already holds this lock (taken at src/a.ts:10) and would wait for itself"
 * ```
 */
export class RelockError extends Data.TaggedError("RelockError")<{
  readonly lock: string
  readonly who: string
  readonly heldSince: string
}> {
  override get message(): string {
    return `${this.lock}: ${this.who} already holds this lock (taken at ${this.heldSince}) and would wait for itself`
  }
}
