/**
 * Event and Barrier: state in the `names` row, wake-ups by
 * LISTEN/NOTIFY. A waiter registers for the primitive's channel first, then
 * looks at the state, then sleeps until a notification: nothing is missed,
 * and nothing polls.
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import { BrokenBarrierError, type Barrier, type Event, InvalidArgumentError } from "@weft/primitives"
import { timeout as parseTimeout } from "@weft/primitives/validate"
import type { Listener } from "./listener.ts"
import type { Db } from "./pg.ts"
import type { Entry } from "./schema.ts"

/** Runs `wait` for at most `timeout`; `None` when the time ran out. */
const within = <A, E>(
  operation: string,
  timeout: Duration.Input,
  wait: Effect.Effect<A, E>
): Effect.Effect<Option.Option<A>, E | InvalidArgumentError> =>
  Effect.flatMap(parseTimeout(operation, timeout), (d) =>
    Duration.isFinite(d) ? Effect.timeoutOption(wait, d) : Effect.map(wait, Option.some))

/** @internal */
export const makeEvent = (db: Db, listener: Listener, entry: Entry): Event.Event => {
  const s = db.schema
  const isSet = Effect.map(db.q<{ flag: boolean }>(`SELECT flag FROM ${s}.names WHERE id = $1`, [entry.id]), (r) => r[0]!.flag)
  const wait: Effect.Effect<void> = Effect.scoped(Effect.gen(function*() {
    const inbox = yield* listener.inbox(entry.channel)
    if (yield* isSet) return
    // A `set` wakes every waiter, even one that a `clear` right after it
    // would otherwise have sent back to sleep (as a fiber Event does).
    while ((yield* inbox.next) !== "set") {}
  }))
  return {
    set: Effect.asVoid(db.q(
      `WITH u AS (UPDATE ${s}.names SET flag = true WHERE id = $1) SELECT pg_notify($2, 'set')`,
      [entry.id, entry.channel]
    )),
    clear: Effect.asVoid(db.q(`UPDATE ${s}.names SET flag = false WHERE id = $1`, [entry.id])),
    isSet,
    wait,
    waitFor: (timeout) =>
      Effect.flatMap(parseTimeout("ClusterEvent.waitFor", timeout), (d) =>
        Duration.toMillis(d) === 0 ? isSet : Effect.map(within("ClusterEvent.waitFor", d, wait), Option.isSome))
  }
}

/**
 * A barrier: `arrived` and `generation` in the row, updated in one
 * statement per arrival; the party that completes a round notifies
 * `g<generation>`, a break notifies `b<generation>:<reason>`.
 *
 * @internal
 */
export const makeBarrier = (db: Db, listener: Listener, entry: Entry, parties: number): Barrier.Barrier => {
  const s = db.schema
  type Reason = BrokenBarrierError["reason"]
  const breakRound = (generation: number, reason: Reason) =>
    db.q<{ n: number }>(
      `WITH u AS (UPDATE ${s}.names SET broken = $3, arrived = 0 WHERE id = $1 AND generation = $2 AND broken IS NULL RETURNING 1)
       SELECT count(*)::int AS n, CASE WHEN count(*) > 0 THEN pg_notify($4, 'b' || $2 || ':' || $3) END FROM u`,
      [entry.id, generation, reason, entry.channel]
    )
  const waitWith = (limit: Duration.Duration | undefined): Effect.Effect<number, BrokenBarrierError> =>
    Effect.scoped(Effect.gen(function*() {
      const inbox = yield* listener.inbox(entry.channel)
      const rows = yield* db.q<{ arrived: number; generation: number; broken: string | null; ok: boolean }>(
        `WITH u AS (
           UPDATE ${s}.names SET
             arrived = CASE WHEN arrived + 1 >= $2 THEN 0 ELSE arrived + 1 END,
             generation = CASE WHEN arrived + 1 >= $2 THEN generation + 1 ELSE generation END
           WHERE id = $1 AND broken IS NULL
           RETURNING arrived, generation)
         SELECT u.arrived, u.generation, NULL AS broken, true AS ok,
           CASE WHEN u.arrived = 0 THEN pg_notify($3, 'g' || u.generation) END
         FROM u
         UNION ALL
         SELECT 0, 0, broken, false, NULL FROM ${s}.names WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM u)`,
        [entry.id, parties, entry.channel]
      )
      const row = rows[0]!
      if (!row.ok) return yield* new BrokenBarrierError({ reason: (row.broken ?? "aborted") as Reason })
      if (row.arrived === 0) return parties - 1
      const index = row.arrived - 1
      const round = row.generation
      const released = Effect.gen(function*() {
        while (true) {
          const message = yield* inbox.next
          if (message === `g${round + 1}`) return index
          if (message.startsWith(`b${round}:`)) {
            return yield* new BrokenBarrierError({ reason: message.slice(`b${round}:`.length) as Reason })
          }
        }
      })
      // Timed out or interrupted: the round breaks for every party, as at
      // fiber scope, unless it completed meanwhile.
      const leave = (reason: Reason) =>
        Effect.flatMap(breakRound(round, reason), (r) =>
          // Broken by us, or the round completed just before: then we were released.
          r[0]!.n > 0 ? Effect.fail(new BrokenBarrierError({ reason })) : Effect.succeed(index))
      const timed = limit === undefined ? Effect.map(released, Option.some) : Effect.timeoutOption(released, limit)
      const result = yield* Effect.onInterrupt(timed, () => Effect.ignore(breakRound(round, "interrupted")))
      if (Option.isSome(result)) return result.value
      return yield* leave("timeout")
    }))
  return {
    wait: waitWith(undefined),
    waitFor: (timeout) =>
      Effect.flatMap(parseTimeout("ClusterBarrier.waitFor", timeout), (d) => waitWith(Duration.isFinite(d) ? d : undefined)),
    abort: Effect.asVoid(db.q(
      `WITH u AS (UPDATE ${s}.names SET broken = 'aborted', arrived = 0 WHERE id = $1 RETURNING generation)
       SELECT pg_notify($2, 'b' || generation || ':aborted') FROM u`,
      [entry.id, entry.channel]
    )),
    reset: Effect.asVoid(db.q(
      `WITH old AS (SELECT generation, arrived FROM ${s}.names WHERE id = $1 FOR UPDATE),
       u AS (UPDATE ${s}.names SET broken = NULL, arrived = 0, generation = generation + 1 WHERE id = $1 RETURNING 1)
       SELECT pg_notify($2, 'b' || old.generation || ':reset') FROM old, u WHERE old.arrived > 0`,
      [entry.id, entry.channel]
    )),
    parties,
    waiting: Effect.map(db.q<{ arrived: number }>(`SELECT arrived FROM ${s}.names WHERE id = $1`, [entry.id]), (r) => r[0]!.arrived),
    broken: Effect.map(
      db.q<{ broken: boolean }>(`SELECT broken IS NOT NULL AS broken FROM ${s}.names WHERE id = $1`, [entry.id]),
      (r) => r[0]!.broken
    )
  }
}
