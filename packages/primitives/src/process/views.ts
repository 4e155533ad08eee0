/**
 * The fiber interfaces rebuilt over one function, `invoke(op, args)`, that
 * runs an operation of a hosted primitive: in the manager's process it runs
 * it in place (with the manager's bookkeeping), in any other process it is a
 * remote call. `withLock` and `withPermits` are composed from acquire and
 * release here, so they are interruption-safe the same way at both ends.
 *
 * @internal
 */
import { type Duration, Effect } from "effect"
import type { BrokenBarrierError, InvalidArgumentError, NotHeldError, NotOwnerError, SemaphoreOverflowError } from "../errors.ts"
import type * as Barrier from "../Barrier.ts"
import type * as Event from "../Event.ts"
import type * as Lock from "../Lock.ts"
import type * as RLock from "../RLock.ts"
import type * as Semaphore from "../Semaphore.ts"
import { encodeTimeout } from "./protocol.ts"

/** @internal */
export type Invoke = (op: string, args: ReadonlyArray<unknown>) => Effect.Effect<any>

/** Runs an operation without waiting for its outcome; defaults to `invoke` ignoring it. @internal */
export type Cast = (op: string, args: ReadonlyArray<unknown>) => Effect.Effect<void>

const ignoring = (invoke: Invoke): Cast => (op, args) => Effect.ignore(invoke(op, args))

const guarded = <A, E, R>(
  acquire: Effect.Effect<void, any>,
  release: Effect.Effect<void, any>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(acquire), () => Effect.onExit(restore(effect), () => Effect.ignore(release)))
  ) as Effect.Effect<A, E, R>

/** @internal */
export const lockView = (invoke: Invoke, cast: Cast = ignoring(invoke)): Lock.Lock => {
  const acquire: Effect.Effect<void> = invoke("acquire", [])
  const release: Effect.Effect<void, NotHeldError> = invoke("release", [])
  const releaseAfter = cast("release", [])
  return {
    acquire,
    tryAcquire: invoke("tryAcquire", []),
    acquireFor: (timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> =>
      invoke("acquireFor", [encodeTimeout(timeout)]),
    release,
    withLock: (effect) => guarded(acquire, releaseAfter, effect),
    locked: invoke("locked", [])
  }
}

/** @internal */
export const rlockView = (invoke: Invoke, cast: Cast = ignoring(invoke)): RLock.RLock => {
  const acquire: Effect.Effect<void> = invoke("acquire", [])
  const release: Effect.Effect<void, NotHeldError | NotOwnerError> = invoke("release", [])
  const releaseAfter = cast("release", [])
  return {
    acquire,
    tryAcquire: invoke("tryAcquire", []),
    acquireFor: (timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> =>
      invoke("acquireFor", [encodeTimeout(timeout)]),
    release,
    withLock: (effect) => guarded(acquire, releaseAfter, effect),
    locked: invoke("locked", []),
    isOwned: invoke("isOwned", [])
  }
}

/** @internal */
export const semaphoreView = (invoke: Invoke, cast: Cast = ignoring(invoke)): Semaphore.Semaphore => ({
  acquire: (k = 1): Effect.Effect<void, InvalidArgumentError> => invoke("acquire", [k]),
  tryAcquire: (k = 1): Effect.Effect<boolean, InvalidArgumentError> => invoke("tryAcquire", [k]),
  acquireFor: (timeout: Duration.Input, k = 1): Effect.Effect<boolean, InvalidArgumentError> =>
    invoke("acquireFor", [encodeTimeout(timeout), k]),
  release: (k = 1): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError> => invoke("release", [k]),
  withPermits: (k: number) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | InvalidArgumentError, R> =>
    guarded(invoke("acquire", [k]), cast("release", [k]), effect),
  available: invoke("available", [])
})

/** @internal */
export const eventView = (invoke: Invoke): Event.Event => ({
  set: invoke("set", []),
  clear: invoke("clear", []),
  isSet: invoke("isSet", []),
  wait: invoke("wait", []),
  waitFor: (timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> =>
    invoke("waitFor", [encodeTimeout(timeout)])
})

/** @internal */
export const barrierView = (invoke: Invoke, parties: number): Barrier.Barrier => ({
  wait: invoke("wait", []) as Effect.Effect<number, BrokenBarrierError>,
  waitFor: (timeout: Duration.Input): Effect.Effect<number, BrokenBarrierError | InvalidArgumentError> =>
    invoke("waitFor", [encodeTimeout(timeout)]),
  abort: invoke("abort", []),
  reset: invoke("reset", []),
  parties,
  waiting: invoke("waiting", []),
  broken: invoke("broken", [])
})

/**
 * What an interrupted call must undo when its `ok` reply won the race with
 * the `cancel`: the operations that take something.
 *
 * @internal
 */
export const compensation = (
  kind: string,
  op: string,
  args: ReadonlyArray<unknown>,
  value: unknown
): { readonly op: string; readonly args: ReadonlyArray<unknown> } | undefined => {
  const took = op === "acquire" || ((op === "tryAcquire" || op === "acquireFor") && value === true)
  if (!took) return undefined
  if (kind === "lock" || kind === "rlock") return { op: "release", args: [] }
  if (kind === "semaphore") return { op: "release", args: [op === "acquireFor" ? args[1] ?? 1 : args[0] ?? 1] }
  return undefined
}
