/**
 * Lock, RLock and Semaphore on session advisory locks.
 *
 * In each process, a fiber-scope `Lock` per name lets one fiber at a time
 * wait in the server (FIFO among the process's fibers), so a process has at
 * most one waiter per name in the server's queue, and the server's own lock
 * queue (FIFO) orders the processes.
 *
 * @internal
 */
import { Duration, Effect, Exit, Fiber } from "effect"
import type { DeadlockError } from "@weft/primitives/errors"
import { gave, heldBy, took, watch } from "./deadlock.ts"
import {
  InvalidArgumentError,
  Lock as FiberLock,
  NotHeldError,
  NotOwnerError,
  type RLock,
  type Semaphore,
  SemaphoreOverflowError
} from "@weft/primitives"
import { Permits } from "@weft/primitives/Permits"
import { guardedBy } from "@weft/primitives/guard"
import { millis, permitRequest } from "@weft/primitives/validate"
import { guard, type Holding, releaseAfterLoss } from "./lease.ts"
import type { Db, PgFailure, Sql } from "./pg.ts"
import { heldKeysSql, key, KeyKind } from "./schema.ts"

const isLockTimeout = (e: PgFailure): boolean => e.code === "55P03"

/**
 * How far one attempt to take a lock got: nothing, the local turn (a fiber
 * of this process at a time), or the lock in the server too.
 */
const Stage = { none: 0, turn: 1, held: 2 } as const
type Stage = (typeof Stage)[keyof typeof Stage]

/** One call's attempt to take a lock: what its exit hook must undo. */
interface Attempt {
  stage: Stage
}

/**
 * A cluster lock's extra: the fencing token of the current grant.
 *
 * @internal
 */
export interface Fenced {
  /**
   * The fencing token of this process's current hold: every grant that reads
   * one gets a larger one than any earlier grant of the lock (they come from
   * one sequence). Drawn on the first read in a hold, on the holding
   * connection and only while it still holds the lock; later reads in the
   * same hold return the same number. Fails with `NotHeldError` when this
   * process does not hold the lock, and dies with `ClusterUnavailableError`
   * when its connection lost the lock (`LockLostError` once the lease gave
   * the hold up: lease.ts).
   */
  readonly fencingToken: Effect.Effect<number, NotHeldError>
}

/**
 * A lock name in this process: the local FIFO in front of the server, and the
 * holding (connection and fencing token) once taken.
 *
 * It is the cluster's hot path, so each step is one Effect primitive around
 * plain driver calls, with no combinator layers: a grant is the local turn
 * (a `Permits`, taken synchronously when free) and one statement
 * (`Effect.callback`); a release is one statement; `withLock` adds a single
 * exit hook that undoes whatever stage the attempt had reached. The
 * statements are the bare `pg_advisory_lock` / `pg_advisory_unlock`, prepared.
 * bench/src/cluster/main.ts measures it against a loop of just those on the driver.
 */
class Grant {
  held:
    | {
      readonly sql: Sql
      token: number | undefined
      readonly attempt: Attempt
      readonly lease: Holding
      /** The fiber the grant went to (deadlock.ts). */
      readonly fiber: object | undefined
    }
    | undefined = undefined
  /**
   * This process's turn at the name: one fiber at a time takes (or waits
   * for) the lock in the server, the others queue here, FIFO.
   */
  readonly local = new Permits(1)
  readonly db: Db
  readonly key: string
  readonly primitive: string
  /** The primitive and its name, for `LockLostError`. */
  private readonly what: string
  private readonly grantSql: string
  private readonly timedSql: string
  private readonly trySql: string
  private readonly unlockSql: string
  private readonly tokenSql: string

  constructor(db: Db, key: string, primitive: string, name: string) {
    this.db = db
    this.key = key
    this.primitive = primitive
    this.what = `${primitive} ${JSON.stringify(name)}`
    // The key is a number this module computed, written into the text: a
    // statement with no parameters costs the driver less per grant. A grant
    // is the bare `pg_advisory_lock`; the fencing token is drawn only when
    // the holder reads it (`tokenSql`).
    this.grantSql = `SELECT pg_advisory_lock(${key}::int8)`
    // A materialized CTE: the timeout is set before the lock is asked for.
    this.timedSql = `WITH s AS MATERIALIZED (SELECT set_config('lock_timeout', $1, true))
      SELECT pg_advisory_lock(${key}::int8) FROM s`
    this.trySql = `SELECT pg_try_advisory_lock(${key}::int8) AS ok`
    this.unlockSql = `SELECT pg_advisory_unlock(${key}::int8) AS ok`
    // Drawn on the holding connection, and only while it still holds the
    // lock (a reconnected connection does not): so the token is larger than
    // every token drawn under an earlier grant, and smaller than every token
    // of a later one.
    this.tokenSql = `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
        AND granted AND pid = pg_backend_pid() AND ((classid::int8 << 32) | objid::int8) = ${key}::int8)
      THEN nextval('${db.schema}.fencing')::text END AS token`
  }

  /**
   * After the local turn is taken: takes the server lock (`millis`: at most
   * that long), on a dedicated connection that it keeps while the lock is
   * held, and marks `attempt` as holding it. `false`: the time ran out (or
   * `"try"` found it taken), the connection is back in the pool. Interrupted:
   * the statement is cancelled and the connection's backend ended, in case
   * the server granted the lock just as the wait ended.
   */
  private server(millis: number | "try" | undefined, attempt: Attempt): Effect.Effect<boolean> {
    return Effect.callback<boolean>((resume) => {
      const db = this.db
      const sql = db.take()
      // A fiber that holds other cluster locks while it waits could be in a deadlock: watch the wait.
      const fiber = Fiber.getCurrent()
      const holding = millis === "try" ? undefined : heldBy(fiber)
      let deadlock: DeadlockError | undefined
      const unwatch = holding === undefined ? undefined : watch(db, sql, holding, (error) => void (deadlock = error))
      const query = millis === undefined
        ? db.send<{ ok?: boolean }>(sql, this.grantSql)
        : millis === "try"
        ? db.send<{ ok?: boolean }>(sql, this.trySql)
        : db.send<{ ok?: boolean }>(sql, this.timedSql, [`${Math.max(1, Math.ceil(millis))}ms`])
      let interrupted = false
      query.then(
        (rows) => {
          unwatch?.()
          if (interrupted) return
          // A wait (timed or not) that returns has the lock; a try says so.
          if (millis !== "try" || rows[0]?.ok === true) {
            // The lease starts as the grant arrives (lease.ts: the server sent
            // it a moment ago, and cannot close this connection sooner than
            // its user timeout after that).
            this.held = { sql, token: undefined, attempt, lease: db.leases.hold(sql, this.what, performance.now()), fiber }
            db.noteGrant(sql)
            took(fiber, this.key)
            attempt.stage = Stage.held
            return resume(Effect.succeed(true))
          }
          db.give(sql)
          resume(Effect.succeed(false))
        },
        (error: PgFailure) => {
          unwatch?.()
          if (interrupted) return
          // This wait closed a cycle and was ended to break it (deadlock.ts).
          if (deadlock !== undefined) return resume(Effect.andThen(db.letGo(sql), Effect.die(deadlock)))
          if (isLockTimeout(error)) {
            db.give(sql)
            return resume(Effect.succeed(false))
          }
          resume(Effect.andThen(db.letGo(sql), Effect.die(db.failure(error))))
        }
      )
      return Effect.suspend(() => {
        unwatch?.()
        interrupted = true
        return Effect.andThen(db.cancelled(sql, query), db.letGo(sql))
      })
    })
  }

  /**
   * Takes the lock, both halves, recording in `attempt` how far it got (so
   * that `settle` can undo exactly that, however the attempt ended);
   * `false` when `millis` ran out (or `"try"` found it taken).
   */
  private attempt(millis: number | "try" | undefined, attempt: Attempt): Effect.Effect<boolean> {
    if (this.local.tryTake(1)) {
      attempt.stage = Stage.turn
      return this.server(millis, attempt)
    }
    if (millis === "try") return Effect.succeed(false)
    const start = Date.now()
    const wait = millis === undefined ? Effect.asSome(this.local.wait(1)) : Effect.timeoutOption(this.local.wait(1), millis)
    // The turn is recorded as the wait ends, with no interruption in between.
    const queued = Effect.uninterruptibleMask((restore) =>
      Effect.map(restore(wait), (turn) => {
        if (turn._tag === "Some") attempt.stage = Stage.turn
        return turn._tag === "Some"
      })
    )
    return Effect.flatMap(queued, (turn) => {
      if (!turn) return Effect.succeed(false)
      const left = millis === undefined ? undefined : millis - (Date.now() - start)
      return this.server(left === undefined ? undefined : left <= 0 ? "try" : left, attempt)
    })
  }

  /**
   * Undoes what an attempt left: its local turn if it got no further, or,
   * `release`, the lock itself if it still holds it (the body of `withLock`
   * may have released it, and then another fiber may hold it).
   */
  private settle(attempt: Attempt, release: boolean): Effect.Effect<void> | undefined {
    if (attempt.stage === Stage.turn) {
      attempt.stage = Stage.none
      this.local.release(1)
      return undefined
    }
    return release && attempt.stage === Stage.held && this.held?.attempt === attempt ? this.giveBack : undefined
  }

  /** Takes the lock, both halves; `false` when `millis` ran out. Never leaves the local turn taken otherwise. */
  take(millis: number | "try" | undefined): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const attempt: Attempt = { stage: Stage.none }
      return Effect.onExitPrimitive(this.attempt(millis, attempt), () => this.settle(attempt, false))
    })
  }

  /**
   * Gives the lock back in the server, then the local turn. A `false` from
   * the server means the connection dropped while the lock was held
   * (postgres.js reconnected for this statement): the lock was lost, and
   * this dies saying so. Fails with `NotHeldError` when not held.
   */
  private readonly release: Effect.Effect<void, NotHeldError> = Effect.callback<void, NotHeldError>((resume) => {
    const held = this.held
    if (held === undefined) return resume(Effect.fail(new NotHeldError({ primitive: this.primitive, operation: "release" })))
    this.held = undefined
    gave(held.fiber, this.key)
    held.attempt.stage = Stage.none
    const db = this.db
    if (held.lease.lost !== undefined) {
      // Given up by the lease: its connection is closed already.
      this.local.release(1)
      return resume(Effect.die(held.lease.lost))
    }
    db.leases.drop(held.lease)
    db.send<{ ok: boolean }>(held.sql, this.unlockSql).then(
      (rows) => {
        this.local.release(1)
        if (rows[0]?.ok === true) {
          db.give(held.sql)
          return resume(Effect.void)
        }
        db.discard(held.sql)
        resume(Effect.die(db.lost(this.primitive)))
      },
      (error: PgFailure) => {
        this.local.release(1)
        db.discard(held.sql)
        resume(Effect.die(db.failure(error)))
      }
    )
  })

  /** Gives the lock back (see `release`); never interrupted half-way. */
  readonly give: Effect.Effect<void, NotHeldError> = Effect.uninterruptible(this.release)

  /**
   * `release` at the end of `withLock`: it held the lock, so `NotHeldError`
   * cannot happen. A hold the lease gave up ends quietly here: its body was
   * interrupted with `LockLostError` already.
   */
  private readonly giveBack: Effect.Effect<void> = Effect.suspend(() =>
    (this.held?.lease.lost !== undefined ? releaseAfterLoss(this.release) : this.release) as Effect.Effect<void>
  )

  /** The body of `withLock`, interrupted with `LockLostError` if the lease gives the hold up. */
  private guarded<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.suspend(() => guard(this.held!.lease, effect))
  }

  /**
   * Runs `effect` holding the lock, and gives it back however `effect` ends.
   * One exit hook covers the whole: whatever stage the attempt reached when
   * the fiber was interrupted or failed, `settle` undoes exactly that.
   */
  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      const attempt: Attempt = { stage: Stage.none }
      return Effect.onExitPrimitive(Effect.andThen(this.attempt(undefined, attempt), this.guarded(effect)), () => this.settle(attempt, true))
    })
  }

  /** Whether any process holds the lock. */
  readonly locked: Effect.Effect<boolean> = Effect.map(
    Effect.suspend(() => this.db.q<{ locked: boolean }>(`SELECT EXISTS (SELECT 1 FROM (${heldKeysSql}) h WHERE h.k = $1::int8) AS locked`, [this.key])),
    (rows) => rows[0]!.locked
  )

  /**
   * The fencing token of this hold, drawn on its first read (one statement
   * on the holding connection) and kept for the rest of the hold.
   */
  readonly fencingToken: Effect.Effect<number, NotHeldError> = Effect.suspend(() => {
    const held = this.held
    if (held === undefined) return Effect.fail(new NotHeldError({ primitive: this.primitive, operation: "fencingToken" }))
    if (held.lease.lost !== undefined) return Effect.die(held.lease.lost)
    if (held.token !== undefined) return Effect.succeed(held.token)
    return Effect.flatMap(Effect.uninterruptible(this.db.run<{ token: string | null }>(held.sql, this.tokenSql)), (rows) => {
      const token = rows[0]?.token
      if (token != null) {
        held.token ??= Number(token)
        return Effect.succeed(held.token)
      }
      // Released meanwhile (another fiber), or the connection dropped and
      // was reopened: the lock is not held on it any more.
      return this.held !== held
        ? Effect.fail(new NotHeldError({ primitive: this.primitive, operation: "fencingToken" }))
        : Effect.die(this.db.lost(this.primitive))
    })
  })
}

/** A timeout as milliseconds (`undefined`: forever), or the error that names it. */
const millisOf = (operation: string, timeout: Duration.Input): Effect.Effect<number | undefined, InvalidArgumentError> => {
  const ms = millis(operation, "timeout", timeout)
  return ms instanceof InvalidArgumentError ? Effect.fail(ms) : Effect.succeed(Number.isFinite(ms) ? ms : undefined)
}

/** @internal */
export type ClusterLock = import("@weft/primitives").Lock.Lock & Fenced

/** @internal */
export const makeLock = (db: Db, id: number, name: string): ClusterLock => {
  const grant = new Grant(db, key(KeyKind.lock, id), "ClusterLock", name)
  const acquire = Effect.asVoid(grant.take(undefined))
  return {
    acquire,
    tryAcquire: grant.take("try"),
    acquireFor: (timeout) =>
      Effect.flatMap(millisOf("ClusterLock.acquireFor", timeout), (ms) =>
        ms === undefined ? Effect.as(acquire, true) : grant.take(ms === 0 ? "try" : ms)),
    release: grant.give,
    withLock: (effect) => grant.withLock(effect),
    locked: grant.locked,
    fencingToken: grant.fencingToken
  }
}

/** @internal */
export type ClusterRLock = RLock.RLock & Fenced

/** @internal */
export const makeRLock = (db: Db, id: number, name: string): ClusterRLock => {
  const grant = new Grant(db, key(KeyKind.rlock, id), "ClusterRLock", name)
  let owner: number | undefined = undefined
  /** The fiber running the outermost `withLock` body (guarded, lease.ts): it owns the lock for the owner. */
  let body: number | undefined = undefined
  let depth = 0
  const owns = (fiber: Fiber.Fiber<unknown, unknown>) => owner !== undefined && (owner === fiber.id || body === fiber.id)
  const nest = (fiber: Fiber.Fiber<unknown, unknown>) => {
    if (!owns(fiber)) return false
    depth++
    return true
  }
  const take = (fiber: Fiber.Fiber<unknown, unknown>, millis: number | "try" | undefined) =>
    nest(fiber) ? Effect.succeed(true) : Effect.uninterruptibleMask((restore) =>
      Effect.tap(restore(grant.take(millis)), (took) =>
        Effect.sync(() => {
          if (took) {
            owner = fiber.id
            depth = 1
          }
        })))
  const acquire: Effect.Effect<void> = Effect.withFiber((fiber) => Effect.asVoid(take(fiber, undefined)))
  const release: Effect.Effect<void, NotHeldError | NotOwnerError> = Effect.withFiber((fiber): Effect.Effect<void, NotHeldError | NotOwnerError> => {
    if (owner === undefined) return Effect.fail(new NotHeldError({ primitive: "ClusterRLock", operation: "release" }))
    if (!owns(fiber)) {
      return Effect.fail(
        new NotOwnerError({ primitive: "ClusterRLock", operation: "release", owner: `fiber #${owner}`, caller: `fiber #${fiber.id}` })
      )
    }
    if (--depth > 0) return Effect.void
    owner = undefined
    return Effect.orDie(grant.give)
  })
  return {
    acquire,
    tryAcquire: Effect.withFiber((fiber) => take(fiber, "try")),
    acquireFor: (timeout) =>
      Effect.flatMap(millisOf("ClusterRLock.acquireFor", timeout), (ms) =>
        Effect.withFiber((fiber) => take(fiber, ms === 0 ? "try" : ms))),
    release,
    // The outermost body runs guarded (interrupted with LockLostError if the
    // lease is given up) on a fiber of its own, which owns the lock meanwhile.
    withLock: (effect) =>
      Effect.withFiber((fiber) =>
        owns(fiber) ? guardedBy(acquire, release, effect) : guardedBy(
          acquire,
          releaseAfterLoss(release),
          Effect.suspend(() =>
            Effect.ensuring(
              guard(grant.held!.lease, effect, (f) => void (body = f.id)),
              Effect.sync(() => void (body = undefined))
            )
          )
        )
      ),
    locked: grant.locked,
    isOwned: Effect.withFiber((fiber) => Effect.succeed(owns(fiber))),
    fencingToken: grant.fencingToken
  }
}

/**
 * A semaphore of `permits` slots. A permit is a slot's advisory lock, held
 * on a dedicated connection. Waiters queue (FIFO, in the server) for the
 * semaphore's gate lock; the one at the head takes free slots with
 * `pg_try_advisory_lock` and, while it lacks some, waits on every slot
 * another connection holds (one statement per slot, each blocking in the
 * server until that slot is released or its holder's connection drops),
 * then tries again. No statement runs while it waits.
 *
 * @internal
 */
export const makeSemaphore = (db: Db, id: number, name: string, permits: number): Semaphore.Semaphore => {
  const gate = key(KeyKind.semaphoreGate, id)
  const slotKeys = Array.from({ length: permits }, (_, s) => key(KeyKind.semaphoreSlot, id, s))
  const local = Effect.runSync(FiberLock.make)
  /** Slots this process holds, each on its connection (newest last), with that connection's lease. */
  const held: Array<{ readonly sql: Sql; readonly slot: number; readonly lease: Holding }> = []
  const primitive = "ClusterSemaphore"
  const what = `${primitive} ${JSON.stringify(name)}`
  const check = (operation: string, k: unknown): InvalidArgumentError | undefined => permitRequest(primitive, operation, k, permits)
  const trySlots = `SELECT coalesce(string_agg(s::text, ','), '') AS got FROM (
      SELECT s FROM generate_series(0, $2::int - 1) s
      WHERE CASE WHEN s = ANY($3::int[]) THEN false ELSE pg_try_advisory_lock(($1::int8) + s) END
      LIMIT $4::int) t`
  const slotBase = key(KeyKind.semaphoreSlot, id, 0)
  const pgArray = (xs: ReadonlyArray<number>) => `{${xs.join(",")}}`

  /** Waits until one of `slots` is free (released, or its holder gone). */
  const anyFreed = (slots: ReadonlyArray<number>): Effect.Effect<void> =>
    Effect.raceAll(
      slots.map((s) =>
        db.waitOn(`SELECT pg_advisory_lock_shared($1::int8), pg_advisory_unlock_shared($1::int8)`, [slotKeys[s]])
      )
    ).pipe(Effect.asVoid)

  /**
   * One statement for the common case: queue at the gate (or, `tryOnly`,
   * try it), take up to `k` free slots, and leave the gate when they are
   * enough (or, `tryOnly`, give back a partial haul and leave anyway).
   */
  const enterSql = `WITH g AS MATERIALIZED (
      SELECT CASE WHEN $5::bool THEN pg_try_advisory_lock($1::int8) ELSE pg_advisory_lock($1::int8) IS NOT NULL END AS ok),
    t AS MATERIALIZED (
      SELECT s FROM g, generate_series(0, $3::int - 1) s
      WHERE CASE WHEN g.ok THEN pg_try_advisory_lock(($2::int8) + s) ELSE false END LIMIT $4::int),
    n AS MATERIALIZED (SELECT count(*)::int AS c, coalesce(string_agg(s::text, ','), '') AS got FROM t)
    SELECT g.ok AS entered, n.got,
      CASE WHEN g.ok AND n.c < $4::int AND $5::bool THEN (SELECT count(pg_advisory_unlock(($2::int8) + s)) FROM t) END AS undone,
      CASE WHEN g.ok AND (n.c = $4::int OR $5::bool) THEN pg_advisory_unlock($1::int8) END AS left_gate
    FROM g, n`

  /**
   * On `sql`: queue at the gate, then gather `k` slots. Returns the slots
   * taken (`k` of them), or none when `tryOnly` and they are not free now.
   */
  const gather = (sql: Sql, k: number, tryOnly: boolean): Effect.Effect<ReadonlyArray<number>> =>
    Effect.gen(function*() {
      const first = (yield* db.run<{ entered: boolean; got: string }>(sql, enterSql, [gate, slotBase, permits, k, tryOnly]))[0]!
      if (!first.entered) return []
      const mine: Array<number> = first.got === "" ? [] : first.got.split(",").map(Number)
      if (mine.length === k) return mine
      if (tryOnly) return []
      // Still at the head of the gate, holding what it got: wait for the rest.
      while (mine.length < k) {
        yield* anyFreed(slotKeys.map((_, s) => s).filter((s) => !mine.includes(s)))
        const rows = yield* db.run<{ got: string }>(sql, trySlots, [slotBase, permits, pgArray(mine), k - mine.length])
        if (rows[0]!.got !== "") mine.push(...rows[0]!.got.split(",").map(Number))
      }
      yield* db.run(sql, "SELECT pg_advisory_unlock($1::int8)", [gate])
      return mine
    })

  /** Takes `k` permits: the lease of the connection that holds them, or `undefined` when not taken. */
  const take = (k: number, millis: number | "try" | undefined): Effect.Effect<Holding | undefined> =>
    Effect.uninterruptibleMask((restore) => {
      const localTake = millis === "try" ? local.tryAcquire : Effect.as(local.acquire, true)
      return Effect.flatMap(restore(localTake), (entered): Effect.Effect<Holding | undefined> => {
        if (!entered) return Effect.succeed(undefined)
        const sql = db.take()
        let wait = gather(sql, k, millis === "try")
        if (typeof millis === "number") wait = Effect.map(Effect.timeoutOption(wait, millis), (o) => (o._tag === "Some" ? o.value : []))
        return Effect.exit(restore(wait)).pipe(
          Effect.flatMap((exit) =>
            Effect.suspend(() => {
              if (Exit.isSuccess(exit) && exit.value.length === k) {
                const lease = db.leases.hold(sql, what, performance.now())
                for (const slot of exit.value) held.push({ sql, slot, lease })
                return Effect.succeed(lease)
              }
              // Not taken. A try left nothing held; a wait that timed out or was
              // interrupted lets go of the gate and of any slot it gathered,
              // whatever stage it was in.
              if (Exit.isSuccess(exit) && millis === "try") {
                db.give(sql)
                return Effect.succeed(undefined)
              }
              return Effect.andThen(db.letGo(sql), Exit.isSuccess(exit) ? Effect.succeed(undefined) : Effect.failCause(exit.cause))
            })
          ),
          Effect.ensuring(Effect.ignore(local.release))
        )
      })
    })

  const release = (k = 1): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError> =>
    Effect.uninterruptible(Effect.suspend((): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError> => {
      const bad = check("release", k)
      if (bad !== undefined) return Effect.fail(bad)
      if (k > held.length) {
        return Effect.fail(new SemaphoreOverflowError({ permits, available: permits - held.length, released: k }))
      }
      const giving = held.splice(held.length - k, k)
      const bySql = new Map<Sql, Array<number>>()
      const leases = new Map<Sql, Holding>()
      for (const { slot, sql, lease } of giving) {
        bySql.set(sql, [...(bySql.get(sql) ?? []), slot])
        leases.set(sql, lease)
      }
      return Effect.forEach([...bySql], ([sql, slots]) => {
        const lease = leases.get(sql)!
        // Given up by the lease: its connection is closed, the server releases them.
        if (lease.lost !== undefined) return Effect.die(lease.lost)
        const rest = held.some((h) => h.sql === sql)
        if (!rest) db.leases.drop(lease)
        return db.exec<{ ok: boolean }>(
          sql,
          `SELECT bool_and(pg_advisory_unlock(($1::int8) + s)) AS ok FROM unnest($2::int[]) s`,
          [slotBase, pgArray(slots)]
        ).pipe(
          Effect.matchEffect({
            onSuccess: (rows) =>
              rows[0]?.ok === true
                ? Effect.sync(() => rest || db.give(sql))
                : Effect.sync(() => db.discard(sql)).pipe(Effect.andThen(Effect.die(db.lost(primitive)))),
            onFailure: (e) => Effect.sync(() => db.discard(sql)).pipe(Effect.andThen(Effect.die(db.failure(e))))
          })
        )
      }, { discard: true })
    }))

  const acquire = (k = 1): Effect.Effect<void, InvalidArgumentError> => {
    const bad = check("acquire", k)
    return bad !== undefined ? Effect.fail(bad) : Effect.asVoid(take(k, undefined))
  }
  const taken = (lease: Holding | undefined) => lease !== undefined
  return {
    acquire,
    tryAcquire: (k = 1) => {
      const bad = check("tryAcquire", k)
      return bad !== undefined ? Effect.fail(bad) : Effect.map(take(k, "try"), taken)
    },
    acquireFor: (timeout, k = 1) => {
      const bad = check("acquireFor", k)
      if (bad !== undefined) return Effect.fail(bad)
      return Effect.flatMap(millisOf(`${primitive}.acquireFor`, timeout), (ms) => Effect.map(take(k, ms === 0 ? "try" : ms), taken))
    },
    release,
    // As `guardedBy`, with the body interrupted (`LockLostError`) if the
    // permits' lease is given up; the release after that is quiet.
    withPermits: (k: number) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | InvalidArgumentError, R> => {
      const bad = check("withPermits", k)
      if (bad !== undefined) return Effect.fail(bad)
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(take(k, undefined)), (lease) =>
          Effect.onExitPrimitive(restore(guard(lease!, effect)), () => Effect.ignore(releaseAfterLoss(release(k))), true)))
    },
    available: Effect.map(
      db.q<{ n: string }>(
        `SELECT count(*)::int AS n FROM (${heldKeysSql}) h WHERE h.k BETWEEN $1::int8 AND $1::int8 + $2::int - 1`,
        [slotBase, permits]
      ),
      (rows) => permits - Number(rows[0]!.n)
    )
  }
}
