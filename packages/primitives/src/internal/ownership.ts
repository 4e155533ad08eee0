/**
 * What `Condition` needs from the lock it waits with: whether the calling
 * fiber may wait (it holds the lock), how to let go of it completely while
 * waiting, and how to take it back exactly as it was. `Lock` and `RLock`
 * implement this; Python's Condition calls the same trio `_is_owned`,
 * `_release_save` and `_acquire_restore`.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"

/** @internal */
export const ConditionLockId: unique symbol = Symbol.for("@weft/primitives/ConditionLock")

/** @internal */
export interface ConditionLock {
  /** Whether the calling fiber holds the lock (for `Lock`: whether it is locked). */
  readonly owned: Effect.Effect<boolean>
  /** Releases the lock completely; returns what `restore` needs. The caller holds it. */
  readonly releaseSave: Effect.Effect<number>
  /** Waits for the lock and takes it back at the saved depth. */
  restore(saved: number): Effect.Effect<void>
}

/** @internal */
export interface HasConditionLock {
  readonly [ConditionLockId]: ConditionLock
}

/** @internal */
export const conditionLock = (lock: unknown): ConditionLock | undefined =>
  typeof lock === "object" && lock !== null && ConditionLockId in lock
    ? (lock as HasConditionLock)[ConditionLockId]
    : undefined
