/**
 * The tables a cluster keeps in its PostgreSQL schema (default `weft`), the
 * registry of names, and the advisory-lock keys.
 *
 * - `names`: one row per primitive name: its kind, settings, and the little
 *   state that is not a lock (an event's flag, a barrier's round, a bounded
 *   queue's size, a queue's shutdown flag).
 * - `items`: queue items, durable; `taker` is the session of the process
 *   that got an item and has not called `taskDone` for it yet.
 * - `fencing`: the sequence fencing tokens come from.
 * - `sessions`: ids of cluster handles, whose liveness locks tell whether
 *   they are still connected.
 *
 * Advisory keys are 64-bit: `0x5746` ("WF") in the top 16 bits, then the
 * kind of key (8 bits), then the primitive's id (24 bits) and a slot (16
 * bits); a session's liveness key has its id in the low 40 bits.
 *
 * @internal
 */
import { Effect } from "effect"
import { ClusterNameClashError } from "../errors.ts"
import type { Db } from "./pg.ts"

/** @internal */
export const KeyKind = {
  lock: 1n,
  rlock: 2n,
  semaphoreGate: 3n,
  semaphoreSlot: 4n,
  session: 9n
} as const

const TAG = 0x5746n << 48n

/** @internal */
export const key = (kind: bigint, id: number, slot = 0): string =>
  String(TAG | (kind << 40n) | (BigInt(id) << 16n) | BigInt(slot))

/** @internal */
export const sessionKey = (session: number): string => String(TAG | (KeyKind.session << 40n) | BigInt(session))

/** SQL for the liveness key of the session in column `column`. @internal */
export const sessionKeySql = (column: string): string => `((${TAG}::int8) | (${KeyKind.session}::int8 << 40) | ${column})`

/** SQL: the advisory keys (bigint form) held right now, exclusively, in this database. @internal */
export const heldKeysSql = `SELECT (classid::int8 << 32) | objid::int8 AS k FROM pg_locks
  WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND mode = 'ExclusiveLock'
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

/** A schema name safe to put in SQL unquoted. @internal */
export const isSchemaName = (schema: string): boolean => /^[a-z_][a-z0-9_]{0,40}$/.test(schema)

/** Creates the tables if they are missing (one process at a time). @internal */
export const install = (db: Db): Effect.Effect<void> => {
  const s = db.schema
  return Effect.tryPromise({
    try: () =>
      db.quick.begin(async (tx) => {
        db.queries += 2
        await tx.unsafe(`SELECT pg_advisory_xact_lock(${key(0n, 0)}::int8)`)
        await tx.unsafe(`
          CREATE SCHEMA IF NOT EXISTS ${s};
          CREATE TABLE IF NOT EXISTS ${s}.names (
            id serial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            kind text NOT NULL,
            config text NOT NULL,
            flag boolean NOT NULL DEFAULT false,
            arrived int NOT NULL DEFAULT 0,
            generation int NOT NULL DEFAULT 0,
            broken text,
            size int NOT NULL DEFAULT 0,
            shut boolean NOT NULL DEFAULT false
          );
          CREATE TABLE IF NOT EXISTS ${s}.items (
            queue_id int NOT NULL,
            seq bigserial,
            item text NOT NULL,
            taker int8,
            PRIMARY KEY (queue_id, seq)
          );
          CREATE TABLE IF NOT EXISTS ${s}.waits (
            backend int PRIMARY KEY,
            holds int8[] NOT NULL
          );
          CREATE SEQUENCE IF NOT EXISTS ${s}.fencing;
          CREATE SEQUENCE IF NOT EXISTS ${s}.sessions;
        `)
      }),
    catch: (e) => e
  }).pipe(Effect.catch((e) => Effect.die(db.failure(e))), Effect.asVoid)
}

/** A registered name. @internal */
export interface Entry {
  readonly id: number
  readonly channel: string
}

/**
 * The id of `name` as a `kind` with `config`, registering it on first use.
 * Fails with `ClusterNameClashError` when the name is another kind, or the
 * same kind with other settings.
 *
 * @internal
 */
export const register = (
  db: Db,
  name: string,
  kind: string,
  config: Record<string, number>
): Effect.Effect<Entry, ClusterNameClashError> =>
  Effect.gen(function*() {
    const wanted = JSON.stringify(config)
    yield* db.q(`INSERT INTO ${db.schema}.names (name, kind, config) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, [
      name,
      kind,
      wanted
    ])
    const rows = yield* db.q<{ id: number; kind: string; config: string }>(
      `SELECT id, kind, config FROM ${db.schema}.names WHERE name = $1`,
      [name]
    )
    const row = rows[0]!
    if (row.kind !== kind) return yield* new ClusterNameClashError({ name, existing: row.kind, requested: kind })
    if (row.config !== wanted) {
      const describe = (c: string) =>
        Object.entries(JSON.parse(c) as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(", ")
      return yield* new ClusterNameClashError({
        name,
        existing: `${kind} with ${describe(row.config)}`,
        requested: `${kind} with ${describe(wanted)}`
      })
    }
    // Ids go into 24 bits of the advisory keys.
    if (row.id >= 2 ** 24) return yield* Effect.die(new Error(`${db.schema}.names is full: id ${row.id} does not fit the 24-bit advisory key space`))
    return { id: row.id, channel: `${db.schema}_${row.id}` }
  })
