/**
 * The manager's `condition()`: a hosted `Condition` over a hosted `RLock`
 * kept next to it. Like `rlock`, its calls run in a `Session` that owns the
 * lock for the client fiber; a notified `wait` is acknowledged, so a
 * notification whose client died or was interrupted before it saw it goes on
 * to the next waiter.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { InvalidArgumentError, NotHeldError } from "../../errors.ts"
import * as Condition from "../../Condition.ts"
import { waitUntil } from "../../internal/waitUntil.ts"
import * as RLock from "../../RLock.ts"
import { make } from "../kind.ts"
import type { Managed, Named } from "../Manager.ts"
import { encodeTimeout } from "../protocol.ts"
import { guardedBy } from "../../internal/guard.ts"
import { took } from "./support.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted `Condition` over a hosted `RLock` the manager keeps next to it
   * (Python's `manager.Condition()`). The lock is owned by (client
   * connection, client fiber), exactly like `rlock()`: `wait`, `waitFor`,
   * `notify` and `notifyAll` need the calling fiber to hold it (else
   * `NotHeldError`).
   *
   * - `wait` / `waitFor` run on the manager; interrupting one there still
   *   re-takes the lock before the client's effect ends, as at fiber scope:
   *   the interrupted client fiber holds the lock again (at the same depth)
   *   when its interruption completes, so a `withLock` around it releases a
   *   lock that is held. A notification that reached a waiter interrupted
   *   before its reply reached it goes on to the next waiter, and so does one
   *   whose reply never reached a client that died. (As at fiber scope, a
   *   waiter interrupted while it re-takes the lock after its notification
   *   has used that notification.)
   * - `waitUntil(predicate, timeout?)`: a function cannot cross processes, so
   *   this is Python's `wait_for` loop in the calling process: the predicate
   *   is evaluated there, under the lock, between remote `wait`s (`waitFor`s
   *   with the time left, measured with Effect's `Clock`). It costs one round
   *   trip per wake-up, plus one at the start to check that the lock is held.
   * - A client that dies or disconnects while waiting stops waiting (taking
   *   the lock back first, as any interrupted wait does) and then releases
   *   every level of the lock it held; so does one that dies holding it.
   *
   * In the manager's own process, the returned condition is the fiber
   * `Condition` itself (its fibers own the lock directly).
   *
   * @example
   * ```ts
   * import * as fs from "node:fs"
   *
   * // manager's process
   * declare const manager: Manager.Manager
   * const ready = yield* manager.condition()
   * // send `ready.handle` to the workers; then, after changing shared state:
   * yield* ready.withLock(ready.notifyAll)
   *
   * // a worker process
   * declare const handle: Manager.Handle<"condition">
   * declare const flagFile: string
   * const cond = yield* Manager.attach(handle)
   * yield* cond.withLock(cond.waitUntil(() => fs.existsSync(flagFile), "10 seconds"))
   * ```
   */
  condition(options?: Named): Effect.Effect<Managed<"condition">, InvalidArgumentError>
}

/** What the server keeps per primitive. @internal */
export interface State {
  readonly prim: Condition.Condition
  readonly lock: RLock.RLock
}

const isWait = (op: string): boolean => op === "wait" || op === "waitFor"

/** @internal */
export const kind = make<Factory>()({
  kind: "condition",
  host: () =>
    Effect.flatMap(RLock.make, (lock) => Effect.map(Effect.orDie(Condition.make(lock)), (prim): State => ({ prim, lock }))),
  ops: {
    acquire: ({ prim }) => prim.acquire,
    release: ({ prim }) => prim.release,
    wait: ({ prim }) => prim.wait,
    waitFor: ({ prim }, [timeout]) => prim.waitFor(timeout),
    notify: ({ prim }, [n]) => prim.notify(n),
    notifyAll: ({ prim }) => prim.notifyAll,
    // A client interrupted after its wait was notified passes it on.
    passOn: ({ prim }) => prim.notify(1),
    // For the client's `waitUntil`.
    isOwned: ({ lock }) => lock.isOwned
  },
  session: {
    lock: (state) => state.lock,
    acked: (op, value) => isWait(op) && value !== false,
    passOn: (state) => state.prim.notify(1)
  },
  view: ({ cast, invoke }): Condition.Condition => {
    const acquire: Effect.Effect<void> = invoke("acquire", [])
    const releaseAfter = cast("release", [])
    const wait: Effect.Effect<void, NotHeldError> = invoke("wait", [])
    const waitFor = (timeout: Duration.Input): Effect.Effect<boolean, NotHeldError | InvalidArgumentError> =>
      invoke("waitFor", [encodeTimeout(timeout)])
    const isOwned: Effect.Effect<boolean> = invoke("isOwned", [])
    return {
      acquire,
      release: invoke("release", []),
      withLock: (effect) => guardedBy(acquire, releaseAfter, effect),
      wait,
      waitFor,
      // Python's `wait_for`, here: the predicate runs in this process, between
      // remote waits, with the remaining time measured on this process's Clock.
      waitUntil: <E = never, R = never>(
        predicate: (() => boolean) | Effect.Effect<boolean, E, R>,
        timeout?: Duration.Input
      ): Effect.Effect<boolean, E | NotHeldError | InvalidArgumentError, R> =>
        waitUntil(predicate, timeout, isOwned, (left) => left === undefined ? wait : waitFor(left)),
      notify: (n = 1): Effect.Effect<void, NotHeldError | InvalidArgumentError> => invoke("notify", [n]),
      notifyAll: invoke("notifyAll", [])
    }
  },
  local: (state) => state.prim,
  compensate: (op, _args, value) => {
    // Notified, then interrupted: as at fiber scope, the notification goes
    // on to the next waiter (the lock is held again either way).
    if (op === "wait" || (op === "waitFor" && value === true)) return { op: "passOn", args: [] }
    return took(op, value) ? { op: "release", args: [] } : undefined
  }
})
