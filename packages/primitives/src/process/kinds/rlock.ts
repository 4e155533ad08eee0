/**
 * The manager's `rlock()`: a hosted `RLock`, owned by (client connection,
 * client fiber). Its calls run in a `Session`, a server fiber that stands
 * for the client fiber and so owns the lock on the server.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { InvalidArgumentError } from "../../errors.ts"
import type * as Lock from "../../Lock.ts"
import * as RLock from "../../RLock.ts"
import { type Cast, type Invoke, make } from "../kind.ts"
import type { Managed, Named } from "../Manager.ts"
import { view as lockView } from "./lock.ts"
import { took } from "./support.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted `RLock`, owned by (client connection, client fiber): the fiber
   * that took it may take it again, and only it may release it. A process
   * that dies holding it releases every level. In the manager's own process
   * it is the fiber `RLock` itself.
   *
   * @example
   * ```ts
   * declare const manager: Manager.Manager
   * const rlock = yield* manager.rlock()
   * yield* rlock.withLock(rlock.withLock(Effect.log("nested")))
   * ```
   */
  rlock(options?: Named): Effect.Effect<Managed<"rlock">, InvalidArgumentError>
}

/** The `RLock` interface over remote calls; the `condition` kind's lock part. @internal */
export const view = (invoke: Invoke, cast: Cast): RLock.RLock => ({
  // An RLock's release may also fail NotOwnerError: the manager reports it.
  ...(lockView(invoke, cast) as Omit<Lock.Lock, "release">),
  release: invoke("release", []),
  isOwned: invoke("isOwned", [])
})

/** @internal */
export const kind = make<Factory>()({
  kind: "rlock",
  host: () => RLock.make,
  ops: {
    acquire: (rlock) => rlock.acquire,
    tryAcquire: (rlock) => rlock.tryAcquire,
    acquireFor: (rlock, [timeout]) => rlock.acquireFor(timeout),
    release: (rlock) => rlock.release,
    locked: (rlock) => rlock.locked,
    isOwned: (rlock) => rlock.isOwned
  },
  session: { lock: (rlock) => rlock, acked: () => false, passOn: () => Effect.void },
  view: ({ cast, invoke }) => view(invoke, cast),
  local: (rlock) => rlock,
  compensate: (op, _args, value) => took(op, value) ? { op: "release", args: [] } : undefined
})
