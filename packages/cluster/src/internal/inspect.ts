/**
 * What `Inspect` shows of a cluster primitive, from PostgreSQL itself: the
 * advisory locks in `pg_locks` (granted: the holders; not granted: the
 * waiters, each since its waiting statement began), joined with
 * `pg_stat_activity` for who each backend serves, and the package's `names`
 * table for the counts of the kinds that are rows (event, barrier, queue).
 *
 * Who: every Weft connection's `application_name` is `weft-cluster <host>
 * <pid>` (the client machine and process), so a holder reads
 * "db01 pid 4312" whichever process asks.
 *
 * @internal
 */
import { Effect } from "effect"
import { hostname } from "node:os"
import type { Party, State } from "@weft/primitives/Registry"
import type { Db } from "./pg.ts"
import { key, KeyKind } from "./schema.ts"

/** The `application_name` of every connection of this process: who it is, to anyone reading `pg_stat_activity`. @internal */
export const applicationName = `weft-cluster ${hostname().slice(0, 30)} ${process.pid}`.slice(0, 63)

/**
 * When each backend of this process last had a lock granted (by backend
 * pid): a holder in this process shows its exact since; one in another
 * process, the end of its backend's last statement.
 *
 * @internal
 */
export const grantTimes = new Map<number, number>()

interface Row {
  readonly k: string
  readonly granted: boolean
  readonly backend: number
  readonly app: string | null
  readonly addr: string | null
  readonly query: string | null
  readonly since: string | null
}

const partyOf = (row: Row): Party => {
  const [, machine, pid] = /^weft-cluster (\S+) (\d+)$/.exec(row.app ?? "") ?? []
  const since = (row.granted ? grantTimes.get(row.backend) : undefined) ?? (row.since === null ? Date.now() : Number(row.since))
  return pid === undefined
    ? { who: `backend ${row.backend}${row.addr === null ? "" : ` from ${row.addr}`}`, since, machine: row.addr ?? undefined }
    : { who: `${machine} pid ${pid}`, since, machine, pid: Number(pid) }
}

/**
 * Rows of `pg_locks` for advisory keys whose top 48 bits (kind and primitive
 * id) are one of `prefixes`, oldest first. A holder's since is when its
 * backend's last statement (the grant, unless a lease renewal came since)
 * ended; a waiter's, when its waiting statement began.
 */
const locksOf = (db: Db, prefixes: ReadonlyArray<string>) =>
  db.q<Row>(
    `SELECT ((l.classid::int8 << 32) | l.objid::int8)::text AS k, l.granted, l.pid AS backend,
        a.application_name AS app, host(a.client_addr) AS addr, a.query,
        (extract(epoch FROM CASE WHEN l.granted THEN a.state_change ELSE a.query_start END) * 1000)::int8::text AS since
      FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::int8 << 32) | l.objid::int8) >> 16 = ANY($1::int8[])
      ORDER BY since`,
    [`{${prefixes.join(",")}}`]
  )

const prefix = (kind: bigint, id: number): string => String(BigInt(key(kind, id)) >> 16n)

/**
 * The describe function of a cluster primitive (`Registry.register`).
 *
 * @internal
 */
export const describer = (db: Db, kind: string, id: number, size: number | undefined) => async (): Promise<State> => {
  const run = Effect.runPromise
  if (kind === "lock" || kind === "rlock") {
    const rows = await run(locksOf(db, [prefix(kind === "lock" ? KeyKind.lock : KeyKind.rlock, id)]))
    const waiters = rows.filter((r) => !r.granted).map(partyOf)
    return { holders: rows.filter((r) => r.granted).map(partyOf), waiters, counts: { queued: waiters.length } }
  }
  if (kind === "semaphore") {
    // A permit is a slot lock; the gate orders the waiters (locks.ts).
    const rows = await run(locksOf(db, [prefix(KeyKind.semaphoreSlot, id), prefix(KeyKind.semaphoreGate, id)]))
    const slot = prefix(KeyKind.semaphoreSlot, id)
    const isSlot = (r: Row) => String(BigInt(r.k) >> 16n) === slot
    const held = rows.filter((r) => r.granted && isSlot(r))
    const byHolder = new Map<string, Party>()
    for (const row of held) {
      const party = partyOf(row)
      const seen = byHolder.get(party.who)
      byHolder.set(party.who, { ...party, permits: (seen?.permits ?? 0) + 1, since: Math.min(seen?.since ?? party.since, party.since) })
    }
    const waiters = rows.filter((r) => !r.granted).map(partyOf)
    return {
      holders: [...byHolder.values()],
      waiters,
      counts: { permits: size ?? 0, free: (size ?? 0) - held.length, queued: waiters.length }
    }
  }
  const rows = await run(db.q<{ flag: boolean; arrived: number; size: number; items: string }>(
    `SELECT flag, arrived, size, (SELECT count(*) FROM ${db.schema}.items WHERE queue_id = $1)::text AS items
      FROM ${db.schema}.names WHERE id = $1`,
    [id]
  ))
  const row = rows[0]
  if (row === undefined) return { holders: [], waiters: [] }
  const counts: Record<string, number> = kind === "event"
    ? { set: row.flag ? 1 : 0 }
    : kind === "barrier"
    ? { arrived: row.arrived, parties: size ?? 0 }
    : kind === "queue"
    ? { size: Number(row.items), maxsize: size ?? 0 }
    : {}
  return { holders: [], waiters: [], counts }
}
