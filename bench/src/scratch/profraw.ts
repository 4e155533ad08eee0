import postgres from "postgres"
import * as fs from "node:fs"
import { parseUrl } from "/work/main/packages/cluster/src/internal/pg.ts"
const url = fs.readFileSync("/tmp/exp/pg.url", "utf8").trim()
const N = Number(process.argv[2] ?? 5000)
const sql = postgres({ ...parseUrl(url).options, max: 1, onnotice: () => {} })
await sql`SELECT 1`
const t = performance.now(); const c0 = process.cpuUsage()
for (let i = 0; i < N; i++) { await sql`SELECT pg_advisory_lock(4242)`; await sql`SELECT pg_advisory_unlock(4242)` }
const c = process.cpuUsage(c0)
console.log(((performance.now() - t) * 1000 / N).toFixed(1), "us wall/op", ((c.user + c.system) / N).toFixed(1), "us cpu/op")
process.exit(0)
