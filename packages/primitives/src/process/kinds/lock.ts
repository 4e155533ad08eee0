/**
 * The manager's `lock()`: a hosted `Lock`. The server books which connection
 * holds it, so a connection that drops releases it.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { InvalidArgumentError, NotHeldError } from "../../errors.ts"
import * as Lock from "../../Lock.ts"
import { type Cast, type Conn, type Invoke, make, partyOf } from "../kind.ts"
import type { Managed, Named } from "../Manager.ts"
import { encodeTimeout } from "../protocol.ts"
import { guardedBy } from "../../internal/guard.ts"
import { ignoring, took, tracked } from "./support.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted `Lock`: one holder among every process attached to it. A
   * process that dies holding it releases it.
   *
   * @example
   * ```ts
   * declare const manager: Manager.Manager
   * const lock = yield* manager.lock()
   * yield* lock.withLock(Effect.log("one process at a time"))
   * // hand `lock.handle` to other processes: Manager.attach(handle)
   * ```
   */
  lock(options?: Named): Effect.Effect<Managed<"lock">, InvalidArgumentError>
}

/** What the server keeps per primitive. @internal */
export interface State {
  readonly prim: Lock.Lock
  holder: Conn | undefined
  /** The holder's client fiber and when it took the lock (`Inspect`). */
  fiber: number | undefined
  since: number
}

const hold = (state: State, conn: Conn, fiber: number | undefined): void => {
  state.holder = conn
  state.fiber = fiber
  state.since = Date.now()
}

/** @internal */
export const kind = make<Factory>()({
  kind: "lock",
  host: () => Effect.map(Lock.make, (prim): State => ({ prim, holder: undefined, fiber: undefined, since: 0 })),
  ops: {
    acquire: (state, _, conn, fiber) => tracked(state.prim.acquire, () => hold(state, conn, fiber)),
    tryAcquire: (state, _, conn, fiber) => tracked(state.prim.tryAcquire, (taken) => void (taken && hold(state, conn, fiber))),
    acquireFor: (state, [timeout], conn, fiber) =>
      tracked(state.prim.acquireFor(timeout), (taken) => void (taken && hold(state, conn, fiber))),
    release: (state) => tracked(state.prim.release, () => void (state.holder = undefined)),
    locked: (state) => state.prim.locked
  },
  describe: (state) => ({ holders: state.holder === undefined ? [] : [partyOf(state.holder, state.fiber, state.since)] }),
  drop: (state, conn) => {
    if (state.holder !== conn) return
    state.holder = undefined
    Effect.runFork(Effect.ignore(state.prim.release))
  },
  view: ({ cast, invoke }) => view(invoke, cast),
  local: (_, run) => view(run, ignoring(run)),
  compensate: (op, _args, value) => took(op, value) ? { op: "release", args: [] } : undefined
})

/** The `Lock` interface over remote calls; the `rlock` kind shares it. @internal */
export const view = (invoke: Invoke, cast: Cast): Lock.Lock => {
  const acquire: Effect.Effect<void> = invoke("acquire", [])
  const release: Effect.Effect<void, NotHeldError> = invoke("release", [])
  const releaseAfter = cast("release", [])
  return {
    acquire,
    tryAcquire: invoke("tryAcquire", []),
    acquireFor: (timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> =>
      invoke("acquireFor", [encodeTimeout(timeout)]),
    release,
    withLock: (effect) => guardedBy(acquire, releaseAfter, effect),
    locked: invoke("locked", [])
  }
}
