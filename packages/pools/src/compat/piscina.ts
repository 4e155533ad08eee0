/**
 * A drop-in for piscina 4: change the import, keep the code.
 *
 * ```ts
 * // import Piscina from "piscina"
 * import Piscina from "@weft/pools/compat/piscina"
 * ```
 *
 * `new Piscina({ filename, ... })`, `run(task, { name, filename, signal,
 * transferList })`, `close({ force })`, `destroy()`, the `drain`, `error` and
 * `ready` events, the figures (`threads`, `queueSize`, `completed`,
 * `utilization`, `duration`, `waitTime`, `runTime`) and the statics (`move`,
 * `isWorkerThread`, `workerData`), with piscina's names and semantics. Worker
 * files stay as they are: `export default fn`, named exports chosen by `name`,
 * `module.exports = fn`, a default export that is a Promise of a function.
 *
 * Underneath is Weft's `ThreadPool` core (`internal/core.ts`): tasks
 * submitted in one tick go to the workers in one message each, results come
 * back in batches, and a task that is slow never holds fast ones hostage. Each
 * thread runs `compat/piscina-worker.ts`, which loads the task's `filename`
 * once and calls its function `name`. A task's error reaches the caller as the
 * error it threw (Weft's `TaskError` in its `cause`). The deliberate
 * differences are listed in the package's `compat/README.md`.
 *
 * @example
 * ```ts
 * import Piscina from "@weft/pools/compat/piscina"
 *
 * const pool = new Piscina({ filename: new URL("./worker.mjs", import.meta.url).href })
 * const result = await pool.run({ a: 4, b: 6 }) // the worker's default export, called with the task
 * await pool.destroy()
 * ```
 *
 * @module
 */
import { Effect, Result } from "effect"
import { EventEmitter } from "node:events"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { isMainThread, workerData as threadWorkerData } from "node:worker_threads"
import { PoolClosedError } from "../errors.ts"
import { Core, type Timers } from "../internal/core.ts"
import { Histogram } from "../internal/histogram.ts"
import { validate } from "../internal/make.ts"
import type { Task } from "../internal/task.ts"
import { asThrown } from "../internal/thrown.ts"
import { threads } from "../internal/transport.ts"
import type * as ThreadPool from "../ThreadPool.ts"
import { transfer } from "../worker.ts"

const hostUrl = new URL(`./piscina-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)
const workerMarker = Symbol.for("@weft/pools/compat/piscina/worker")
const inPoolWorker = !isMainThread && (globalThis as Record<symbol, unknown>)[workerMarker] === true

/**
 * What `run` rejects with when its `signal` aborts: piscina's `AbortError`,
 * with the signal's reason as `cause`.
 *
 * @example
 * ```ts
 * import Piscina, { AbortError } from "@weft/pools/compat/piscina"
 *
 * const pool = new Piscina({ filename: "/abs/path/worker.js" })
 * const controller = new AbortController()
 * const task = pool.run(1, { signal: controller.signal })
 * controller.abort("no longer needed")
 * await task.catch((e) => e instanceof AbortError && e.cause === "no longer needed")
 * ```
 */
export class AbortError extends Error {
  constructor(reason?: unknown) {
    super("The task has been aborted", { cause: reason })
  }
  override get name(): string {
    return "AbortError"
  }
}

/**
 * Piscina's constructor options (those it documents, but `taskQueue`,
 * `useAtomics`, `niceIncrement` and `trackUnmanagedFds`, which are accepted and
 * ignored).
 *
 * @example
 * ```ts
 * import type { Options } from "@weft/pools/compat/piscina"
 *
 * const options: Options = { filename: "/abs/worker.js", minThreads: 1, maxThreads: 4, idleTimeout: 1000, maxQueue: "auto" }
 * ```
 */
export interface Options {
  readonly filename?: string | URL | null | undefined
  readonly name?: string | null | undefined
  readonly minThreads?: number | undefined
  readonly maxThreads?: number | undefined
  readonly idleTimeout?: number | undefined
  readonly maxQueue?: number | "auto" | undefined
  readonly concurrentTasksPerWorker?: number | undefined
  readonly resourceLimits?: ThreadPool.Options["resourceLimits"]
  readonly env?: Record<string, string | undefined> | undefined
  readonly argv?: ReadonlyArray<unknown> | undefined
  readonly execArgv?: ReadonlyArray<string> | undefined
  readonly workerData?: unknown
  readonly closeTimeout?: number | undefined
  readonly recordTiming?: boolean | undefined
  readonly [option: string]: unknown
}

/**
 * The options a pool uses, defaults filled in (`pool.options`).
 *
 * @example
 * ```ts
 * import Piscina from "@weft/pools/compat/piscina"
 *
 * const pool = new Piscina({ filename: "/abs/path/worker.js", maxQueue: "auto" })
 * pool.options.maxQueue // Infinity unless set; maxThreads ** 2 for "auto"
 * ```
 */
export interface FilledOptions extends Options {
  readonly filename: string | null
  readonly name: string
  readonly minThreads: number
  readonly maxThreads: number
  readonly idleTimeout: number
  readonly maxQueue: number
  readonly concurrentTasksPerWorker: number
}

/**
 * What `run` takes besides the task.
 *
 * @example
 * ```ts
 * import type { RunOptions } from "@weft/pools/compat/piscina"
 *
 * const options: RunOptions = { name: "add", signal: AbortSignal.timeout(1000) }
 * ```
 */
export interface RunOptions {
  readonly transferList?: ReadonlyArray<unknown> | undefined
  readonly filename?: string | null | undefined
  readonly name?: string | null | undefined
  readonly signal?: AbortSignalLike | null | undefined
}

/**
 * An `AbortSignal`, or any `EventTarget` or `EventEmitter` that emits
 * `'abort'`, as piscina takes.
 *
 * @example
 * ```ts
 * import type { AbortSignalLike } from "@weft/pools/compat/piscina"
 *
 * const signal: AbortSignalLike = new AbortController().signal
 * ```
 */
export type AbortSignalLike =
  | { addEventListener(name: "abort", listener: () => void, options?: { once: boolean }): void; removeEventListener(name: "abort", listener: () => void): void; readonly aborted?: boolean; readonly reason?: unknown }
  | { once(name: "abort", listener: () => void): void; off(name: "abort", listener: () => void): void; readonly aborted?: boolean; readonly reason?: unknown }

/**
 * `waitTime` and `runTime`: milliseconds, as piscina summarizes them.
 *
 * @example
 * ```ts
 * import Piscina from "@weft/pools/compat/piscina"
 *
 * const pool = new Piscina({ filename: "/abs/path/worker.js" })
 * console.log(`p99 run time ${pool.runTime.p99} ms`)
 * ```
 */
export interface HistogramSummary {
  readonly average: number
  readonly mean: number
  readonly stddev: number
  readonly min: number
  readonly max: number
  readonly p0_001: number
  readonly p0_01: number
  readonly p0_1: number
  readonly p1: number
  readonly p2_5: number
  readonly p10: number
  readonly p25: number
  readonly p50: number
  readonly p75: number
  readonly p90: number
  readonly p97_5: number
  readonly p99: number
  readonly p99_9: number
  readonly p99_99: number
  readonly p99_999: number
}

const percentiles: ReadonlyArray<readonly [keyof HistogramSummary, number]> = [
  ["p0_001", 0.00001],
  ["p0_01", 0.0001],
  ["p0_1", 0.001],
  ["p1", 0.01],
  ["p2_5", 0.025],
  ["p10", 0.1],
  ["p25", 0.25],
  ["p50", 0.5],
  ["p75", 0.75],
  ["p90", 0.9],
  ["p97_5", 0.975],
  ["p99", 0.99],
  ["p99_9", 0.999],
  ["p99_99", 0.9999],
  ["p99_999", 0.99999]
]

const summarize = (histogram: Histogram): HistogramSummary => {
  const { mean, min, max } = histogram.summary()
  const out: Record<string, number> = { average: mean, mean, stddev: histogram.stddev(), min, max }
  for (const [key, q] of percentiles) out[key] = histogram.quantile(q)
  return out as unknown as HistogramSummary
}

const onAbort = (signal: AbortSignalLike, listener: () => void): void => {
  if ("addEventListener" in signal) signal.addEventListener("abort", listener, { once: true })
  else signal.once("abort", listener)
}

const offAbort = (signal: AbortSignalLike, listener: () => void): void => {
  if ("removeEventListener" in signal) signal.removeEventListener("abort", listener)
  else signal.off("abort", listener)
}

const toPath = (filename: string | URL): string =>
  filename instanceof URL ? fileURLToPath(filename) : filename.startsWith("file:") ? fileURLToPath(filename) : filename

// Unref'd: piscina's timers do not keep the process alive either.
const timers: Timers = {
  set: (millis, f) => {
    const timer = setTimeout(f, millis)
    timer.unref?.()
    return () => clearTimeout(timer)
  }
}

const nonNegative = (value: unknown): boolean => typeof value === "number" && value >= 0
const cpus = Math.max(1, availableParallelism())

/**
 * A pool of worker threads with piscina's interface, on Weft's `ThreadPool`.
 *
 * @example
 * ```ts
 * import Piscina from "@weft/pools/compat/piscina"
 *
 * const pool = new Piscina({ filename: "/abs/path/worker.js", maxThreads: 4 })
 * const sums = await Promise.all([1, 2, 3].map((n) => pool.run({ a: n, b: n })))
 * await pool.close()
 * ```
 */
export class Piscina<T = any, R = any> extends EventEmitter {
  readonly #core: Core
  readonly #options: FilledOptions
  readonly #start = performance.now()
  readonly #runTime = new Histogram()
  readonly #waitTime = new Histogram()
  #completed = 0
  #closing = false

  constructor(options: Options = {}) {
    super()
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object")
    const { filename, name, minThreads, maxThreads, idleTimeout, maxQueue, concurrentTasksPerWorker } = options
    if (filename != null && typeof filename !== "string" && !(filename instanceof URL)) {
      throw new TypeError("options.filename must be a string or null")
    }
    if (name != null && typeof name !== "string") throw new TypeError("options.name must be a string or null")
    if (minThreads !== undefined && !nonNegative(minThreads)) throw new TypeError("options.minThreads must be a non-negative integer")
    if (maxThreads !== undefined && !(typeof maxThreads === "number" && maxThreads >= 1)) {
      throw new TypeError("options.maxThreads must be a positive integer")
    }
    if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
      throw new RangeError("options.minThreads and options.maxThreads must not conflict")
    }
    if (idleTimeout !== undefined && !nonNegative(idleTimeout)) throw new TypeError("options.idleTimeout must be a non-negative integer")
    if (maxQueue !== undefined && maxQueue !== "auto" && !nonNegative(maxQueue)) {
      throw new TypeError("options.maxQueue must be a non-negative integer")
    }
    if (concurrentTasksPerWorker !== undefined && !(typeof concurrentTasksPerWorker === "number" && concurrentTasksPerWorker >= 1)) {
      throw new TypeError("options.concurrentTasksPerWorker must be a positive integer")
    }
    // piscina's defaults, and its rule that the one given wins a conflict.
    let min = minThreads ?? Math.max(Math.floor(cpus / 2), 1)
    let max = maxThreads ?? cpus * 1.5
    if (maxThreads !== undefined && min >= maxThreads) min = maxThreads
    if (minThreads !== undefined && max <= minThreads) max = minThreads
    const size = Math.max(1, Math.ceil(max))
    this.#options = {
      ...options,
      filename: filename == null ? null : toPath(filename),
      name: name ?? "default",
      minThreads: min,
      maxThreads: max,
      idleTimeout: idleTimeout ?? 0,
      maxQueue: maxQueue === "auto" ? max ** 2 : maxQueue ?? Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: concurrentTasksPerWorker ?? 1
    }
    const threadOptions: ThreadPool.Options = {
      module: hostUrl,
      size,
      minSize: Math.min(Math.ceil(min), size),
      idleTimeout: idleTimeout ?? 0,
      resourceLimits: options.resourceLimits,
      env: options.env,
      argv: options.argv,
      execArgv: options.execArgv,
      workerData: options.workerData
    }
    const checked = Effect.runSync(Effect.result(validate("Piscina", threadOptions)))
    if (Result.isFailure(checked)) throw checked.failure
    this.#core = new Core({ kind: threads(threadOptions, { unrefIdle: true }), ...checked.success, timers })
    this.#core.onWorkerError = (message) => queueMicrotask(() => this.emit("error", new Error(message)))
    this.#core.spawn(checked.success.minSize)
    this.#core.whenReady(false, (error) => {
      if (error === undefined) queueMicrotask(() => this.emit("ready"))
    })
  }

  /**
   * Runs `task` on a worker thread: the function `name` (default: the
   * constructor's, else `"default"`) of `filename` is called with it. An
   * aborted `signal` rejects with `AbortError`; a running task is stopped and
   * its thread replaced.
   */
  run(task: T, options: RunOptions = {}): Promise<R> {
    if (options === null || typeof options !== "object") return Promise.reject(new TypeError("options must be an object"))
    const { transferList, filename, name, signal } = options
    if (transferList !== undefined && !Array.isArray(transferList)) {
      return Promise.reject(new TypeError("transferList argument must be an Array"))
    }
    if (filename != null && typeof filename !== "string") return Promise.reject(new TypeError("filename argument must be a string"))
    if (name != null && typeof name !== "string") return Promise.reject(new TypeError("name argument must be a string"))
    if (signal != null && typeof signal !== "object") return Promise.reject(new TypeError("signal argument must be an object"))
    const file = filename != null ? toPath(filename) : this.#options.filename
    if (file === null) return Promise.reject(new Error("filename must be provided to run() or in options object"))
    if (this.#closing) return Promise.reject(new AbortError("queue is closing up"))
    if (signal != null && signal.aborted === true) return Promise.reject(new AbortError(signal.reason))
    const full = this.#refusal()
    if (full !== undefined) return Promise.reject(full)
    const core = this.#core
    const arg = transferList !== undefined ? transfer(task, transferList as Array<any>) : task
    const submittedAt = performance.now()
    return new Promise<R>((resolve, reject) => {
      let aborted: (() => void) | undefined
      // Set once the core has queued the task; a refusal settles before (and is not counted).
      let submitted: Task | undefined = undefined
      submitted = core.submit("run", [file, name ?? this.#options.name, arg], (ok, value) => {
        if (aborted !== undefined) offAbort(signal!, aborted)
        if (submitted !== undefined) this.#settled(submitted, submittedAt)
        if (ok) resolve(value as R)
        else reject(this.#error(value))
      })
      if (submitted !== undefined && signal != null) {
        const task = submitted
        aborted = () => {
          core.abort(task)
          this.#settled(task, submittedAt)
          reject(new AbortError(signal.reason))
        }
        onAbort(signal, aborted)
      }
    })
  }

  /** Why a new task is refused under `maxQueue` right now, if it is. */
  #refusal(): Error | undefined {
    const maxQueue = this.#options.maxQueue
    if (maxQueue === Number.POSITIVE_INFINITY) return undefined
    const { size, idle, starting } = this.#core.counts()
    // A task is taken if an idle or starting thread will have it, or a new thread can start for it.
    const free = idle + starting + Math.max(0, Math.ceil(this.#options.maxThreads) - size)
    if (this.#core.queued - free < maxQueue) return undefined
    return maxQueue === 0 ? new Error("No task queue available and all Workers are busy") : new Error("Task queue is at limit")
  }

  #settled(task: Task, submittedAt: number): void {
    this.#completed++
    if (task.runMillis >= 0 && this.#options.recordTiming !== false) {
      this.#runTime.record(task.runMillis)
      this.#waitTime.record(Math.max(0, performance.now() - submittedAt - task.runMillis))
    }
    if (this.listenerCount("drain") > 0 && this.queueSize === 0) queueMicrotask(() => this.emit("drain"))
  }

  #error(value: unknown): unknown {
    if (value instanceof PoolClosedError && value.state === "terminated") {
      return new Error("Terminating worker thread", { cause: value })
    }
    return asThrown(value)
  }

  /** Stops every thread now; queued and running tasks reject. Resolves once all have exited. */
  destroy(): Promise<void> {
    const core = this.#core
    core.terminate()
    return new Promise((resolve) => core.whenExited(resolve))
  }

  /**
   * Takes no more tasks, lets the started ones (and, unless `force`, the
   * queued ones) finish, then stops every thread. With `force`, tasks not
   * started reject with `AbortError`.
   */
  async close(options: { readonly force?: boolean } = {}): Promise<void> {
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object")
    if (options.force !== undefined && typeof options.force !== "boolean") throw new TypeError("force argument must be a boolean")
    this.#closing = true
    const core = this.#core
    if (options.force === true) core.dropUnstarted(new AbortError("pool is closed"))
    core.close()
    await new Promise<void>((resolve) => core.whenExited(resolve))
    this.emit("close")
  }

  /** The options in use, defaults filled in. */
  get options(): FilledOptions {
    return this.#options
  }

  get maxThreads(): number {
    return this.#options.maxThreads
  }

  get minThreads(): number {
    return this.#options.minThreads
  }

  /** The `Worker` of each thread, starting or running. */
  get threads(): Array<unknown> {
    return this.#core.handles()
  }

  /** Tasks waiting for a thread (not running, and not about to start on an idle or starting one). */
  get queueSize(): number {
    const { idle, starting } = this.#core.counts()
    return Math.max(0, this.#core.queued - idle - starting)
  }

  /** Whether more tasks wait than the pool takes (`maxQueue`). */
  get needsDrain(): boolean {
    return this.queueSize >= this.#options.maxQueue
  }

  /** Tasks finished (resolved, rejected or aborted). */
  get completed(): number {
    return this.#completed
  }

  /** Milliseconds since the pool was made. */
  get duration(): number {
    return performance.now() - this.#start
  }

  /** Time tasks waited before they ran, in milliseconds. */
  get waitTime(): HistogramSummary {
    return summarize(this.#waitTime)
  }

  /** Time tasks ran in their threads, in milliseconds. */
  get runTime(): HistogramSummary {
    return summarize(this.#runTime)
  }

  /** Mean run time times tasks run, over `duration` times `maxThreads`: a fraction of the pool's capacity used. */
  get utilization(): number {
    const { count, mean } = this.#runTime.summary()
    if (count === 0) return 0
    return (mean * count) / (this.duration * this.#options.maxThreads)
  }

  /** `true` inside a worker of a pool made here. */
  static get isWorkerThread(): boolean {
    return inPoolWorker
  }

  /** In a pool's worker, the `workerData` given to the pool. */
  static get workerData(): unknown {
    return inPoolWorker ? threadWorkerData : undefined
  }

  /** Marks a result (or task) to be transferred rather than cloned. */
  static move<V>(value: V): V {
    return move(value)
  }

  static get transferableSymbol(): symbol {
    return transferableSymbol
  }

  static get valueSymbol(): symbol {
    return valueSymbol
  }

  static get version(): string {
    return version
  }

  static get Piscina(): typeof Piscina {
    return Piscina
  }
}

/**
 * The property naming what a custom `Transferable` transfers.
 *
 * @example
 * ```ts
 * import { transferableSymbol, valueSymbol } from "@weft/pools/compat/piscina"
 *
 * const buffer = new ArrayBuffer(8)
 * const box = { [transferableSymbol]: [buffer], [valueSymbol]: buffer }
 * ```
 */
export const transferableSymbol: unique symbol = Symbol.for("piscina.transferable")

/**
 * The property giving the value a custom `Transferable` sends in its place.
 *
 * @example
 * ```ts
 * import { transferableSymbol, valueSymbol } from "@weft/pools/compat/piscina"
 *
 * const buffer = new ArrayBuffer(8)
 * const box = { [transferableSymbol]: [buffer], [valueSymbol]: buffer }
 * ```
 */
export const valueSymbol: unique symbol = Symbol.for("piscina.valueSymbol")

/**
 * The piscina version whose interface this follows.
 *
 * @example
 * ```ts
 * import { version } from "@weft/pools/compat/piscina"
 *
 * console.log(version) // "4"
 * ```
 */
export const version = "4"

/**
 * Marks `value` to be transferred rather than cloned when a worker function
 * returns it: an `ArrayBuffer`, a typed array (its buffer moves), a
 * `MessagePort`, or an object with `transferableSymbol` and `valueSymbol`.
 *
 * @example
 * ```ts
 * import { move } from "@weft/pools/compat/piscina"
 *
 * export default () => move(new ArrayBuffer(10))
 * ```
 */
export const move = <V>(value: V): V => {
  if (value === null || typeof value !== "object") return value
  const custom = value as Record<symbol, unknown>
  if (transferableSymbol in custom) {
    const list = custom[transferableSymbol]
    return transfer(custom[valueSymbol], (Array.isArray(list) ? list : [list]) as Array<any>) as unknown as V
  }
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return transfer(value) as unknown as V
  return transfer(value, [value as any]) as unknown as V
}

/**
 * `true` inside a worker of a pool made here (`Piscina.isWorkerThread`).
 *
 * @example
 * ```ts
 * import { isWorkerThread } from "@weft/pools/compat/piscina"
 *
 * if (!isWorkerThread) console.log("main thread")
 * ```
 */
export const isWorkerThread: boolean = inPoolWorker

/**
 * In a pool's worker, the pool's `workerData` (`Piscina.workerData`).
 *
 * @example
 * ```ts
 * import { workerData } from "@weft/pools/compat/piscina"
 *
 * export default (x: number) => x * (workerData as { factor: number }).factor
 * ```
 */
export const workerData: unknown = inPoolWorker ? threadWorkerData : undefined

export default Piscina
