/**
 * Deadlocks between cluster locks, found and broken the way PostgreSQL
 * breaks its own.
 *
 * Why PostgreSQL does not see them itself: each hold of a cluster lock is on
 * its own connection, idle while held, and the waits on their own too. Its
 * deadlock detector follows waiting backends to the backends that hold what
 * they wait for; an idle holding backend waits for nothing, so the cycle
 * "fiber 1 holds A and waits for B, fiber 2 holds B and waits for A" is two
 * separate waits to PostgreSQL, and both would wait forever. (A statement
 * that PostgreSQL does fail with 40P01 still surfaces as `DeadlockError`:
 * pg.ts.)
 *
 * So the missing link is written down: a fiber that holds cluster locks and
 * has waited for another one for a second (PostgreSQL's own
 * `deadlock_timeout` default) writes its waiting backend and the keys it
 * holds into `<schema>.waits`, and then, one checker at a time in the whole
 * cluster (a transaction advisory lock), follows the edges "backend w waits
 * for key k; k is held by the fiber waiting at backend w'". A cycle back to
 * itself makes it the victim, as in PostgreSQL: it records the
 * `DeadlockError`, ends its waiting backend (`pg_terminate_backend` with a
 * timeout returns once the backend is gone, so the next checker no longer
 * sees the cycle), and its acquisition dies with the error; the others go on.
 *
 * A cycle closes with its last wait, and that waiter checks after every
 * other member wrote its row, so one check per wait is enough. A fiber that
 * holds nothing arms no check: nothing is added to the hot path.
 *
 * @internal
 */
import { DeadlockError } from "@weft/primitives/errors"
import * as Lockdep from "@weft/primitives/Lockdep"
import type { Db, Sql } from "./pg.ts"
import { key } from "./schema.ts"

/** How long a wait lasts before it is checked (PostgreSQL's default `deadlock_timeout`). */
const CHECK_AFTER = 1_000
/** The transaction advisory lock that lets one check run at a time. */
const CHECKER = key(0n, 0, 1)

/** The cluster lock keys each fiber of this process holds. */
const holdings = new Map<object, Set<string>>()

/** `fiber` was granted the lock `key`. @internal */
export const took = (fiber: object | undefined, key: string): void => {
  if (fiber === undefined) return
  let held = holdings.get(fiber)
  if (held === undefined) holdings.set(fiber, held = new Set())
  held.add(key)
}

/** The lock `key` that `fiber` was granted is given back. @internal */
export const gave = (fiber: object | undefined, key: string): void => {
  if (fiber === undefined) return
  const held = holdings.get(fiber)
  if (held === undefined) return
  held.delete(key)
  if (held.size === 0) holdings.delete(fiber)
}

interface Edge {
  readonly waiter: number
  readonly next: number
  readonly k: string
  readonly wapp: string | null
  readonly oapp: string | null
}

const whoOf = (app: string | null, backend: number): string => {
  const [, machine, pid] = /^weft-cluster (\S+) (\d+)$/.exec(app ?? "") ?? []
  return pid === undefined ? `backend ${backend}` : `${machine} pid ${pid}`
}

/** The cycle from `start` back to it through `edges`, if any (depth first). */
const cycleFrom = (edges: ReadonlyArray<Edge>, start: number): Array<Edge> | undefined => {
  const out = new Map<number, Array<Edge>>()
  for (const e of edges) out.set(e.waiter, [...(out.get(e.waiter) ?? []), e])
  const seen = new Set<number>()
  const path: Array<Edge> = []
  const walk = (node: number): boolean => {
    for (const edge of out.get(node) ?? []) {
      path.push(edge)
      if (edge.next === start) return true
      if (!seen.has(edge.next)) {
        seen.add(edge.next)
        if (walk(edge.next)) return true
      }
      path.pop()
    }
    return false
  }
  return walk(start) ? path : undefined
}

/**
 * Watches the wait for `waitingFor` on `sql` by a fiber holding `held`: after
 * a second, checks for a cycle; if this wait closes one, calls `onVictim`
 * with the error, then ends the waiting backend (its statement fails, and
 * the caller dies with the error). Returns the function that stops watching
 * (the wait ended), which also removes this wait's row.
 *
 * @internal
 */
export const watch = (
  db: Db,
  sql: Sql,
  held: ReadonlySet<string>,
  onVictim: (error: DeadlockError) => void
): () => void => {
  let written: number | undefined
  let over = false
  const check = async (): Promise<void> => {
    const backend = db.backendOf(sql)
    if (backend === undefined || over) return
    const s = db.schema
    await db.quick.begin(async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${CHECKER}::int8)`)
      if (over) return
      await tx.unsafe(
        `INSERT INTO ${s}.waits (backend, holds) VALUES ($1, $2::int8[])
          ON CONFLICT (backend) DO UPDATE SET holds = EXCLUDED.holds`,
        [backend, `{${[...held].join(",")}}`]
      )
      written = backend
      const edges = await tx.unsafe<Array<Edge>>(
        `SELECT w.pid AS waiter, o.backend AS next, ((w.classid::int8 << 32) | w.objid::int8)::text AS k,
            aw.application_name AS wapp, ao.application_name AS oapp
          FROM pg_locks w
          JOIN ${s}.waits o ON ((w.classid::int8 << 32) | w.objid::int8) = ANY(o.holds)
          LEFT JOIN pg_stat_activity aw ON aw.pid = w.pid
          LEFT JOIN pg_stat_activity ao ON ao.pid = o.backend
          WHERE w.locktype = 'advisory' AND NOT w.granted AND w.objsubid = 1
            AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND EXISTS (SELECT 1 FROM pg_locks x WHERE x.pid = o.backend AND x.locktype = 'advisory' AND NOT x.granted)`
      )
      const cycle = cycleFrom(edges, backend)
      if (cycle === undefined) return
      const ids = cycle.map((e) => Number((BigInt(e.k) >> 16n) & 0xffffffn))
      const names = new Map(
        (await tx.unsafe<Array<{ id: number; name: string }>>(`SELECT id, name FROM ${s}.names WHERE id = ANY($1::int[])`, [
          `{${ids.join(",")}}`
        ])).map((r) => [r.id, r.name])
      )
      const error = new DeadlockError({
        cycle: cycle.map((e, i) => ({
          who: whoOf(e.wapp, e.waiter),
          waitsFor: names.get(ids[i]!) ?? `key ${e.k}`,
          heldBy: whoOf(e.oapp, e.next)
        })),
        detail: "found by the cluster's deadlock check: PostgreSQL cannot see it, each hold being on its own connection"
      })
      onVictim(Lockdep.reported(error, "cluster"))
      await tx.unsafe(`DELETE FROM ${s}.waits WHERE backend = $1`, [backend])
      written = undefined
      // Returns once the backend is gone: the next checker no longer sees this wait.
      await tx.unsafe(`SELECT pg_terminate_backend($1, 5000)`, [backend])
    })
  }
  let started: Promise<void> | undefined
  const timer = setTimeout(() => {
    started = check().catch(() => {})
  }, CHECK_AFTER)
  timer.unref?.()
  return () => {
    over = true
    clearTimeout(timer)
    // A check in flight may still write this wait's row: remove it once the check is done.
    void started?.then(() => {
      const backend = written
      written = undefined
      if (backend !== undefined) db.quick.unsafe(`DELETE FROM ${db.schema}.waits WHERE backend = $1`, [backend]).catch(() => {})
    })
  }
}

/** The fiber that ran each `withLock` body's (forked) fiber: the body holds what its caller holds. */
const parents = new WeakMap<object, object>()

/** `child` runs a `withLock` body for `parent` (lease.ts). @internal */
export const inherit = (child: object, parent: object | undefined): void => {
  if (parent !== undefined) parents.set(child, parent)
}

/** The keys `fiber` holds, its own and through the callers whose bodies it runs; `undefined` when none. @internal */
export const heldBy = (fiber: object | undefined): ReadonlySet<string> | undefined => {
  let all: Set<string> | undefined
  for (let f = fiber; f !== undefined; f = parents.get(f)) {
    const held = holdings.get(f)
    if (held !== undefined) for (const k of held) (all ??= new Set()).add(k)
  }
  return all
}
