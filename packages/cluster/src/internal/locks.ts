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
import { Duration, Effect, Exit, type Fiber } from "effect"
import {
  InvalidArgumentError,
  Lock as FiberLock,
  NotHeldError,
  NotOwnerError,
  type RLock,
  type Semaphore,
  SemaphoreOverflowError
} from "@weft/primitives"
import { count, timeout as parseTimeout } from "@weft/primitives/validate"
import type { Db, PgFailure, Sql } from "./pg.ts"
import { heldKeysSql, key, KeyKind } from "./schema.ts"

/** Runs `effect` holding what `acquire` took, and releases it however `effect` ends. @internal */
export const guarded = <A, E, R>(
  acquire: Effect.Effect<unknown, any>,
  release: Effect.Effect<unknown, any>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(acquire), () => Effect.onExit(restore(effect), () => Effect.ignore(release)))
  ) as Effect.Effect<A, E, R>

const isLockTimeout = (e: PgFailure): boolean => e.code === "55P03"

/**
 * A cluster lock's extra: the fencing token of the current grant.
 *
 * @internal
 */
export interface Fenced {
  /**
   * The fencing token of this process's current hold: it increases on every
   * grant of the lock (it comes from one sequence). Fails with
   * `NotHeldError` when this process does not hold the lock.
   */
  readonly fencingToken: Effect.Effect<number, NotHeldError>
}

/** The server half of a lock name in this process: who holds it here, on which connection. */
class Grant {
  held: { readonly sql: Sql; readonly token: number } | undefined = undefined
  readonly local = Effect.runSync(FiberLock.make)
  readonly db: Db
  readonly key: string
  readonly primitive: string
  private readonly grantSql: string
  private readonly timedSql: string
  private readonly trySql: string

  constructor(db: Db, key: string, primitive: string) {
    this.db = db
    this.key = key
    this.primitive = primitive
    const fencing = `nextval('${db.schema}.fencing')::text AS token`
    // Materialized CTEs: the lock is taken before the token is drawn.
    this.grantSql = `WITH l AS MATERIALIZED (SELECT pg_advisory_lock($1::int8)) SELECT ${fencing} FROM l`
    this.timedSql = `WITH s AS MATERIALIZED (SELECT set_config('lock_timeout', $2, true)),
      l AS MATERIALIZED (SELECT pg_advisory_lock($1::int8) FROM s) SELECT ${fencing} FROM l`
    this.trySql = `SELECT CASE WHEN pg_try_advisory_lock($1::int8) THEN ${fencing.replace(" AS token", "")} END AS token`
  }

  /** After `local` is held: takes the server lock (`millis`: at most that long). */
  private server(millis: number | "try" | undefined): Effect.Effect<boolean> {
    const db = this.db
    return Effect.uninterruptibleMask((restore) => {
      const sql = db.take()
      const statement = millis === undefined
        ? db.exec(sql, this.grantSql, [this.key])
        : millis === "try"
        ? db.exec(sql, this.trySql, [this.key])
        : db.exec(sql, this.timedSql, [this.key, `${Math.max(1, Math.ceil(millis))}ms`])
      return Effect.flatMap(Effect.exit(restore(statement)), (exit) =>
        Effect.suspend(() => {
          if (Exit.isSuccess(exit) && exit.value[0]?.token != null) {
            this.held = { sql, token: Number(exit.value[0].token) }
            return Effect.succeed(true)
          }
          if (Exit.isSuccess(exit)) {
            db.give(sql)
            return Effect.succeed(false)
          }
          const failure = exit.cause.reasons.find((r) => r._tag === "Fail") as { error: PgFailure } | undefined
          if (failure !== undefined && isLockTimeout(failure.error)) {
            db.give(sql)
            return Effect.succeed(false)
          }
          // Interrupted (the statement was cancelled) or failed: let go of the
          // lock in case the server granted it anyway, and close the connection.
          return Effect.andThen(
            db.letGo(sql),
            failure !== undefined ? Effect.die(db.failure(failure.error)) : (Effect.failCause(exit.cause) as Effect.Effect<never>)
          )
        }))
    })
  }

  /** Takes the lock, both halves; `false` when `millis` ran out. */
  take(millis: number | "try" | undefined): Effect.Effect<boolean> {
    return Effect.uninterruptibleMask((restore) => {
      const start = Date.now()
      const local = millis === undefined
        ? Effect.as(this.local.acquire, true)
        : millis === "try"
        ? this.local.tryAcquire
        : Effect.orDie(this.local.acquireFor(millis))
      return Effect.flatMap(restore(local), (took) => {
        if (!took) return Effect.succeed(false)
        const left = typeof millis === "number" ? millis - (Date.now() - start) : millis
        const rest = typeof left === "number" && left <= 0 ? "try" : left
        return Effect.onExit(this.server(rest).pipe(restore), (exit) =>
          Exit.isSuccess(exit) && exit.value ? Effect.void : Effect.ignore(this.local.release))
      })
    })
  }

  /** Gives the lock back in the server, then here. */
  readonly give: Effect.Effect<void, NotHeldError> = Effect.uninterruptible(Effect.suspend(() => {
    const held = this.held
    if (held === undefined) return Effect.fail(new NotHeldError({ primitive: this.primitive, operation: "release" }))
    this.held = undefined
    return this.db.exec<{ ok: boolean }>(held.sql, "SELECT pg_advisory_unlock($1::int8) AS ok", [this.key]).pipe(
      Effect.matchEffect({
        // `false`: the connection dropped while the lock was held (postgres.js
        // reconnected for this statement): the lock was lost, say so.
        onSuccess: (rows) =>
          rows[0]?.ok === true
            ? Effect.sync(() => this.db.give(held.sql))
            : Effect.sync(() => this.db.discard(held.sql)).pipe(Effect.andThen(Effect.die(this.db.lost(this.primitive)))),
        onFailure: (e) => Effect.sync(() => this.db.discard(held.sql)).pipe(Effect.andThen(Effect.die(this.db.failure(e))))
      }),
      Effect.ensuring(Effect.ignore(this.local.release))
    )
  }))

  /** Whether any process holds the lock. */
  readonly locked: Effect.Effect<boolean> = Effect.map(
    Effect.suspend(() => this.db.q<{ locked: boolean }>(`SELECT EXISTS (SELECT 1 FROM (${heldKeysSql}) h WHERE h.k = $1::int8) AS locked`, [this.key])),
    (rows) => rows[0]!.locked
  )

  readonly fencingToken: Effect.Effect<number, NotHeldError> = Effect.suspend(() =>
    this.held !== undefined
      ? Effect.succeed(this.held.token)
      : Effect.fail(new NotHeldError({ primitive: this.primitive, operation: "fencingToken" }))
  )
}

/** A timeout as milliseconds (`undefined`: forever), or the error that names it. */
const millisOf = (operation: string, timeout: Duration.Input): Effect.Effect<number | undefined, InvalidArgumentError> =>
  Effect.map(parseTimeout(operation, timeout), (d) => (Duration.isFinite(d) ? Duration.toMillis(d) : undefined))

/** @internal */
export type ClusterLock = import("@weft/primitives").Lock.Lock & Fenced

/** @internal */
export const makeLock = (db: Db, id: number): ClusterLock => {
  const grant = new Grant(db, key(KeyKind.lock, id), "ClusterLock")
  const acquire = Effect.asVoid(grant.take(undefined))
  return {
    acquire,
    tryAcquire: grant.take("try"),
    acquireFor: (timeout) =>
      Effect.flatMap(millisOf("ClusterLock.acquireFor", timeout), (ms) =>
        ms === undefined ? Effect.as(acquire, true) : grant.take(ms === 0 ? "try" : ms)),
    release: grant.give,
    withLock: (effect) => guarded(acquire, grant.give, effect),
    locked: grant.locked,
    fencingToken: grant.fencingToken
  }
}

/** @internal */
export type ClusterRLock = RLock.RLock & Fenced

/** @internal */
export const makeRLock = (db: Db, id: number): ClusterRLock => {
  const grant = new Grant(db, key(KeyKind.rlock, id), "ClusterRLock")
  let owner: number | undefined = undefined
  let depth = 0
  const nest = (fiber: Fiber.Fiber<unknown, unknown>) => {
    if (owner !== fiber.id) return false
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
    if (owner !== fiber.id) {
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
    withLock: (effect) => guarded(acquire, release, effect),
    locked: grant.locked,
    isOwned: Effect.withFiber((fiber) => Effect.succeed(owner === fiber.id)),
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
export const makeSemaphore = (db: Db, id: number, permits: number): Semaphore.Semaphore => {
  const gate = key(KeyKind.semaphoreGate, id)
  const slotKeys = Array.from({ length: permits }, (_, s) => key(KeyKind.semaphoreSlot, id, s))
  const local = Effect.runSync(FiberLock.make)
  /** Slots this process holds, each on its connection (newest last). */
  const held: Array<{ readonly sql: Sql; readonly slot: number }> = []
  const name = "ClusterSemaphore"
  const check = (operation: string, k: unknown): InvalidArgumentError | undefined => {
    const bad = count(`${name}.${operation}`, "k", k, 1)
    if (bad !== undefined) return bad
    return (k as number) > permits
      ? new InvalidArgumentError({ operation: `${name}.${operation}`, argument: "k", value: k, expected: `at most the semaphore's ${permits} permits` })
      : undefined
  }
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
   * On `sql`: queue at the gate, then gather `k` slots. Returns the slots
   * taken (`k` of them), or fewer when `tryOnly` and they are not free now.
   */
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

  const take = (k: number, millis: number | "try" | undefined): Effect.Effect<boolean> =>
    Effect.uninterruptibleMask((restore) => {
      const localTake = millis === "try" ? local.tryAcquire : Effect.as(local.acquire, true)
      return Effect.flatMap(restore(localTake), (entered) => {
        if (!entered) return Effect.succeed(false)
        const sql = db.take()
        let wait = gather(sql, k, millis === "try")
        if (typeof millis === "number") wait = Effect.map(Effect.timeoutOption(wait, millis), (o) => (o._tag === "Some" ? o.value : []))
        return Effect.exit(restore(wait)).pipe(
          Effect.flatMap((exit) =>
            Effect.suspend(() => {
              if (Exit.isSuccess(exit) && exit.value.length === k) {
                for (const slot of exit.value) held.push({ sql, slot })
                return Effect.succeed(true)
              }
              // Not taken. A try left nothing held; a wait that timed out or was
              // interrupted lets go of the gate and of any slot it gathered,
              // whatever stage it was in.
              if (Exit.isSuccess(exit) && millis === "try") {
                db.give(sql)
                return Effect.succeed(false)
              }
              return Effect.andThen(db.letGo(sql), Exit.isSuccess(exit) ? Effect.succeed(false) : Effect.failCause(exit.cause))
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
      for (const { slot, sql } of giving) bySql.set(sql, [...(bySql.get(sql) ?? []), slot])
      return Effect.forEach([...bySql], ([sql, slots]) =>
        db.exec<{ ok: boolean }>(
          sql,
          `SELECT bool_and(pg_advisory_unlock(($1::int8) + s)) AS ok FROM unnest($2::int[]) s`,
          [slotBase, pgArray(slots)]
        ).pipe(
          Effect.matchEffect({
            onSuccess: (rows) =>
              rows[0]?.ok === true
                ? Effect.sync(() => held.some((h) => h.sql === sql) || db.give(sql))
                : Effect.sync(() => db.discard(sql)).pipe(Effect.andThen(Effect.die(db.lost(name)))),
            onFailure: (e) => Effect.sync(() => db.discard(sql)).pipe(Effect.andThen(Effect.die(db.failure(e))))
          })
        ), { discard: true })
    }))

  const acquire = (k = 1): Effect.Effect<void, InvalidArgumentError> => {
    const bad = check("acquire", k)
    return bad !== undefined ? Effect.fail(bad) : Effect.asVoid(take(k, undefined))
  }
  return {
    acquire,
    tryAcquire: (k = 1) => {
      const bad = check("tryAcquire", k)
      return bad !== undefined ? Effect.fail(bad) : take(k, "try")
    },
    acquireFor: (timeout, k = 1) => {
      const bad = check("acquireFor", k)
      if (bad !== undefined) return Effect.fail(bad)
      return Effect.flatMap(millisOf(`${name}.acquireFor`, timeout), (ms) => take(k, ms === 0 ? "try" : ms))
    },
    release,
    withPermits: (k: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      guarded(acquire(k), release(k), effect) as Effect.Effect<A, E | InvalidArgumentError, R>,
    available: Effect.map(
      db.q<{ n: string }>(
        `SELECT count(*)::int AS n FROM (${heldKeysSql}) h WHERE h.k BETWEEN $1::int8 AND $1::int8 + $2::int - 1`,
        [slotBase, permits]
      ),
      (rows) => permits - Number(rows[0]!.n)
    )
  }
}
