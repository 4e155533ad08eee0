/**
 * A counting semaphore for worker threads, over a `SharedArrayBuffer` —
 * Python's `threading.Semaphore` and `BoundedSemaphore` between real threads.
 *
 * What Effect gives: nothing at this scope (Effect has no SharedArrayBuffer
 * primitive; its `Semaphore` counts permits for fibers of one thread). What
 * Weft adds: the `Semaphore` interface across `node:worker_threads` workers,
 * with a `handle` and `SharedSemaphore.attach(handle)`.
 *
 * Waiting works as in `SharedLock`: one `compareExchange` when permits are
 * free and nobody queues; otherwise FIFO tickets across all threads (a large
 * request at the head is not overtaken by smaller ones behind it), a bounded
 * spin, then `Atomics.waitAsync`, with the thread kept alive while it waits.
 * An interrupted or timed-out waiter takes no permit and leaves no wake-up
 * behind. A thread terminated while waiting is skipped after about
 * 0.2-0.4 s; permits held by a thread that is terminated are not returned
 * (no shared memory can tell) — `release` them from the thread that saw it
 * die.
 *
 * Scopes: fiber: `Semaphore`; worker threads: this module; processes:
 * `manager.semaphore(n)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { SharedSemaphore } from "@weft/primitives"
 *
 * // At most 2 of the 4 workers download at a time.
 * const program = Effect.gen(function*() {
 *   const slots = yield* SharedSemaphore.make(2)
 *   for (let i = 0; i < 4; i++) {
 *     new Worker(new URL("./download.ts", import.meta.url), { workerData: slots.handle })
 *   }
 * })
 *
 * // download.ts
 * declare const download: Effect.Effect<void>
 * const worker = Effect.gen(function*() {
 *   const slots = yield* SharedSemaphore.attach(workerData)
 *   yield* slots.withPermits(1)(download)
 * })
 * ```
 *
 * @module
 */
import * as Effect from "effect/Effect"
import { InvalidArgumentError } from "../errors.ts"
import { PermitSemaphore } from "../internal/PermitSemaphore.ts"
import { count } from "../validate.ts"
import type * as Semaphore from "../Semaphore.ts"
import { checkHandle, checkName, type Handle as AnyHandle, handleOf, Kind, nameOf } from "./internal/futex.ts"
import { BYTES, SharedPermits } from "./internal/SharedPermits.ts"
import * as Registry from "../inspect/Registry.ts"

/**
 * What crosses threads: structured-cloneable, turned back into a semaphore
 * with `SharedSemaphore.attach`.
 *
 * @example
 * ```ts
 * declare const sem: SharedSemaphore.SharedSemaphore
 * new Worker(new URL("./worker.ts", import.meta.url), { workerData: sem.handle satisfies SharedSemaphore.Handle })
 * ```
 */
export type Handle = AnyHandle<"SharedSemaphore">

/**
 * A `Semaphore` shared between worker threads, plus its `handle`.
 *
 * @example
 * ```ts
 * const limited = (sem: Semaphore.Semaphore) => sem.withPermits(1)(Effect.log("one of n"))
 * yield* limited(yield* SharedSemaphore.make(3)) // a SharedSemaphore is a Semaphore
 * ```
 */
export interface SharedSemaphore extends Semaphore.Semaphore {
  /** Pass this to another thread and `attach` it there. */
  readonly handle: Handle
}

class SharedSemaphoreImpl extends PermitSemaphore implements SharedSemaphore {
  readonly handle: Handle

  constructor(array: Int32Array, name: string | undefined) {
    const core = new SharedPermits(array, true)
    const bounded = core.bound >= 0
    super(bounded ? "SharedSemaphore.bounded" : "SharedSemaphore", core, core.bound, bounded)
    this.handle = handleOf("SharedSemaphore", array.buffer, name)
    Registry.register(this, { kind: "SharedSemaphore", scope: "thread", name }, () => core.state())
  }
}

// Permits live in an Int32 word.
const MAX = 0x3fffffff

/**
 * Options of `make` and `bounded`.
 *
 * @example
 * ```ts
 * const gpus = yield* SharedSemaphore.make(2, { name: "gpus" })
 * ```
 */
export interface Options {
  /** The name `Inspect.snapshot` lists it under, in every thread that made or attached it. */
  readonly name?: string | undefined
}

const makeWith = (operation: string, permits: number, bounded: boolean, options: Options | undefined) =>
  Effect.suspend(() => {
    const error = checkName(operation, options?.name) ?? count(operation, "permits", permits, 0) ??
      (permits > MAX
        ? new InvalidArgumentError({ operation, argument: "permits", value: permits, expected: `at most ${MAX}` })
        : undefined)
    return error
      ? Effect.fail(error)
      : Effect.succeed<SharedSemaphore>(
        new SharedSemaphoreImpl(SharedPermits.allocate(Kind.SharedSemaphore, permits, bounded ? permits : -1), options?.name)
      )
  })

/**
 * Creates a shared semaphore with `permits` free permits (an integer >= 0).
 * `release` may raise the count above `permits`, as in Python.
 *
 * @example
 * ```ts
 * const sem = yield* SharedSemaphore.make(2)
 * yield* sem.acquire()
 * yield* sem.available // 1, in every thread that attached it
 * ```
 */
export const make = (permits: number, options?: Options): Effect.Effect<SharedSemaphore, InvalidArgumentError> =>
  makeWith("SharedSemaphore.make", permits, false, options)

/**
 * Creates a bounded shared semaphore: a `release` that would raise the count
 * above `permits` fails with `SemaphoreOverflowError`, whichever thread
 * releases.
 *
 * @example
 * ```ts
 * const sem = yield* SharedSemaphore.bounded(1)
 * yield* Effect.flip(sem.release()) // SemaphoreOverflowError
 * ```
 */
export const bounded = (permits: number, options?: Options): Effect.Effect<SharedSemaphore, InvalidArgumentError> =>
  makeWith("SharedSemaphore.bounded", permits, true, options)

/**
 * Uses, in this thread, the semaphore whose `handle` another thread sent
 * (bounded or not, as it was made). Fails with `InvalidArgumentError` when
 * `handle` is not a `SharedSemaphore` handle.
 *
 * @example
 * ```ts
 * const sem = yield* SharedSemaphore.attach(workerData)
 * yield* sem.withPermits(1)(Effect.log("in the worker"))
 * ```
 */
export const attach = (handle: Handle): Effect.Effect<SharedSemaphore, InvalidArgumentError> =>
  Effect.suspend(() => {
    const checked = checkHandle("SharedSemaphore", handle, BYTES)
    return checked instanceof Int32Array ? Effect.succeed(new SharedSemaphoreImpl(checked, nameOf(handle))) : Effect.fail(checked)
  })
