/**
 * Shared by the cluster tests: the server the suite runs against (or why
 * there is none), unique names, and a scoped connection.
 */
import { randomBytes } from "node:crypto"
import { Cause, Effect, Exit } from "effect"
import { inject } from "vitest"
import { Cluster } from "../src/index.ts"

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
