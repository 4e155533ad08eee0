/**
 * A drop-in for async-mutex 0.5: change the import, keep the code.
 *
 * ```ts
 * // import { Mutex, Semaphore, withTimeout } from "async-mutex"
 * import { Mutex, Semaphore, withTimeout } from "@weft/primitives/compat/async-mutex"
 * ```
 *
 * Same names, signatures and semantics: `acquire` resolves with a one-shot
 * releaser (a semaphore's with `[value, releaser]`), `runExclusive` always
 * calls its callback asynchronously, priorities (higher first, equal ones
 * FIFO), `waitForUnlock`, synchronous `isLocked`, `cancel()` rejecting every
 * pending waiter with `E_CANCELED` (or the constructor's error),
 * `getValue`/`setValue`, `withTimeout` and `tryAcquire`.
 *
 * Built on Weft's own fiber-scope `Lock` and `Semaphore` (`mutex.lock`,
 * `semaphore.semaphore`), whose permit counter (`internal/Permits.ts`)
 * already hands a released permit straight to the next waiter: a Promise
 * waiter here and an Effect fiber waiting on the same `Lock` share one queue.
 * The deliberate differences are listed in `compat/README.md`.
 *
 * @example
 * ```ts
 * import { Mutex } from "@weft/primitives/compat/async-mutex"
 *
 * const mutex = new Mutex()
 * let balance = 100
 * const withdraw = (n: number) =>
 *   mutex.runExclusive(async () => {
 *     const seen = balance
 *     await new Promise((resolve) => setTimeout(resolve, 1))
 *     if (seen >= n) balance = seen - n
 *   })
 * await Promise.all([withdraw(70), withdraw(70)]) // balance is 30
 * ```
 *
 * @module
 */
import * as Effect from "effect/Effect"
import { InvalidArgumentError } from "../errors.ts"
import { type Permits, permitsOf } from "../internal/Permits.ts"
import * as Lock from "../Lock.ts"
import * as WeftSemaphore from "../Semaphore.ts"

/**
 * What `withTimeout(...).acquire` rejects with when the time is up (by
 * default).
 *
 * @example
 * ```ts
 * import { E_TIMEOUT, Mutex, withTimeout } from "@weft/primitives/compat/async-mutex"
 *
 * await withTimeout(new Mutex(), 100).acquire().catch((e) => e === E_TIMEOUT)
 * ```
 */
export const E_TIMEOUT: Error = new Error("timeout while waiting for mutex to become available")

/**
 * What `tryAcquire(...).acquire` rejects with when the lock is taken (by
 * default).
 *
 * @example
 * ```ts
 * import { E_ALREADY_LOCKED, Mutex, tryAcquire } from "@weft/primitives/compat/async-mutex"
 *
 * await tryAcquire(new Mutex()).acquire().catch((e) => e === E_ALREADY_LOCKED)
 * ```
 */
export const E_ALREADY_LOCKED: Error = new Error("mutex already locked")

/**
 * What `cancel()` rejects pending waiters with (by default).
 *
 * @example
 * ```ts
 * import { E_CANCELED, Mutex } from "@weft/primitives/compat/async-mutex"
 *
 * const mutex = new Mutex()
 * await mutex.acquire()
 * const pending = mutex.acquire()
 * mutex.cancel()
 * await pending.catch((e) => e === E_CANCELED)
 * ```
 */
export const E_CANCELED: Error = new Error("request for lock canceled")

/**
 * async-mutex's mutex interface: `Mutex`, and what `withTimeout` and
 * `tryAcquire` return for one.
 *
 * @example
 * ```ts
 * import type { MutexInterface } from "@weft/primitives/compat/async-mutex"
 *
 * const critical = (mutex: MutexInterface) => mutex.runExclusive(() => "only me")
 * ```
 */
export interface MutexInterface {
  acquire(priority?: number): Promise<MutexInterface.Releaser>
  runExclusive<T>(callback: MutexInterface.Worker<T>, priority?: number): Promise<T>
  waitForUnlock(priority?: number): Promise<void>
  isLocked(): boolean
  release(): void
  cancel(): void
}

/**
 * The types that go with `MutexInterface`.
 *
 * @example
 * ```ts
 * import { Mutex, type MutexInterface } from "@weft/primitives/compat/async-mutex"
 *
 * const release: MutexInterface.Releaser = await new Mutex().acquire()
 * ```
 */
export declare namespace MutexInterface {
  /** Releases the hold it came with, once; later calls do nothing. */
  interface Releaser {
    (): void
  }
  /** The callback of `runExclusive`. */
  interface Worker<T> {
    (): Promise<T> | T
  }
}

/**
 * async-mutex's semaphore interface: `Semaphore`, and what `withTimeout` and
 * `tryAcquire` return for one.
 *
 * @example
 * ```ts
 * import type { SemaphoreInterface } from "@weft/primitives/compat/async-mutex"
 *
 * const limited = (sem: SemaphoreInterface) => sem.runExclusive((value) => value)
 * ```
 */
export interface SemaphoreInterface {
  acquire(weight?: number, priority?: number): Promise<[number, SemaphoreInterface.Releaser]>
  runExclusive<T>(callback: SemaphoreInterface.Worker<T>, weight?: number, priority?: number): Promise<T>
  waitForUnlock(weight?: number, priority?: number): Promise<void>
  isLocked(): boolean
  getValue(): number
  setValue(value: number): void
  release(weight?: number): void
  cancel(): void
}

/**
 * The types that go with `SemaphoreInterface`.
 *
 * @example
 * ```ts
 * import { Semaphore, type SemaphoreInterface } from "@weft/primitives/compat/async-mutex"
 *
 * const [value, release]: [number, SemaphoreInterface.Releaser] = await new Semaphore(2).acquire()
 * ```
 */
export declare namespace SemaphoreInterface {
  /** Releases the weight it came with, once; later calls do nothing. */
  interface Releaser {
    (): void
  }
  /** The callback of `runExclusive`; receives the semaphore's value when it was acquired. */
  interface Worker<T> {
    (value: number): Promise<T> | T
  }
}

/** How `withTimeout` reaches a Weft-built lock's queue, to leave it when the time is up. */
const Timed: unique symbol = Symbol("@weft/primitives/compat/async-mutex/Timed")

interface TimedAccess {
  readonly permits: Permits
  readonly semaphore: boolean
}

// async-mutex refuses a weight <= 0 by throwing; so does this, with Weft's
// tagged error (its message names the operation, the argument and the value).
const checkWeight = (operation: string, weight: number): void => {
  if (!(typeof weight === "number" && weight > 0)) {
    throw new InvalidArgumentError({ operation, argument: "weight", value: weight, expected: "a positive number" })
  }
}

const settled: Promise<void> = Promise.resolve()

/**
 * A mutex: async-mutex's `Mutex`, on a Weft fiber-scope `Lock`.
 *
 * @example
 * ```ts
 * import { Mutex } from "@weft/primitives/compat/async-mutex"
 *
 * const mutex = new Mutex()
 * const release = await mutex.acquire()
 * try {
 *   // ...
 * } finally {
 *   release()
 * }
 * ```
 */
export class Mutex implements MutexInterface {
  /** The Weft `Lock` underneath, for Effect code that shares it (one queue for both). */
  readonly lock: Lock.FiberLock
  readonly [Timed]: TimedAccess
  private readonly permits: Permits
  private readonly cancelError: unknown

  constructor(cancelError?: Error) {
    this.lock = Lock.makeUnsafe()
    this.permits = permitsOf(this.lock)!.permits
    this.cancelError = cancelError ?? E_CANCELED
    this[Timed] = { permits: this.permits, semaphore: false }
  }

  /** Resolves with a one-shot releaser once the mutex is taken; higher `priority` goes first. */
  acquire(priority = 0): Promise<MutexInterface.Releaser> {
    const permits = this.permits
    if (permits.tryTakeAt(1, priority)) return Promise.resolve(permits.releaser(1))
    return permits.waitPromiseAt(1, priority).then(() => permits.releaser(1))
  }

  /** Runs `callback` (always asynchronously) holding the mutex, and releases it however it ends. */
  async runExclusive<T>(callback: MutexInterface.Worker<T>, priority = 0): Promise<T> {
    const permits = this.permits
    if (permits.tryTakeAt(1, priority)) await settled
    else await permits.waitPromiseAt(1, priority)
    try {
      return await callback()
    } finally {
      permits.release(1)
    }
  }

  /** Resolves once the mutex could be taken at `priority`, without taking it. */
  waitForUnlock(priority = 0): Promise<void> {
    return this.permits.whenFreePromise(1, priority)
  }

  /** Whether the mutex is held right now. */
  isLocked(): boolean {
    return this.permits.free <= 0
  }

  /** Releases the mutex, whoever holds it; does nothing when it is free. Prefer the releaser. */
  release(): void {
    if (this.permits.free <= 0) this.permits.release(1)
  }

  /** Rejects every pending `acquire`/`runExclusive` with the cancel error; the holder keeps the mutex. */
  cancel(): void {
    this.permits.cancel(this.cancelError)
  }
}

/**
 * A counting semaphore: async-mutex's `Semaphore`, on a Weft fiber-scope
 * `Semaphore`. The value may be any number, negative too.
 *
 * @example
 * ```ts
 * import { Semaphore } from "@weft/primitives/compat/async-mutex"
 *
 * const slots = new Semaphore(4)
 * const [value, release] = await slots.acquire() // value: 4
 * release()
 * await slots.runExclusive(async (value) => value, 2) // two slots at once
 * ```
 */
export class Semaphore implements SemaphoreInterface {
  /** The Weft `Semaphore` underneath, for Effect code that shares it (one queue for both). */
  readonly semaphore: WeftSemaphore.FiberSemaphore
  readonly [Timed]: TimedAccess
  private readonly permits: Permits
  private readonly cancelError: unknown

  constructor(value: number, cancelError: Error = E_CANCELED) {
    this.semaphore = Effect.runSync(WeftSemaphore.make(0))
    this.permits = permitsOf(this.semaphore)!.permits
    this.permits.free = value
    this.cancelError = cancelError
    this[Timed] = { permits: this.permits, semaphore: true }
  }

  /**
   * Resolves with `[value, releaser]` once `weight` (default 1) is taken;
   * `value` is the semaphore's value just before. Throws when `weight <= 0`.
   */
  acquire(weight = 1, priority = 0): Promise<[number, SemaphoreInterface.Releaser]> {
    checkWeight("Semaphore.acquire", weight)
    const permits = this.permits
    if (permits.tryTakeAt(weight, priority)) {
      return Promise.resolve([permits.free + weight, permits.releaser(weight)])
    }
    return permits.waitPromiseAt(weight, priority).then((value) => [value, permits.releaser(weight)])
  }

  /** Runs `callback(value)` (always asynchronously) holding `weight`, and releases it however it ends. */
  async runExclusive<T>(callback: SemaphoreInterface.Worker<T>, weight = 1, priority = 0): Promise<T> {
    checkWeight("Semaphore.runExclusive", weight)
    const permits = this.permits
    let value: number
    if (permits.tryTakeAt(weight, priority)) {
      value = permits.free + weight
      await settled
    } else {
      value = await permits.waitPromiseAt(weight, priority)
    }
    try {
      return await callback(value)
    } finally {
      permits.release(weight)
    }
  }

  /** Resolves once `weight` could be taken at `priority`, without taking it. Throws when `weight <= 0`. */
  waitForUnlock(weight = 1, priority = 0): Promise<void> {
    checkWeight("Semaphore.waitForUnlock", weight)
    return this.permits.whenFreePromise(weight, priority)
  }

  /** Whether the value is zero or below. */
  isLocked(): boolean {
    return this.permits.free <= 0
  }

  /** The value right now. */
  getValue(): number {
    return this.permits.free
  }

  /** Sets the value, and serves waiters the new value allows. */
  setValue(value: number): void {
    this.permits.set(value)
  }

  /** Adds `weight` (default 1) to the value, unscoped; the releaser from `acquire` is the safe form. */
  release(weight = 1): void {
    checkWeight("Semaphore.release", weight)
    this.permits.release(weight)
  }

  /** Rejects every pending `acquire`/`runExclusive` with the cancel error; held weight stays held. */
  cancel(): void {
    this.permits.cancel(this.cancelError)
  }
}

const isSemaphore = (sync: MutexInterface | SemaphoreInterface): sync is SemaphoreInterface =>
  (sync as SemaphoreInterface).getValue !== undefined

/**
 * Takes `weight` of `permits` within `timeout` ms, leaving the queue when the
 * time is up (so a timed-out waiter never holds anything, not even briefly).
 * Resolves with the value just before the take.
 */
const takeWithin = (permits: Permits, weight: number, priority: number, timeout: number, error: unknown): Promise<number> => {
  if (permits.tryTakeAt(weight, priority)) return Promise.resolve(permits.free + weight)
  if (!(timeout > 0)) return Promise.reject(error)
  return new Promise((resolve, reject) => {
    let leave: () => void = () => undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const settle = (): boolean => {
      if (timer === undefined) return false
      clearTimeout(timer)
      timer = undefined
      return true
    }
    permits.waitPromiseAt(weight, priority, (l) => (leave = l)).then(
      (value) => settle() && resolve(value),
      (cause: unknown) => settle() && reject(cause)
    )
    timer = setTimeout(() => {
      timer = undefined
      leave() // out of the queue; or, if just granted, the permits go back
      reject(error)
    }, timeout)
  })
}

/** async-mutex's own algorithm, for a mutex or semaphore not built here. */
const acquireForeignWithin = (
  sync: MutexInterface | SemaphoreInterface,
  weight: number | undefined,
  priority: number | undefined,
  timeout: number,
  error: unknown
): Promise<MutexInterface.Releaser | [number, SemaphoreInterface.Releaser]> =>
  new Promise((resolve, reject) => {
    let timedOut = false
    const handle = setTimeout(() => {
      timedOut = true
      reject(error)
    }, timeout)
    const ticket = isSemaphore(sync) ? sync.acquire(weight, priority) : sync.acquire(priority)
    ;(ticket as Promise<MutexInterface.Releaser | [number, SemaphoreInterface.Releaser]>).then(
      (held) => {
        if (timedOut) (Array.isArray(held) ? held[1] : held)()
        else {
          clearTimeout(handle)
          resolve(held)
        }
      },
      (cause: unknown) => {
        if (!timedOut) {
          clearTimeout(handle)
          reject(cause)
        }
      }
    )
  })

/**
 * Decorates a mutex or semaphore so that `acquire`, `runExclusive` and
 * `waitForUnlock` reject with `timeoutError` (default `E_TIMEOUT`) after
 * `timeout` ms; `runExclusive` then never runs its callback. The rest of the
 * interface is unchanged.
 *
 * @example
 * ```ts
 * import { E_TIMEOUT, Mutex, withTimeout } from "@weft/primitives/compat/async-mutex"
 *
 * const mutex = withTimeout(new Mutex(), 100)
 * try {
 *   await mutex.runExclusive(() => "done")
 * } catch (e) {
 *   if (e === E_TIMEOUT) console.log("busy for 100 ms")
 * }
 * ```
 */
export function withTimeout(mutex: MutexInterface, timeout: number, timeoutError?: Error): MutexInterface
export function withTimeout(semaphore: SemaphoreInterface, timeout: number, timeoutError?: Error): SemaphoreInterface
export function withTimeout(
  sync: MutexInterface | SemaphoreInterface,
  timeout: number,
  timeoutError: Error = E_TIMEOUT
): MutexInterface | SemaphoreInterface {
  const semaphore = isSemaphore(sync)
  const own = (sync as { readonly [Timed]?: TimedAccess })[Timed]
  // A mutex's first argument is the priority; a semaphore's, the weight.
  const args = (first?: number, second?: number): [number | undefined, number | undefined] => {
    const weight = semaphore ? first : undefined
    if (weight !== undefined) checkWeight("withTimeout.acquire", weight)
    return [weight, semaphore ? second : first]
  }
  const acquire = (first?: number, second?: number): Promise<any> => {
    const [weight, priority] = args(first, second)
    if (own === undefined) return acquireForeignWithin(sync, weight, priority, timeout, timeoutError)
    const w = weight ?? 1
    return takeWithin(own.permits, w, priority ?? 0, timeout, timeoutError).then((value) =>
      semaphore ? [value, own.permits.releaser(w)] : own.permits.releaser(w)
    )
  }
  return {
    acquire,
    async runExclusive<T>(callback: (value?: number) => Promise<T> | T, first?: number, second?: number): Promise<T> {
      const ticket: MutexInterface.Releaser | [number, SemaphoreInterface.Releaser] = await acquire(first, second)
      const [value, release] = Array.isArray(ticket) ? ticket : [undefined, ticket]
      try {
        return await (value === undefined ? callback() : callback(value))
      } finally {
        release()
      }
    },
    waitForUnlock(first?: number, second?: number): Promise<void> {
      const [weight, priority] = args(first, second)
      return new Promise<void>((resolve, reject) => {
        const handle = setTimeout(() => reject(timeoutError), timeout)
        const wait = isSemaphore(sync) ? sync.waitForUnlock(weight, priority) : sync.waitForUnlock(priority)
        wait.then(() => {
          clearTimeout(handle)
          resolve()
        }, reject)
      })
    },
    isLocked: () => sync.isLocked(),
    release: (weight?: number) => (semaphore ? (sync as SemaphoreInterface).release(weight) : (sync as MutexInterface).release()),
    cancel: () => sync.cancel(),
    getValue: () => (sync as SemaphoreInterface).getValue(),
    setValue: (value: number) => (sync as SemaphoreInterface).setValue(value)
  } as MutexInterface & SemaphoreInterface
}

/**
 * Decorates a mutex or semaphore so that `acquire` and `runExclusive` reject
 * at once with `alreadyAcquiredError` (default `E_ALREADY_LOCKED`) when it
 * cannot be taken right now.
 *
 * @example
 * ```ts
 * import { E_ALREADY_LOCKED, Mutex, tryAcquire } from "@weft/primitives/compat/async-mutex"
 *
 * const mutex = new Mutex()
 * try {
 *   await tryAcquire(mutex).runExclusive(() => "done")
 * } catch (e) {
 *   if (e === E_ALREADY_LOCKED) console.log("busy")
 * }
 * ```
 */
export function tryAcquire(mutex: MutexInterface, alreadyAcquiredError?: Error): MutexInterface
export function tryAcquire(semaphore: SemaphoreInterface, alreadyAcquiredError?: Error): SemaphoreInterface
export function tryAcquire(
  sync: MutexInterface | SemaphoreInterface,
  alreadyAcquiredError: Error = E_ALREADY_LOCKED
): MutexInterface | SemaphoreInterface {
  return withTimeout(sync as MutexInterface, 0, alreadyAcquiredError)
}
