import { Effect, Scope } from "effect"
import postgres from "postgres"
import { Cluster } from "../../../packages/cluster/src/index.ts"
import { parseUrl } from "../../../packages/cluster/src/internal/pg.ts"
import { finish, ready, rmw, timeWait, weftRmw } from "../contender.ts"

const [kind, target, file, n] = process.argv.slice(2)
const ops = Number(n)
const grant = `WITH l AS MATERIALIZED (SELECT pg_advisory_lock($1::int8)) SELECT nextval('weft.fencing')::text AS token FROM l`
const rawLoop = async (lockSql: string, unlockSql: string, params: Array<any>) => {
  const sql = postgres({ ...parseUrl(target!).options, max: 1, onnotice: () => {}, fetch_types: false })
  await sql`SELECT 1`
  await ready()
  for (let i = 0; i < ops; i++) {
    const held = timeWait()
    await sql.unsafe(lockSql, params, { prepare: true })
    held()
    rmw(file!)
    await sql.unsafe(unlockSql, params, { prepare: true })
  }
  await sql.end()
}
import { Db } from "../../../packages/cluster/src/internal/pg.ts"
import { makeLock } from "../../../packages/cluster/src/internal/locks.ts"
const bare = async () => {
  const db = new Db(target!, "weft", 10)
  await Effect.runPromise(db.prewarm(2))
  await weftRmw(makeLock(db, 777), file!, ops)
}
const fx = async (lockSql: string, withHandle = false) => {
  if (withHandle) await Effect.runPromise(Scope.provide(Cluster.connect({ url: target! }), Effect.runSync(Scope.make())))
  const db = new Db(target!, "weft", 10)
  const dsql = db.take(); await Effect.runPromise(db.exec(dsql, "SELECT 1"))
  await ready()
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < ops; i++) {
      const held = timeWait()
      yield* db.exec(dsql, lockSql)
      held()
      rmw(file!)
      yield* db.exec(dsql, "SELECT pg_advisory_unlock(4242::int8) AS ok")
    }
  }))
}
const weft = async () => {
  const scope = Effect.runSync(Scope.make())
  const lock = await Effect.runPromise(Scope.provide(Effect.flatMap(Cluster.connect({ url: target! }), (c) => c.lock("bench-rmw")), scope))
  await weftRmw(lock, file!, ops)
}
import * as nodefs from "node:fs"
const threads = () => { const m = new Map<string, number>(); for (const t of nodefs.readdirSync("/proc/self/task")) { try { const f = nodefs.readFileSync(`/proc/self/task/${t}/stat`, "utf8"); const after = f.slice(f.lastIndexOf(")") + 2).split(" "); m.set(t, Number(after[11]) + Number(after[12])) } catch {} } return m }
let cpu0: NodeJS.CpuUsage | undefined
let th0 = new Map<string, number>()
process.stdin.once('data', () => { cpu0 = process.cpuUsage(); th0 = threads() })
finish(
  kind === "raw" ? rawLoop("SELECT pg_advisory_lock(4242)", "SELECT pg_advisory_unlock(4242)", [])
  : kind === "rawparam" ? rawLoop("SELECT pg_advisory_lock($1::int8)", "SELECT pg_advisory_unlock($1::int8)", ["4242"])
  : kind === "rawfenced" ? rawLoop(grant, "SELECT pg_advisory_unlock($1::int8) AS ok", ["4242"])
  : kind === "fxfenced" ? fx(grant.replace("$1", "4242"))
  : kind === "fxplain" ? fx("SELECT pg_advisory_lock(4242::int8)")
  : kind === "fxhandle" ? fx("SELECT pg_advisory_lock(4242::int8)", true)
  : kind === "bare" ? bare()
  : weft(),
  () => { const c = process.cpuUsage(cpu0); const th = threads(); let main = 0, other = 0; for (const [t, v] of th) { const d = v - (th0.get(t) ?? 0); if (t === String(process.pid)) main += d; else other += d } ; return `${(c.user + c.system) / 1000} ${main * 10} ${other * 10}` }
)
