/**
 * A durable FIFO queue: one row per item in `items`, in `seq` order.
 *
 * - `get` marks the oldest free item as taken by this handle's session
 *   (`FOR UPDATE SKIP LOCKED`, so getters never block each other); `taskDone`
 *   deletes it. An item whose taker's session is gone (its process died or
 *   lost its connection: its liveness lock is no longer held) is free again,
 *   in its original place.
 * - A getter with nothing to get sleeps on the queue's channel (a put
 *   notifies) and on the liveness lock of every session that holds an item
 *   of this queue (one blocking statement each, returning when that session
 *   ends), then tries again. It never polls.
 * - A bounded queue counts its free items in `names.size`, updated in the
 *   same statement as the put or get, so `maxsize` holds under concurrency.
 *
 * @internal
 */
import { Cause, Duration, Effect, Fiber, Option, Queue as EffectQueue } from "effect"
import {
  InvalidArgumentError,
  Lock as FiberLock,
  type Queue,
  QueueEmptyError,
  QueueFullError,
  QueueShutDownError,
  TaskDoneError
} from "@weft/primitives"
import { stringify } from "@weft/primitives/json"
import { timeout as parseTimeout } from "@weft/primitives/validate"
import type { Listener } from "./listener.ts"
import type { Holding } from "./lease.ts"
import type { Db, Sql } from "./pg.ts"
import { heldKeysSql, type Entry, sessionKey, sessionKeySql } from "./schema.ts"

/** @internal */
export interface Session {
  /** Drawn once the session connection has its liveness lock. */
  id: number
  /** Set when the session's connection dropped: its liveness lock is gone, so its items are up for grabs. */
  lost: boolean
  /** The connection that holds the session's liveness lock. */
  readonly sql: Sql
  /** Items taken and not marked done, over every queue of the handle. */
  items: number
  /** The session connection's lease, kept while `items > 0` (and once given up, for good). */
  lease: Holding | undefined
}

/**
 * Counts an item taken: the first one starts the session connection's lease,
 * renewed at once (the get itself ran on another connection).
 */
const tookItem = (db: Db, session: Session): void => {
  if (session.items++ > 0 || session.lease !== undefined) return
  const lease = db.leases.hold(session.sql, `ClusterQueue items of session ${session.id}`, performance.now() - db.leases.bounds.renewEvery)
  lease.onLost = () => void (session.lost = true)
  session.lease = lease
}

/** Counts an item marked done: the last one ends the lease. */
const didItem = (db: Db, session: Session): void => {
  if (--session.items > 0 || session.lease === undefined || session.lease.lost !== undefined) return
  db.leases.drop(session.lease)
  session.lease = undefined
}

type Attempt<A> = { readonly _tag: "got"; readonly value: A } | { readonly _tag: "none"; readonly shut: boolean }

/** @internal */
export const makeQueue = (db: Db, listener: Listener, entry: Entry, maxsize: number, session: Session): Queue.Queue<unknown> => {
  const s = db.schema
  const id = entry.id
  const bounded = maxsize > 0
  /** Items this process got and has not marked done, oldest first. */
  const taken: Array<string> = []
  const getGate = Effect.runSync(FiberLock.make)
  const putGate = Effect.runSync(FiberLock.make)

  const putSql = bounded
    ? `WITH u AS (UPDATE ${s}.names SET size = size + 1 WHERE id = $1 AND NOT shut AND size < $4 RETURNING 1),
         i AS (INSERT INTO ${s}.items (queue_id, item) SELECT $1, $2 FROM u RETURNING seq)
       SELECT (SELECT count(*) FROM i)::int AS n, n.shut, CASE WHEN EXISTS (SELECT 1 FROM i) THEN pg_notify($3, 'p') END
       FROM ${s}.names n WHERE n.id = $1`
    : `WITH i AS (INSERT INTO ${s}.items (queue_id, item) SELECT $1, $2 FROM ${s}.names WHERE id = $1 AND NOT shut RETURNING seq)
       SELECT (SELECT count(*) FROM i)::int AS n, n.shut, CASE WHEN EXISTS (SELECT 1 FROM i) THEN pg_notify($3, 'p') END
       FROM ${s}.names n WHERE n.id = $1`
  const getSql = `WITH live AS (${heldKeysSql}),
      c AS (SELECT seq, taker FROM ${s}.items i WHERE queue_id = $1
              AND (taker IS NULL OR ${sessionKeySql("i.taker")} NOT IN (SELECT k FROM live))
            ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED),
      t AS (UPDATE ${s}.items SET taker = $2 FROM c WHERE items.queue_id = $1 AND items.seq = c.seq
            RETURNING items.seq, items.item, c.taker AS was)${
    bounded
      ? `,
      d AS (UPDATE ${s}.names SET size = size - 1 WHERE id = $1 AND EXISTS (SELECT 1 FROM t WHERE was IS NULL) RETURNING 1)`
      : ""
  }
    SELECT t.seq::text AS seq, t.item, n.shut${bounded ? `, CASE WHEN t.seq IS NOT NULL THEN pg_notify($3, 'g') END` : ""}
    FROM ${s}.names n LEFT JOIN t ON true WHERE n.id = $1`

  const jsonOf = (operation: string, item: unknown): Effect.Effect<string> => {
    const json = stringify(`ClusterQueue.${operation}`, item)
    return typeof json === "string" ? Effect.succeed(json) : Effect.die(json)
  }

  /** One put, never waiting: `true` if put, `false` if full. */
  const tryPut = (operation: string, json: string): Effect.Effect<boolean, QueueShutDownError> =>
    Effect.flatMap(
      db.q<{ n: number; shut: boolean }>(putSql, bounded ? [id, json, entry.channel, maxsize] : [id, json, entry.channel]),
      (rows) => {
        const row = rows[0]!
        if (row.n === 1) return Effect.succeed(true)
        if (row.shut) return Effect.fail(new QueueShutDownError({ operation }))
        return Effect.succeed(false)
      }
    )

  /** One get, never waiting. Uninterruptible: an item it takes is booked before anything else runs. */
  const tryGet: Effect.Effect<Attempt<unknown>> = Effect.uninterruptible(Effect.suspend(() =>
    // Items taken under a session that others already see as gone would be
    // handed out twice: refuse instead.
    session.lost ? Effect.die(session.lease?.lost ?? db.lost("ClusterQueue.get (the handle's session)")) : Effect.map(
      db.q<{ seq: string | null; item: string | null; shut: boolean }>(getSql, bounded ? [id, session.id, entry.channel] : [id, session.id]),
      (rows): Attempt<unknown> => {
        const row = rows[0]!
        if (row.seq === null) return { _tag: "none", shut: row.shut }
        taken.push(row.seq)
        tookItem(db, session)
        return { _tag: "got", value: JSON.parse(row.item!) }
      }
    )
  ))

  /**
   * Sleeps until something may have changed for a getter: a notification on
   * the channel, or the end of a session that holds one of this queue's
   * items. `watched` keeps the liveness waits across rounds.
   */
  const getWait = Effect.gen(function*() {
    const inbox = yield* listener.inbox(entry.channel)
    const wake = yield* EffectQueue.unbounded<string>()
    const watched = new Map<number, Fiber.Fiber<unknown>>()
    // A lost connection ends the wait with its defect instead of a hang.
    const failWake = (cause: Cause.Cause<unknown>) => EffectQueue.failCause(wake, cause as Cause.Cause<never>)
    yield* Effect.forkScoped(
      Effect.forever(Effect.flatMap(inbox.next, (m) => EffectQueue.offer(wake, m))).pipe(Effect.catchCause(failWake))
    )
    yield* Effect.addFinalizer(() => Fiber.interruptAll(watched.values()))
    return {
      attempt: tryGet,
      sleep: Effect.gen(function*() {
        const takers = yield* db.q<{ taker: string }>(
          `SELECT DISTINCT taker::text AS taker FROM ${s}.items WHERE queue_id = $1 AND taker IS NOT NULL AND taker <> $2`,
          [id, session.id]
        )
        for (const { taker } of takers) {
          const other = Number(taker)
          if (watched.has(other)) continue
          const k = sessionKey(other)
          watched.set(
            other,
            yield* Effect.forkDetach(
              Effect.flatMap(
                db.waitOn("SELECT pg_advisory_lock_shared($1::int8), pg_advisory_unlock_shared($1::int8)", [k]),
                () => EffectQueue.offer(wake, "gone")
              ).pipe(Effect.catchCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.void : failWake(cause)))
            )
          )
        }
        yield* EffectQueue.take(wake)
        yield* EffectQueue.clear(wake)
      })
    }
  })

  const get = (operation: string, limit: Duration.Duration | undefined | "now"): Effect.Effect<unknown, QueueShutDownError | QueueEmptyError> =>
    Effect.flatMap(tryGet, (first) => {
      if (first._tag === "got") return Effect.succeed(first.value)
      if (first.shut) return Effect.fail(new QueueShutDownError({ operation }))
      if (limit === "now") return Effect.fail(new QueueEmptyError())
      const waiting = getGate.withLock(Effect.scoped(Effect.gen(function*() {
        const { attempt, sleep } = yield* getWait
        while (true) {
          const next = yield* attempt
          if (next._tag === "got") return next.value
          if (next.shut) return yield* new QueueShutDownError({ operation })
          yield* sleep
        }
      })))
      if (limit === undefined) return waiting
      return Effect.flatMap(Effect.timeoutOption(waiting, limit), (o) =>
        Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new QueueEmptyError()))
    })

  const put = (operation: string, item: unknown, limit: Duration.Duration | undefined | "now"): Effect.Effect<void, QueueShutDownError | QueueFullError> =>
    Effect.flatMap(jsonOf(operation, item), (json) =>
      Effect.flatMap(tryPut(operation, json), (done) => {
        if (done) return Effect.void
        if (limit === "now") return Effect.fail(new QueueFullError({ maxsize }))
        const waiting = putGate.withLock(Effect.scoped(Effect.gen(function*() {
          const inbox = yield* listener.inbox(entry.channel)
          while (!(yield* tryPut(operation, json))) {
            let m = yield* inbox.next
            while (m !== "g" && m !== "s") m = yield* inbox.next
          }
        })))
        if (limit === undefined) return waiting
        return Effect.flatMap(Effect.timeoutOption(waiting, limit), (o) =>
          Option.isSome(o) ? Effect.void : Effect.fail(new QueueFullError({ maxsize })))
      }))

  const timed = <A, E>(operation: string, timeout: Duration.Input, f: (d: Duration.Duration | undefined | "now") => Effect.Effect<A, E>) =>
    Effect.flatMap(parseTimeout(`ClusterQueue.${operation}`, timeout), (d) =>
      f(Duration.isFinite(d) ? (Duration.toMillis(d) === 0 ? "now" : d) : undefined))

  /** Items of sessions that are gone: free again, though not yet taken back by a get. */
  const orphans = `(SELECT count(*)::int FROM ${s}.items i WHERE i.queue_id = $1 AND i.taker IS NOT NULL
      AND ${sessionKeySql("i.taker")} NOT IN (SELECT k FROM (${heldKeysSql}) live))`
  const size = Effect.map(
    db.q<{ n: number }>(
      bounded
        ? `SELECT size + ${orphans} AS n FROM ${s}.names WHERE id = $1`
        : `SELECT (SELECT count(*)::int FROM ${s}.items WHERE queue_id = $1 AND taker IS NULL) + ${orphans} AS n`,
      [id]
    ),
    (r) => r[0]!.n
  )

  return {
    maxsize,
    put: (item) => put("put", item, undefined) as Effect.Effect<void, QueueShutDownError>,
    putNowait: (item) => put("putNowait", item, "now"),
    putFor: (item, timeout) => timed("putFor", timeout, (d) => put("putFor", item, d)),
    get: get("get", undefined) as Effect.Effect<unknown, QueueShutDownError>,
    getNowait: get("getNowait", "now"),
    getFor: (timeout) => timed("getFor", timeout, (d) => get("getFor", d)),
    size,
    isEmpty: Effect.map(size, (n) => n === 0),
    isFull: bounded ? Effect.map(size, (n) => n >= maxsize) : Effect.succeed(false),
    taskDone: Effect.uninterruptible(Effect.suspend(() => {
      if (session.lease?.lost !== undefined) return Effect.die(session.lease.lost)
      const seq = taken.shift()
      if (seq === undefined) return Effect.fail(new TaskDoneError())
      didItem(db, session)
      // No row: this handle's session connection dropped, so the item went
      // back to the queue (and maybe to another consumer): say so.
      return Effect.flatMap(
        db.q(
          `WITH d AS (DELETE FROM ${s}.items WHERE queue_id = $1 AND seq = $2::int8 AND taker = $3 RETURNING 1)
           SELECT pg_notify($4, 'd') FROM d`,
          [id, seq, session.id, entry.channel]
        ),
        (rows) => (rows.length === 1 ? Effect.void : Effect.die(db.lost("ClusterQueue.taskDone")))
      )
    })),
    join: Effect.scoped(Effect.gen(function*() {
      const inbox = yield* listener.inbox(entry.channel)
      const unfinished = Effect.map(
        db.q<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.items WHERE queue_id = $1`, [id]),
        (r) => r[0]!.n
      )
      while ((yield* unfinished) > 0) {
        let m = yield* inbox.next
        while (m !== "d" && m !== "s") m = yield* inbox.next
        yield* inbox.drain
      }
    })),
    shutdown: (options) =>
      Effect.asVoid(db.q(
        options?.immediate === true
          ? `WITH u AS (UPDATE ${s}.names SET shut = true, size = 0 WHERE id = $1),
               d AS (DELETE FROM ${s}.items WHERE queue_id = $1 AND taker IS NULL)
             SELECT pg_notify($2, 's')`
          : `WITH u AS (UPDATE ${s}.names SET shut = true WHERE id = $1) SELECT pg_notify($2, 's')`,
        [id, entry.channel]
      ))
  }
}

/** @internal */
export const checkMaxsize = (maxsize: unknown): InvalidArgumentError | undefined =>
  typeof maxsize === "number" && Number.isInteger(maxsize) && maxsize >= 0 && maxsize <= 2 ** 31 - 1
    ? undefined
    : new InvalidArgumentError({ operation: "Cluster.queue", argument: "maxsize", value: maxsize, expected: "an integer >= 0 (0: unbounded)" })
