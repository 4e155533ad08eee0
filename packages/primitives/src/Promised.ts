/**
 * A Promise face over the primitives, for code that does not use Effect
 * (async-mutex's users, for instance): `await mutex.runExclusive(fn)`,
 * `await queue.put(x)`. Each adapter wraps a primitive of any scope — a fiber
 * `Lock`, a `SharedLock`, a `manager.lock()`, a `FileLock` — and turns every
 * member into a method returning a Promise. A failure rejects with the tagged
 * error itself (`NotHeldError`, `QueueFullError`, ...); a rejection of `fn`
 * comes back unchanged.
 *
 * The adapters are thin: each call runs the primitive's own effect with
 * `Effect.runPromise`, so the rules (FIFO, nothing left held) are the
 * primitive's. One shortcut: `runExclusive` on a fiber-scope `Lock` or
 * `Semaphore` takes and returns the permits directly, in the same FIFO queue
 * as the Effect callers, without starting a fiber.
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const mutex = Promised.lock() // a new fiber-scope Lock
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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Event from "./Event.ts"
import { AsyncLocalStorage } from "node:async_hooks"
import { type Permits, permitsOf } from "./internal/Permits.ts"
import { bind, type FiberLocks, task } from "./internal/track.ts"
import { lockdep } from "./Lockdep.ts"
import * as Lock from "./Lock.ts"
import type * as Queue from "./Queue.ts"
import * as Semaphore from "./Semaphore.ts"

/**
 * What `acquire` resolves with: releases exactly the hold that acquire gave,
 * the first time it is called, and does nothing after. Prefer it to the
 * unscoped `release()`: calling it twice cannot release someone else's hold.
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const mutex = Promised.lock()
 * const release = await mutex.acquire()
 * await release()
 * await release() // no-op: the lock may already be someone else's
 * ```
 */
export type Releaser = () => Promise<void>

/**
 * A lock with Promise methods, named after async-mutex's `Mutex` where they
 * overlap (`runExclusive`, `isLocked`).
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const critical = (mutex: Promised.PromiseLock) => mutex.runExclusive(() => "only me")
 * ```
 */
export interface PromiseLock {
  /** The lock underneath, for Effect code that shares it. */
  readonly lock: Lock.Lock
  /** Resolves once the lock is taken (FIFO), with a one-shot `Releaser` for this hold. */
  acquire(): Promise<Releaser>
  /** Takes the lock if it is free right now; `false` otherwise. */
  tryAcquire(): Promise<boolean>
  /** Waits at most `timeout` for the lock; `true` if it was taken. */
  acquireFor(timeout: Duration.Input): Promise<boolean>
  /**
   * Releases the lock, whoever holds it (a `Lock` has no owner, as in
   * Python); rejects with `NotHeldError` when it is not locked. The
   * `Releaser` from `acquire` is the safe form.
   */
  release(): Promise<void>
  /** Runs `fn` holding the lock, and releases it however `fn` ends. */
  runExclusive<T>(fn: () => T | PromiseLike<T>): Promise<T>
  /** Whether the lock is held right now. */
  isLocked(): Promise<boolean>
}

/**
 * A semaphore with Promise methods.
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const download = (slots: Promised.PromiseSemaphore, url: string) => slots.runExclusive(() => fetch(url))
 * ```
 */
export interface PromiseSemaphore {
  /** The semaphore underneath. */
  readonly semaphore: Semaphore.Semaphore
  /** Resolves once `k` permits (default 1) are taken, with a one-shot `Releaser` for exactly these. */
  acquire(k?: number): Promise<Releaser>
  tryAcquire(k?: number): Promise<boolean>
  acquireFor(timeout: Duration.Input, k?: number): Promise<boolean>
  /** Returns `k` permits, unscoped (as Python's `release`); the `Releaser` from `acquire` is the safe form. */
  release(k?: number): Promise<void>
  /** Runs `fn` holding `k` permits (default 1), and returns them however `fn` ends. */
  runExclusive<T>(fn: () => T | PromiseLike<T>, k?: number): Promise<T>
  available(): Promise<number>
}

/**
 * An event with Promise methods.
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const ready = Promised.event()
 * setTimeout(() => ready.set(), 10)
 * await ready.wait()
 * ```
 */
export interface PromiseEvent {
  /** The event underneath. */
  readonly event: Event.Event
  set(): Promise<void>
  clear(): Promise<void>
  isSet(): Promise<boolean>
  wait(): Promise<void>
  waitFor(timeout: Duration.Input): Promise<boolean>
}

/**
 * A queue with Promise methods.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Promised, Queue } from "@weft/primitives"
 *
 * const jobs = Promised.queue(Effect.runSync(Queue.fifo<string>(10)))
 * await jobs.put("wash")
 * const next = await jobs.get() // "wash"
 * ```
 */
export interface PromiseQueue<A> {
  /** The queue underneath. */
  readonly queue: Queue.Queue<A>
  put(item: A): Promise<void>
  putNowait(item: A): Promise<void>
  putFor(item: A, timeout: Duration.Input): Promise<void>
  get(): Promise<A>
  getNowait(): Promise<A>
  getFor(timeout: Duration.Input): Promise<A>
  size(): Promise<number>
  isEmpty(): Promise<boolean>
  isFull(): Promise<boolean>
  taskDone(): Promise<void>
  join(): Promise<void>
  shutdown(options?: Queue.ShutdownOptions): Promise<void>
}

const run = Effect.runPromise

// Lock-order checking for Promise code: each call runs in a fiber of its own,
// so the task that makes it (an async function inside `runExclusive`, say)
// is followed through AsyncLocalStorage, and the call's fiber is bound to a
// task inside it: it holds what its callers hold.
const tasks = new AsyncLocalStorage<FiberLocks>()

/**
 * Runs `effect` (which calls back into user code through `enter`) in a task
 * inside the caller's when lock-order checking is on. A bare `acquire`
 * (`inCaller`) holds for the caller's own task instead, so that the caller's
 * later calls see it.
 */
const checked = <A, E>(effect: (enter: <T>(fn: () => T) => T) => Effect.Effect<A, E>, inCaller = false): Promise<A> => {
  if (!lockdep.on) return run(effect((fn) => fn()))
  const caller = tasks.getStore()
  const inner = inCaller && caller !== undefined ? caller : task(caller)
  return run(Effect.withFiber((fiber) => {
    bind(fiber, inner)
    return effect((fn) => tasks.run(inner, fn))
  }))
}

const attempt = <T>(fn: () => T | PromiseLike<T>): Effect.Effect<T, unknown> =>
  Effect.tryPromise({ try: async () => fn(), catch: (error) => error })

const resolved: Promise<void> = Promise.resolve()

/** A one-shot `Releaser` over the fiber-scope `permits`. */
const permitReleaser = (permits: Permits, k: number): Releaser => {
  const release = permits.releaser(k)
  return () => {
    release()
    return resolved
  }
}

/** A one-shot `Releaser` over any scope's release effect. */
const effectReleaser = (release: Effect.Effect<void, unknown>): Releaser => {
  let held = true
  return () => {
    if (!held) return resolved
    held = false
    return run(release)
  }
}

/** Takes `k` of `permits` (FIFO with the Effect callers) and resolves with their releaser. */
const take = async (permits: Permits, k: number): Promise<Releaser> => {
  if (!permits.tryTake(k)) await permits.waitPromise(k)
  return permitReleaser(permits, k)
}

/** Holds `k` of `permits` (FIFO with the Effect callers) around `fn`. */
const exclusive = async <T>(permits: Permits, k: number, fn: () => T | PromiseLike<T>): Promise<T> => {
  if (!permits.tryTake(k)) await permits.waitPromise(k)
  try {
    return await fn()
  } finally {
    permits.release(k)
  }
}

/**
 * The Promise face of `lock` (any scope); without an argument, of a new
 * fiber-scope `Lock`.
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const mutex = Promised.lock()
 * const value = await mutex.runExclusive(async () => 42)
 * const accounts = Promised.lock({ name: "accounts" }) // listed by Inspect
 * ```
 */
export const lock = (self?: Lock.Lock | Options): PromiseLock => {
  const it = self === undefined || !("withLock" in self) ? Lock.makeUnsafe(self) : self
  const hook = permitsOf(it)
  // A named lock, or any under lock-order checking, goes through its effects, which track.
  const direct = hook !== undefined && !hook.named
  return {
    lock: it,
    acquire: () =>
      direct && !lockdep.on
        ? take(hook!.permits, 1)
        : checked(() => it.acquire, true).then(() => effectReleaser(it.release)),
    tryAcquire: () => run(it.tryAcquire),
    acquireFor: (timeout) => run(it.acquireFor(timeout)),
    release: () => run(it.release),
    runExclusive: (fn) =>
      direct && !lockdep.on
        ? exclusive(hook!.permits, 1, fn)
        : checked((enter) => it.withLock(attempt(() => enter(fn)))),
    isLocked: () => run(it.locked)
  }
}

/**
 * Options of the Promise face's constructors.
 *
 * @example
 * ```ts
 * const accounts = Promised.lock({ name: "accounts" })
 * ```
 */
export interface Options {
  /** Lists the new primitive by `Inspect.snapshot` under this name, with its contention profile. */
  readonly name?: string | undefined
}

/**
 * The Promise face of `semaphore` (any scope), or of a new fiber-scope
 * `Semaphore.make(permits)` when given a number (which must be an integer
 * >= 0: otherwise this throws the `InvalidArgumentError`).
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const slots = Promised.semaphore(4)
 * const downloads = Promised.semaphore(4, { name: "downloads" }) // listed by Inspect
 * await Promise.all([1, 2, 3, 4, 5, 6].map((n) => slots.runExclusive(async () => n * 2)))
 * ```
 */
export const semaphore = (self: Semaphore.Semaphore | number, options?: Options): PromiseSemaphore => {
  const sem = typeof self === "number" ? Effect.runSync(Semaphore.make(self, options)) : self
  const hook = permitsOf(sem)
  const direct = hook !== undefined && !hook.named
  return {
    semaphore: sem,
    acquire: (k = 1) =>
      direct && !lockdep.on && hook!.valid(k)
        ? take(hook!.permits, k)
        : checked(() => sem.acquire(k), true).then(() => effectReleaser(sem.release(k))),
    tryAcquire: (k) => run(sem.tryAcquire(k)),
    acquireFor: (timeout, k) => run(sem.acquireFor(timeout, k)),
    release: (k) => run(sem.release(k)),
    runExclusive: (fn, k = 1) =>
      direct && !lockdep.on && hook!.valid(k)
        ? exclusive(hook!.permits, k, fn)
        : checked((enter) => sem.withPermits(k)(attempt(() => enter(fn)))),
    available: () => run(sem.available)
  }
}

/**
 * The Promise face of `event` (any scope); without an argument, of a new
 * fiber-scope `Event`.
 *
 * @example
 * ```ts
 * import { Promised } from "@weft/primitives"
 *
 * const done = Promised.event()
 * const ready = Promised.event({ name: "ready" }) // listed by Inspect
 * await done.set()
 * await done.isSet() // true
 * ```
 */
export const event = (self?: Event.Event | Options): PromiseEvent => {
  const ev = self !== undefined && "wait" in self
    ? self
    : Effect.runSync(self?.name === undefined ? Event.make : Event.named(self.name))
  return {
    event: ev,
    set: () => run(ev.set),
    clear: () => run(ev.clear),
    isSet: () => run(ev.isSet),
    wait: () => run(ev.wait),
    waitFor: (timeout) => run(ev.waitFor(timeout))
  }
}

/**
 * The Promise face of `queue` (any scope).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Promised, Queue } from "@weft/primitives"
 *
 * const queue = Promised.queue(Effect.runSync(Queue.lifo<number>()))
 * await queue.put(1)
 * await queue.put(2)
 * await queue.get() // 2
 * ```
 */
export const queue = <A>(self: Queue.Queue<A>): PromiseQueue<A> => ({
  queue: self,
  put: (item) => run(self.put(item)),
  putNowait: (item) => run(self.putNowait(item)),
  putFor: (item, timeout) => run(self.putFor(item, timeout)),
  get: () => run(self.get),
  getNowait: () => run(self.getNowait),
  getFor: (timeout) => run(self.getFor(timeout)),
  size: () => run(self.size),
  isEmpty: () => run(self.isEmpty),
  isFull: () => run(self.isFull),
  taskDone: () => run(self.taskDone),
  join: () => run(self.join),
  shutdown: (options) => run(self.shutdown(options))
})
