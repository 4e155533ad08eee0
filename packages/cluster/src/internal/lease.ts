/**
 * The partition bound: how a holding (a lock, a semaphore's permits, the
 * session that owns taken queue items) ends within `partitionTimeout` of the
 * holder losing its network, and how the holder learns of it first.
 *
 * Server side (`serverSettings`): every connection asks PostgreSQL, in its
 * startup packet (no extra round trip), for TCP keepalives every second and
 * `tcp_user_timeout`. The server's kernel then closes a connection it has
 * heard nothing from for `userTimeout` (an unanswered keepalive, or
 * unacknowledged data), and the backend exits, releasing what it held.
 * Closed no earlier than `userTimeout` after the last packet it received,
 * and no later than `userTimeout + interval` after the cut.
 *
 * Client side (`Leases`): each connection that holds something is a
 * `Holding`, with the time it was last heard from: the send time of its last
 * successful renewal (`SELECT 1` on that very connection; the server heard
 * us then or later), or the arrival of its grant. One timer per handle runs
 * while anything is held: it renews each holding every `renewEvery`, and
 * gives a holding up once it was not heard from for `lease`: it closes the
 * connection and tells the holder (`LockLostError`). The client gives up at
 * most `lease + tick` after last hearing from the server, which is earlier
 * than the server can release: `lease + tick < userTimeout` (see `bounds`).
 *
 * @internal
 */
import { inherit } from "./deadlock.ts"
import { Duration, Effect, Exit, Fiber } from "effect"
import { LockLostError } from "../errors.ts"
import type { Sql } from "./pg.ts"

/** The timings derived from one `partitionTimeout`. @internal */
export interface Bounds {
  /** `partitionTimeout`: the server releases what a cut-off client held within this. */
  readonly bound: number
  /** The client gives a holding up when it has not heard from the server for this long. */
  readonly lease: number
  /** How often a holding is renewed. */
  readonly renewEvery: number
  /** The watchdog's period: the client gives up at most this late. */
  readonly tick: number
  /** Server: seconds idle before the first keepalive, and between keepalives. */
  readonly keepaliveSeconds: number
  /** Server: keepalives unanswered before closing (where `tcp_user_timeout` is not supported). */
  readonly keepaliveCount: number
  /** Server: milliseconds of silence (or unacknowledged data) before it closes the connection. */
  readonly userTimeout: number
}

/** The smallest `partitionTimeout`: below it the keepalive's 1-second grain leaves no margin. @internal */
export const minBound = 6_000

/**
 * Bound B (ms): keepalives every V = max(1 s, B/10), the server's user
 * timeout U = B - 2V (it closes by U + V <= B after the cut), the client's
 * lease L = B/2 checked every L/10: it gives up by 0.55 B, before U >= 0.6 B.
 *
 * @internal
 */
export const bounds = (bound: number): Bounds => {
  const keepaliveSeconds = Math.max(1, Math.floor(bound / 10_000))
  const userTimeout = bound - 2 * keepaliveSeconds * 1000
  const lease = Math.floor(bound / 2)
  return {
    bound,
    lease,
    renewEvery: Math.floor(lease / 4),
    tick: Math.floor(lease / 10),
    keepaliveSeconds,
    keepaliveCount: Math.max(1, Math.floor((userTimeout / 1000 - keepaliveSeconds) / keepaliveSeconds)),
    userTimeout
  }
}

/** The startup parameters that make the server close a silent connection in time. @internal */
export const serverSettings = (b: Bounds): Record<string, number> => ({
  tcp_keepalives_idle: b.keepaliveSeconds,
  tcp_keepalives_interval: b.keepaliveSeconds,
  tcp_keepalives_count: b.keepaliveCount,
  tcp_user_timeout: b.userTimeout
})

/** A connection that holds something, and when the server was last heard on it. @internal */
export interface Holding {
  readonly sql: Sql
  /** What it holds, for the error: e.g. `ClusterLock "orders"`. */
  readonly what: string
  /** `performance.now()` when the server was last known to have heard us on this connection. */
  heard: number
  renewing: boolean
  /** Set once given up: the error every later use of the holding gets. */
  lost: LockLostError | undefined
  /** Called once when it is given up (a guarded body's interrupter). */
  onLost: (() => void) | undefined
}

/** How `Leases` reaches the server. @internal */
export interface Link {
  readonly server: string
  /** One `SELECT 1` on `sql` (not counted as a statement). */
  ping(sql: Sql): Promise<unknown>
  /** Closes `sql`. */
  discard(sql: Sql): void
  /** Starts the idle connections afresh (a holding went silent: the rest likely did too). */
  refresh(): void
}

/** The lease of every holding of one cluster handle, kept by one timer. @internal */
export class Leases {
  readonly bounds: Bounds
  private readonly held = new Set<Holding>()
  private timer: ReturnType<typeof setInterval> | undefined = undefined
  private readonly link: Link
  /** When the idle connections were last started afresh (`performance.now()`). */
  private refreshed = -Infinity

  constructor(bounds: Bounds, link: Link) {
    this.bounds = bounds
    this.link = link
  }

  /** Starts keeping what `sql` holds, the server last heard from at `heard` (`performance.now()`). */
  hold(sql: Sql, what: string, heard: number): Holding {
    const holding: Holding = { sql, what, heard, renewing: false, lost: undefined, onLost: undefined }
    this.held.add(holding)
    if (this.timer === undefined) {
      this.timer = setInterval(this.check, this.bounds.tick)
      // The timer must not keep the process alive on its own.
      ;(this.timer as { unref?: () => void }).unref?.()
    }
    return holding
  }

  /** Stops keeping `holding` (released). */
  drop(holding: Holding): void {
    this.held.delete(holding)
  }

  private readonly check = (): void => {
    if (this.held.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
      return
    }
    const now = performance.now()
    for (const h of this.held) {
      if (now - h.heard >= this.bounds.lease) {
        this.lose(h, `no round trip on its connection for ${Math.round(now - h.heard)} ms`)
        if (now - this.refreshed >= this.bounds.lease) {
          this.refreshed = now
          this.link.refresh()
        }
      }
      else if (!h.renewing && now - h.heard >= this.bounds.renewEvery) this.renew(h)
    }
  }

  private renew(h: Holding): void {
    h.renewing = true
    const sent = performance.now()
    this.link.ping(h.sql).then(
      () => {
        h.renewing = false
        if (sent > h.heard) h.heard = sent
      },
      (error: { message?: string }) => {
        h.renewing = false
        // The connection failed: the server has released, or will.
        this.lose(h, `its connection failed: ${error?.message ?? String(error)}`)
      }
    )
  }

  /** Gives `h` up: closes its connection and tells its holder. */
  lose(h: Holding, reason: string): void {
    if (h.lost !== undefined) return
    this.held.delete(h)
    h.lost = new LockLostError({
      what: h.what,
      server: this.link.server,
      reason,
      bound: Duration.format(Duration.millis(this.bounds.bound))
    })
    this.link.discard(h.sql)
    const f = h.onLost
    h.onLost = undefined
    f?.()
  }

  /** Gives everything up (the handle's scope closed). */
  clear(): void {
    this.held.clear()
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}

/**
 * Runs `effect` (a `withLock` / `withPermits` body) so that losing `holding`
 * interrupts it and ends it with `LockLostError` (a defect), once its
 * finalizers have run. The body runs in a child fiber for that; interrupting
 * the caller interrupts the body. `onStart` learns that fiber before it runs.
 *
 * @internal
 */
export const guard = <A, E, R>(
  holding: Holding,
  effect: Effect.Effect<A, E, R>,
  onStart?: (body: Fiber.Fiber<A, E>) => void
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    if (holding.lost !== undefined) return Effect.die(holding.lost)
    // With `onStart`, the body starts only after it was told its fiber (an
    // rlock's body owns the lock for its owner); without, at once.
    // The body's fiber holds what the caller's holds, to the deadlock check (deadlock.ts).
    const parent = Fiber.getCurrent()
    const body = Effect.withFiber((child) => {
      inherit(child, parent)
      return effect
    })
    const fork = onStart === undefined ? Effect.forkChild(body, { startImmediately: true }) : Effect.tap(Effect.forkChild(body), (f) => Effect.sync(() => onStart(f)))
    return Effect.flatMap(fork, (fiber) =>
      Effect.callback<A, E, R>((resume) => {
        const done = fiber.pollUnsafe()
        if (done !== undefined) return resume(done)
        holding.onLost = () => fiber.interruptUnsafe()
        fiber.addObserver((exit) => {
          holding.onLost = undefined
          resume(holding.lost !== undefined && Exit.hasInterrupts(exit) ? Effect.die(holding.lost) : exit)
        })
        return Fiber.interrupt(fiber)
      }))
  })

/**
 * `release` after a guarded body: quiet about a lease already given up (the
 * body ended with that `LockLostError`), loud about anything else.
 *
 * @internal
 */
export const releaseAfterLoss = <E>(release: Effect.Effect<void, E>): Effect.Effect<void, E> =>
  Effect.catchDefect(release, (defect) => (defect instanceof LockLostError ? Effect.void : Effect.die(defect)))
