/**
 * The worker side of a pool: `defineWorker({ name: fn })` is the default
 * export of a pool's worker module. This entry point (`@weft/pools/worker`)
 * does not import `effect`, so a worker starts in a few milliseconds; the same
 * names are re-exported from `@weft/pools`.
 *
 * A task function takes the task's arguments and returns a value, a Promise
 * or an Effect. Cancellation reaches it as an `AbortSignal`: `this.signal` in
 * a `function`, or `currentSignal()` (call it before the first `await`) in an
 * arrow function. An Effect result is interrupted on cancellation.
 *
 * @example
 * ```ts
 * // worker.ts
 * import { currentSignal, defineWorker } from "@weft/pools/worker"
 *
 * export default defineWorker({
 *   inc: (x: number) => x + 1,
 *   fetchSlowly: async (ms: number) => {
 *     const signal = currentSignal()
 *     await new Promise((resolve) => setTimeout(resolve, ms))
 *     signal.throwIfAborted()
 *     return "done"
 *   }
 * })
 * ```
 *
 * @module
 */

import type { TransferListItem } from "node:worker_threads"

/**
 * The brand that marks a `defineWorker` result (a global symbol, so two copies of this module agree).
 *
 * @example
 * ```ts
 * defineWorker({})[WorkerDefinitionTypeId] // true
 * ```
 */
export const WorkerDefinitionTypeId: unique symbol = Symbol.for("@weft/pools/WorkerDefinition") as never

/**
 * What a task function may be: any function of cloneable arguments returning a
 * value, a Promise or an Effect.
 *
 * @example
 * ```ts
 * const inc: TaskFunction = (x: number) => x + 1
 * ```
 */
export type TaskFunction = (this: TaskContext, ...args: Array<any>) => unknown

/**
 * What `this` is inside a task function declared with `function`.
 *
 * @example
 * ```ts
 * defineWorker({
 *   poll: async function(this: TaskContext, url: string) {
 *     return await fetch(url, { signal: this.signal }).then((r) => r.status)
 *   }
 * })
 * ```
 */
export interface TaskContext {
  /** Aborted when the task is cancelled (its `submit` was interrupted, or the pool terminates). */
  readonly signal: AbortSignal
  /** The pool-wide id of this task. */
  readonly taskId: number
}

/**
 * A worker module's default export: the task functions by name.
 *
 * @example
 * ```ts
 * const definition: WorkerDefinition<{ inc: (x: number) => number }> = defineWorker({ inc: (x: number) => x + 1 })
 * definition.tasks.inc(1) // 2
 * ```
 */
export interface WorkerDefinition<Tasks extends Record<string, TaskFunction> = Record<string, TaskFunction>> {
  readonly [WorkerDefinitionTypeId]: true
  readonly tasks: Tasks
}

/**
 * Declares the tasks of a worker module; make it the module's default export.
 * The pool is typed from it: `ThreadPool.make<typeof import("./worker.ts").default>(...)`.
 *
 * @example
 * ```ts
 * // worker.ts
 * import { defineWorker } from "@weft/pools/worker"
 * import { Effect } from "effect"
 *
 * export default defineWorker({
 *   inc: (x: number) => x + 1,
 *   double: async (x: number) => x * 2,
 *   square: (x: number) => Effect.succeed(x * x)
 * })
 * ```
 */
export const defineWorker = <const Tasks extends Record<string, TaskFunction>>(tasks: Tasks): WorkerDefinition<Tasks> => {
  if (tasks === null || typeof tasks !== "object") {
    throw new TypeError(`defineWorker: expected an object of task functions, got ${String(tasks)}`)
  }
  for (const [name, fn] of Object.entries(tasks)) {
    if (typeof fn !== "function") {
      throw new TypeError(`defineWorker: task ${JSON.stringify(name)} must be a function, got ${typeof fn}`)
    }
  }
  return { [WorkerDefinitionTypeId]: true, tasks }
}

/**
 * Whether a value is a `defineWorker` result.
 *
 * @example
 * ```ts
 * isWorkerDefinition(defineWorker({})) // true
 * isWorkerDefinition({ inc: () => 1 }) // false
 * ```
 */
export const isWorkerDefinition = (u: unknown): u is WorkerDefinition =>
  typeof u === "object" && u !== null && (u as any)[WorkerDefinitionTypeId] === true

/**
 * The brand of a `transfer(...)` wrapper.
 *
 * @example
 * ```ts
 * transfer(new ArrayBuffer(8))[TransferTypeId] // true
 * ```
 *
 * @internal
 */
export const TransferTypeId: unique symbol = Symbol.for("@weft/pools/Transfer") as never

/**
 * A value to send with a transfer list: the listed `ArrayBuffer`s (or
 * `MessagePort`s) are moved, not copied (thread pools only; a process pool
 * copies). Use it for a task argument or a task's return value.
 *
 * @example
 * ```ts
 * const buffer = new ArrayBuffer(1 << 20)
 * pool.submit("checksum", transfer(buffer, [buffer])) // buffer is detached here afterwards
 * ```
 */
export interface Transfer<A = unknown> {
  readonly [TransferTypeId]: true
  readonly value: A
  readonly transferList: ReadonlyArray<Transferable>
}

type Transferable = TransferListItem

/**
 * Marks `value` to be sent with `transferList` moved instead of copied. When
 * no list is given and `value` is an `ArrayBuffer` or a typed array, its
 * buffer is moved.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(1024)
 * pool.submit("hash", transfer(bytes)) // moves bytes.buffer
 * ```
 */
export const transfer = <A>(value: A, transferList?: ReadonlyArray<Transferable>): Transfer<A> => {
  let list = transferList
  if (list === undefined) {
    if (value instanceof ArrayBuffer) list = [value]
    else if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) list = [value.buffer]
    else list = []
  }
  return { [TransferTypeId]: true, value, transferList: list }
}

/**
 * Whether a value is a `transfer(...)` wrapper.
 *
 * @example
 * ```ts
 * isTransfer(transfer(new ArrayBuffer(8))) // true
 * ```
 *
 * @internal
 */
export const isTransfer = (u: unknown): u is Transfer =>
  typeof u === "object" && u !== null && (u as any)[TransferTypeId] === true

// The running task's context, set by the worker entry around each task call.
// A global symbol, so the entry and the user's copy of this module agree.
const CURRENT = Symbol.for("@weft/pools/currentTask")

/**
 * The `AbortSignal` of the task that is starting right now. Call it
 * synchronously at the start of a task function (before any `await`).
 *
 * @example
 * ```ts
 * defineWorker({
 *   sleep: (ms: number) => {
 *     const signal = currentSignal()
 *     return new Promise((resolve, reject) => {
 *       const timer = setTimeout(resolve, ms)
 *       signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason) })
 *     })
 *   }
 * })
 * ```
 */
export const currentSignal = (): AbortSignal => {
  const current = (globalThis as { [CURRENT]?: TaskContext | undefined })[CURRENT]
  if (current === undefined) {
    throw new Error("currentSignal() must be called synchronously at the start of a pool task")
  }
  return current.signal
}
