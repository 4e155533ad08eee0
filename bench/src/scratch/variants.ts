import { Effect } from "effect"
import postgres from "postgres"
import * as fs from "node:fs"
import { Db, parseUrl } from "../../../packages/cluster/src/internal/pg.ts"
const url = fs.readFileSync("/tmp/exp/pg.url", "utf8").trim()
const [v, n] = process.argv.slice(2)
const N = Number(n ?? 2000)
const L = "SELECT pg_advisory_lock(4242)", U = "SELECT pg_advisory_unlock(4242)"
const sql = postgres({ ...parseUrl(url).options, max: 1, onnotice: () => {}, fetch_types: false })
await sql`SELECT 1`
const db = new Db(url, "weft", 10)
const dsql = db.take(); await Effect.runPromise(db.exec(dsql, "SELECT 1"))
const t = performance.now(); const c0 = process.cpuUsage()
if (v === "raw") for (let i = 0; i < N; i++) { await sql.unsafe(L, [], { prepare: true }); await sql.unsafe(U, [], { prepare: true }) }
if (v === "fxpromise") await Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < N; i++) { yield* Effect.promise(() => sql.unsafe(L, [], { prepare: true })); yield* Effect.promise(() => sql.unsafe(U, [], { prepare: true })) } }))
if (v === "dbexec") await Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < N; i++) { yield* db.exec(dsql, L); yield* db.exec(dsql, U) } }))
const G = "WITH l AS MATERIALIZED (SELECT pg_advisory_lock(4242::int8)) SELECT nextval('weft.fencing')::text AS token FROM l"
if (v === "dbfenced") await Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < N; i++) { yield* db.exec(dsql, G); yield* db.exec(dsql, U) } }))
if (v === "rawfenced") for (let i = 0; i < N; i++) { await sql.unsafe(G, [], { prepare: true }); await sql.unsafe(U, [], { prepare: true }) }
const c = process.cpuUsage(c0)
console.log(v, ((performance.now() - t) * 1000 / N).toFixed(1), "us wall/op", ((c.user + c.system) / N).toFixed(1), "us cpu/op")
process.exit(0)
