/**
 * Weft's primitives: the same interface at three scopes.
 *
 * - fibers: `Lock`, `RLock`, `Semaphore`, `Event`, `Condition`, `Barrier`, `Timer`, `Queue`, `PubSub`
 * - worker threads: `SharedLock`, `SharedSemaphore`, `SharedEvent`, `SharedQueue`
 * - processes: `Manager` (hosts any fiber primitive on a local socket) and `FileLock`
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Lock.make, (lock) => lock.withLock(Effect.log("alone")))
 * ```
 *
 * @module
 */
export * from "./errors.ts"

// Fiber scope
export * as Barrier from "./Barrier.ts"
export * as Condition from "./Condition.ts"
export * as Event from "./Event.ts"
export * as Lock from "./Lock.ts"
export * as PubSub from "./PubSub.ts"
export * as Queue from "./Queue.ts"
export * as RLock from "./RLock.ts"
export * as Semaphore from "./Semaphore.ts"
export * as Timer from "./Timer.ts"

// Thread scope
export * as SharedEvent from "./shared/SharedEvent.ts"
export * as SharedLock from "./shared/SharedLock.ts"
export * as SharedQueue from "./shared/SharedQueue.ts"
export * as SharedSemaphore from "./shared/SharedSemaphore.ts"

// Process scope
export * as FileLock from "./process/FileLock.ts"
export * as Manager from "./process/Manager.ts"

// Seeing inside: the snapshot and dump, and lock-order checking
export * as Inspect from "./Inspect.ts"
export * as Lockdep from "./Lockdep.ts"

// A Promise face for code that does not use Effect
export * as Promised from "./Promised.ts"
