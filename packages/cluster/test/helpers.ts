/**
 * Shared by the cluster tests: the server the suite runs against (or why
 * there is none), unique names, and a scoped connection.
 */
import { randomBytes } from "node:crypto"
import { Cause, Effect, Exit } from "effect"
import { inject } from "vitest"
import postgres from "postgres"
import { Cluster } from "../src/index.ts"
import { parseUrl } from "../src/internal/pg.ts"
import { key, KeyKind } from "../src/internal/schema.ts"

export const pg = inject("pg")

if (pg.url === undefined) console.warn(`\n*** @weft/cluster tests SKIPPED: ${pg.reason} ***\n`)

/** The title of a describe block: says loudly when and why it is skipped. */
export const title = (name: string): string => (pg.url === undefined ? `${name} (skipped: ${pg.reason})` : name)

export const skip = pg.url === undefined

const run = randomBytes(4).toString("hex")
let next = 0
/** A name no other test (or earlier run against the same server) uses. */
export const unique = (what: string): string => `${what}-${run}-${next++}`

/** A connection to the suite's server for the test's scope. */
export const connect = (options: Partial<Cluster.Options> = {}) => Cluster.connect({ url: pg.url!, ...options })

export const defectTag = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const die = exit.cause.reasons.find(Cause.isDieReason)
  return (die?.defect as { _tag?: string } | undefined)?._tag
}

/** Waits until `check` holds, at most `ms` (for facts another process or the server makes true). */
export const eventually = (check: Effect.Effect<boolean>, ms = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not reached in time"))
      yield* Effect.sleep("20 millis")
    }
  })

/** How many backends wait (not granted) on the advisory key of lock `name`: for tests that order waiters. */
export const lockWaiters = (name: string): Effect.Effect<number> =>
  Effect.acquireUseRelease(
    Effect.sync(() => postgres({ ...parseUrl(pg.url!).options, max: 1, onnotice: () => {} })),
    (sql) =>
      Effect.promise(async () => {
        const rows = await sql.unsafe(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
             AND ((classid::int8 << 32) | objid::int8) = (SELECT ${key(KeyKind.lock, 0)}::int8 | (id::int8 << 16) FROM weft.names WHERE name = $1)`,
          [name]
        )
        return rows[0]!.n as number
      }),
    (sql) => Effect.promise(() => sql.end())
  )
