import { Effect, Scope } from "effect"
import * as fs from "node:fs"
import { Cluster } from "../../../packages/cluster/src/index.ts"
import { Db } from "../../../packages/cluster/src/internal/pg.ts"
const url = fs.readFileSync("/tmp/exp/pg.url", "utf8").trim()
const [v, n] = process.argv.slice(2)
const N = Number(n ?? 10000)
const mainCpu = () => { const f = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8"); const a = f.slice(f.lastIndexOf(")") + 2).split(" "); return (Number(a[11]) + Number(a[12])) * 10 }
let body: Effect.Effect<unknown>
if (v === "lock") {
  const scope = Effect.runSync(Scope.make())
  const lock = await Effect.runPromise(Scope.provide(Effect.flatMap(Cluster.connect({ url }), (c) => c.lock("prof")), scope))
  body = lock.withLock(Effect.void)
} else {
  const db = new Db(url, "weft", 10)
  const dsql = db.take(); await Effect.runPromise(db.exec(dsql, "SELECT 1"))
  body = Effect.andThen(db.exec(dsql, "SELECT pg_advisory_lock(4242::int8)"), db.exec(dsql, "SELECT pg_advisory_unlock(4242::int8) AS ok"))
}
const loop = (k: number) => Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < k; i++) yield* body }))
await loop(Number(process.env.WARM ?? 2000))
const c0 = mainCpu(); const p0 = process.cpuUsage(); const t0 = performance.now()
await loop(N)
const p = process.cpuUsage(p0)
console.log(v, "main cpu us/op", ((mainCpu() - c0) * 1000 / N).toFixed(1), "proc cpu us/op", ((p.user + p.system) / N).toFixed(1), "wall us/op", ((performance.now() - t0) * 1000 / N).toFixed(1))
process.exit(0)
