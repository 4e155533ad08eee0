/**
 * A mutual-exclusion lock for worker threads, over a `SharedArrayBuffer` —
 * Python's `threading.Lock` between real threads.
 *
 * What Effect gives: nothing at this scope (Effect has no SharedArrayBuffer
 * primitive; its `Semaphore` guards fibers of one thread). What Weft adds: the
 * `Lock` interface across `node:worker_threads` workers, with a `handle` to
 * pass in `postMessage` / `workerData` and `SharedLock.attach(handle)` on the
 * other side.
 *
 * How it waits: uncontended, `acquire` is one `Atomics.compareExchange` (no
 * allocation). Contended, waiters of all threads queue on FIFO tickets (no
 * thread starves), spin briefly, then sleep in `Atomics.waitAsync` — never
 * `Atomics.wait`, so a waiting thread's event loop keeps running. While a fiber
 * waits, its thread is kept alive (a pending `waitAsync` alone does not keep a
 * Node or Deno process alive). An interrupted or timed-out waiter holds
 * nothing and leaves no wake-up behind; `acquireFor` counts its timeout on the
 * Effect clock, like the fiber `Lock`.
 *
 * Like Python's `Lock`, a `SharedLock` has no owner: any fiber of any thread
 * may release it.
 *
 * Dead threads: a thread terminated while *waiting* does not block the others;
 * after about 0.2-0.4 s without a sign of life its turn is passed on. A thread
 * terminated while *holding* the lock cannot release it, and nothing in shared
 * memory tells a dead holder from a slow one: the lock stays locked (waiters
 * keep waiting, `acquireFor` times out). Whoever learns of the death — the
 * parent sees the worker's `exit` event — can `release` it on the dead
 * thread's behalf, since the lock has no owner. For locks that free themselves
 * when their holder dies, use a manager's `lock()` (process scope).
 *
 * Scopes: fiber: `Lock`; worker threads: this module; processes:
 * `manager.lock()` and `FileLock`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { SharedLock } from "@weft/primitives"
 *
 * // main thread
 * const program = Effect.gen(function*() {
 *   const lock = yield* SharedLock.make
 *   new Worker(new URL("./worker.ts", import.meta.url), { workerData: lock.handle })
 *   yield* lock.withLock(Effect.log("main has the lock"))
 * })
 *
 * // worker.ts
 * import { workerData } from "node:worker_threads"
 * const worker = Effect.gen(function*() {
 *   const lock = yield* SharedLock.attach(workerData)
 *   yield* lock.withLock(Effect.log("the worker has the lock"))
 * })
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { type InvalidArgumentError, NotHeldError } from "../errors.ts"
import type * as Lock from "../Lock.ts"
import { bindMethods } from "../internal/bind.ts"
import { guarded } from "../internal/guard.ts"
import { lockdep } from "../Lockdep.ts"
import { adopt, check, orderBuffer, released, took } from "./internal/order.ts"
import * as Registry from "../inspect/Registry.ts"
import { checkHandle, checkName, type Handle as AnyHandle, handleOf, Kind, nameOf } from "./internal/futex.ts"
import { BYTES, SharedPermits } from "./internal/SharedPermits.ts"

/**
 * What crosses threads: structured-cloneable (post it, or put it in
 * `workerData`), and turned back into a lock with `SharedLock.attach`.
 *
 * @example
 * ```ts
 * declare const lock: SharedLock.SharedLock
 * declare const worker: Worker
 * const handle: SharedLock.Handle = lock.handle
 * worker.postMessage(handle)
 * ```
 */
export type Handle = AnyHandle<"SharedLock">

/**
 * A `Lock` shared between worker threads, plus its `handle`.
 *
 * @example
 * ```ts
 * const critical = (lock: Lock.Lock) => lock.withLock(Effect.log("only me"))
 * const lock: SharedLock.SharedLock = yield* SharedLock.make
 * yield* critical(lock) // a SharedLock is a Lock
 * ```
 */
export interface SharedLock extends Lock.Lock {
  /** Pass this to another thread and `attach` it there. */
  readonly handle: Handle
}

class SharedLockImpl implements SharedLock {
  readonly handle: Handle
  readonly core: SharedPermits

  constructor(array: Int32Array, name: string | undefined) {
    const core = new SharedPermits(array, true)
    this.core = core
    this.handle = { ...handleOf("SharedLock", array.buffer, name), order: orderBuffer() }
    // withLock's permits: with lock-order checking on, every take goes the
    // checked way (`wait`); off, this costs one flag read over the core's.
    this.guard = guarded({
      tryTake: (n) => !lockdep.on && core.tryTake(n),
      wait: (n) => lockdep.on ? this.checked : core.wait(n),
      release: (n) => {
        core.release(n)
        if (lockdep.on) this.gone()
      }
    }, 1)
    bindMethods(this, "acquireFor", "withLock")
    // The describe function holds the core, not the lock: the registry must not keep the lock alive.
    Registry.register(this, { kind: "SharedLock", scope: "thread", name }, () => core.state())
  }

  readonly acquire: Effect.Effect<void> = Effect.suspend(() => {
    if (lockdep.on) return this.checked
    return this.core.tryTake(1) ? Effect.void : this.core.wait(1)
  })

  readonly tryAcquire: Effect.Effect<boolean> = Effect.suspend(() => {
    if (!lockdep.on) return Effect.succeed(this.core.tryTake(1))
    return Effect.withFiber((fiber) => {
      const taken = this.core.tryTake(1)
      if (taken) this.hold(fiber, this.className())
      return Effect.succeed(taken)
    })
  })

  acquireFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return Effect.suspend(() => {
      if (!lockdep.on) return this.core.takeWithin("SharedLock.acquireFor", 1, timeout)
      return Effect.withFiber((fiber) => {
        const name = this.className()
        const error = check(fiber, this, name)
        if (error !== undefined) return Effect.die(error)
        return Effect.uninterruptibleMask((restore) =>
          Effect.map(restore(this.core.takeWithin("SharedLock.acquireFor", 1, timeout)), (taken) => {
            if (taken) this.hold(fiber, name)
            return taken
          })
        )
      })
    })
  }

  readonly release: Effect.Effect<void, NotHeldError> = Effect.suspend(() => {
    if (this.core.swap(0, 1)) {
      if (lockdep.on) this.gone()
      return Effect.void
    }
    return Effect.fail(new NotHeldError({ primitive: "SharedLock", operation: "release" }))
  })

  private readonly guard: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.guard(effect)
  }

  private name: string | undefined = undefined
  /** With checking on: the fiber (of this thread) that took the lock, whose holdings it is in. */
  private holder: Fiber.Fiber<unknown, unknown> | undefined = undefined

  private hold(fiber: Fiber.Fiber<unknown, unknown>, name: string): void {
    this.holder = fiber
    took(fiber, this, name)
  }

  private gone(): void {
    const fiber = this.holder
    if (fiber === undefined) return
    this.holder = undefined
    released(fiber, this)
  }

  /** Lock-order checking's class for this lock: its name (or kind and place made). */
  private className(): string {
    return this.name ??= Registry.nameOf(this) ?? "SharedLock"
  }

  /**
   * `acquire` with lock-order checking: the check, then the take (or the
   * wait), then the holding booked, with no interruption between the last two.
   */
  private readonly checked: Effect.Effect<void> = Effect.withFiber((fiber) => {
    const name = this.className()
    const error = check(fiber, this, name)
    if (error !== undefined) return Effect.die(error)
    if (this.core.tryTake(1)) {
      this.hold(fiber, name)
      return Effect.void
    }
    return Effect.uninterruptibleMask((restore) =>
      Effect.andThen(restore(this.core.wait(1)), Effect.sync(() => this.hold(fiber, name)))
    )
  })

  readonly locked: Effect.Effect<boolean> = Effect.sync(() => this.core.free === 0)
}

/**
 * Creates an unlocked `SharedLock` in a new SharedArrayBuffer (about 4 KiB).
 *
 * @example
 * ```ts
 * const lock = yield* SharedLock.make
 * yield* lock.acquire
 * yield* lock.locked // true, in every thread that attached it
 * yield* lock.release
 * ```
 */
export const make: Effect.Effect<SharedLock> = Effect.sync(() => makeUnsafe())

/**
 * `make` with a name: `Inspect.snapshot` lists the lock under it in every
 * thread that made or attached it (the handle carries it), and lock-order
 * checking knows it by it. Fails with `InvalidArgumentError` for a name that
 * is not a string of 1 to 200 characters.
 *
 * @example
 * ```ts
 * const accounts = yield* SharedLock.named("accounts")
 * ```
 */
export const named = (name: string): Effect.Effect<SharedLock, InvalidArgumentError> =>
  Effect.suspend(() => {
    const bad = checkName("SharedLock.named", name)
    return bad === undefined ? Effect.succeed(makeUnsafe(name)) : Effect.fail(bad)
  })

/**
 * Creates an unlocked `SharedLock` outside of an effect, for module-level
 * state, optionally named (see `named`; a bad name throws).
 *
 * @example
 * ```ts
 * const lock = SharedLock.makeUnsafe("accounts")
 * ```
 */
export const makeUnsafe = (name?: string): SharedLock => {
  const bad = checkName("SharedLock.makeUnsafe", name)
  if (bad !== undefined) throw bad
  return new SharedLockImpl(SharedPermits.allocate(Kind.SharedLock, 1, 1), name)
}

/**
 * Uses, in this thread, the lock whose `handle` another thread sent. Fails
 * with `InvalidArgumentError` when `handle` is not a `SharedLock` handle.
 *
 * @example
 * ```ts
 * import { workerData } from "node:worker_threads"
 * const lock = yield* SharedLock.attach(workerData)
 * yield* lock.withLock(Effect.log("in the worker"))
 * ```
 */
export const attach = (handle: Handle): Effect.Effect<SharedLock, InvalidArgumentError> =>
  Effect.suspend(() => {
    const checked = checkHandle("SharedLock", handle, BYTES)
    if (!(checked instanceof Int32Array)) return Effect.fail(checked)
    adopt(handle.order)
    return Effect.succeed(new SharedLockImpl(checked, nameOf(handle)))
  })

/**
 * `attach` outside of an effect; throws the `InvalidArgumentError` instead.
 *
 * @example
 * ```ts
 * const lock = SharedLock.attachUnsafe(workerData)
 * ```
 */
export const attachUnsafe = (handle: Handle): SharedLock => {
  const checked = checkHandle("SharedLock", handle, BYTES)
  if (checked instanceof Int32Array) {
    adopt(handle.order)
    return new SharedLockImpl(checked, nameOf(handle))
  }
  throw checked
}
