/**
 * The manager's `semaphore(n)`: a hosted `Semaphore`. The server books each
 * connection's permits, so a connection that drops gives them back.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { InvalidArgumentError, SemaphoreOverflowError } from "../../errors.ts"
import * as Semaphore from "../../Semaphore.ts"
import { type Cast, type Conn, type Invoke, make, partyOf } from "../kind.ts"
import type { Managed, Named } from "../Manager.ts"
import { encodeTimeout } from "../protocol.ts"
import { guardedBy } from "../../internal/guard.ts"
import { ignoring, took, tracked } from "./support.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted `Semaphore` with `n` permits (`bounded: true`:
   * `Semaphore.bounded`, whose `release` past `n` fails). A process that
   * dies gives back every permit it held.
   *
   * @example
   * ```ts
   * declare const manager: Manager.Manager
   * const rooms = yield* manager.semaphore(4)
   * yield* rooms.withPermits(1)(Effect.log("singing"))
   * ```
   */
  semaphore(n: number, options?: { readonly bounded?: boolean } & Named): Effect.Effect<Managed<"semaphore">, InvalidArgumentError>
}

/** What the server keeps per primitive. @internal */
export interface State {
  readonly prim: Semaphore.Semaphore
  /** Permits held, per connection. */
  readonly held: Map<Conn, number>
  /** When each connection first took what it holds (`Inspect`). */
  readonly since: Map<Conn, number>
}

const takePermits = (held: Map<Conn, number>, conn: Conn, k: number, since?: Map<Conn, number>): void => {
  held.set(conn, (held.get(conn) ?? 0) + k)
  if (since !== undefined && !since.has(conn)) since.set(conn, Date.now())
}

/** A release gives back the releasing connection's permits first, then anybody's. */
const returnPermits = (held: Map<Conn, number>, conn: Conn, k: number): void => {
  let left = k
  const take = (c: Conn) => {
    const n = held.get(c) ?? 0
    const m = Math.min(n, left)
    left -= m
    if (n - m === 0) held.delete(c)
    else held.set(c, n - m)
  }
  take(conn)
  for (const c of held.keys()) if (left > 0) take(c)
}

/** @internal */
export const kind = make<Factory>()({
  kind: "semaphore",
  host: (n: number, options?: { readonly bounded?: boolean }) =>
    Effect.map(options?.bounded ? Semaphore.bounded(n) : Semaphore.make(n), (prim): State => ({ prim, held: new Map(), since: new Map() })),
  ops: {
    acquire: ({ held, prim, since }, [k], conn) => tracked(prim.acquire(k), () => takePermits(held, conn, k, since)),
    tryAcquire: ({ held, prim, since }, [k], conn) =>
      tracked(prim.tryAcquire(k), (taken) => taken && takePermits(held, conn, k, since)),
    acquireFor: ({ held, prim, since }, [timeout, k], conn) =>
      tracked(prim.acquireFor(timeout, k), (taken) => taken && takePermits(held, conn, k, since)),
    release: ({ held, prim }, [k], conn) => tracked(prim.release(k), () => returnPermits(held, conn, k)),
    available: ({ prim }) => prim.available
  },
  describe: (state) => {
    for (const conn of state.since.keys()) if (!state.held.has(conn)) state.since.delete(conn)
    const holders = [...state.held].map(([conn, permits]) => {
      if (!state.since.has(conn)) state.since.set(conn, Date.now())
      return partyOf(conn, undefined, state.since.get(conn)!, permits)
    })
    return { holders, counts: { free: Effect.runSync(state.prim.available) } }
  },
  drop: (state, conn) => {
    const n = state.held.get(conn)
    if (n === undefined) return
    state.held.delete(conn)
    Effect.runFork(Effect.ignore(state.prim.release(n)))
  },
  view: ({ cast, invoke }) => view(invoke, cast),
  local: (_, run) => view(run, ignoring(run)),
  compensate: (op, args, value) =>
    took(op, value) ? { op: "release", args: [op === "acquireFor" ? args[1] ?? 1 : args[0] ?? 1] } : undefined
})

const view = (invoke: Invoke, cast: Cast): Semaphore.Semaphore => ({
  acquire: (k = 1): Effect.Effect<void, InvalidArgumentError> => invoke("acquire", [k]),
  tryAcquire: (k = 1): Effect.Effect<boolean, InvalidArgumentError> => invoke("tryAcquire", [k]),
  acquireFor: (timeout: Duration.Input, k = 1): Effect.Effect<boolean, InvalidArgumentError> =>
    invoke("acquireFor", [encodeTimeout(timeout), k]),
  release: (k = 1): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError> => invoke("release", [k]),
  withPermits: (k: number) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | InvalidArgumentError, R> =>
    guardedBy(invoke("acquire", [k]), cast("release", [k]), effect),
  available: invoke("available", [])
})
