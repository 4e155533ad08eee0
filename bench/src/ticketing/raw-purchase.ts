/**
 * The raw anchor of `postgres.ts`: one process running the ticket store's
 * purchase statement (`PURCHASE`, the very text the store sends) in a loop
 * on a postgres.js pool, `INFLIGHT` at a time, each with a fresh
 * idempotency key. Prints `ready`, waits for `go` on stdin, runs for
 * `SECONDS`, prints `done <purchases>`.
 *
 *   node bench/src/ticketing/raw-purchase.ts <url> <inflight> <pool> <seconds> <tag>
 */
import { Connection } from "@weft/cluster"
import { Effect } from "effect"
import postgres from "postgres"
import { randomUUID } from "node:crypto"
import { createInterface } from "node:readline"
import { PURCHASE } from "../../../apps/ticketing/src/store/postgres.ts"

const [url, inflight, pool, seconds, tag] = process.argv.slice(2) as [string, string, string, string, string]
const sql = postgres({
  ...Effect.runSync(Connection.options(url)).options,
  max: Number(pool),
  fetch_types: false,
  idle_timeout: 0,
  max_lifetime: 0,
  onnotice: () => {}
})
const request = JSON.stringify({ buyer: "bench" })
// Warm the pool's connections (as a running server's are) before the clock starts.
await Promise.all(Array.from({ length: Number(pool) }, () => sql.unsafe("SELECT 1")))
console.log("ready")
const lines = createInterface({ input: process.stdin })
for await (const line of lines) if (line === "go") break
let bought = 0
let n = 0
const until = performance.now() + Number(seconds) * 1000
await Promise.all(Array.from({ length: Number(inflight) }, async () => {
  while (performance.now() < until) {
    const rows = await sql.unsafe(PURCHASE, [randomUUID(), "bench", new Date().toISOString(), `${tag}-${process.pid}-${n++}`, request], { prepare: true })
    if (rows.length === 1) bought++
  }
}))
console.log(`done ${bought}`)
await sql.end({ timeout: 1 })
process.exit(0)
