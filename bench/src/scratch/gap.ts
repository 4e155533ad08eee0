import { Effect, Scope } from "effect"
import * as fs from "node:fs"
import { Cluster } from "../../../packages/cluster/src/index.ts"
import { Db } from "../../../packages/cluster/src/internal/pg.ts"
const url = fs.readFileSync("/tmp/exp/pg.url", "utf8").trim()
const [v, n] = process.argv.slice(2)
const N = Number(n ?? 3000)
const ev: Array<[number, number]> = [] // [kind 0 send / 1 resolved, t]
const orig = Db.prototype.send
Db.prototype.send = function(this: Db, ...args: any[]) { ev.push([0, performance.now()]); const q = (orig as any).apply(this, args); q.then(() => ev.push([1, performance.now()]), () => {}); return q } as any
const G = "WITH l AS MATERIALIZED (SELECT pg_advisory_lock(4242::int8)) SELECT nextval('weft.fencing')::text AS token FROM l"
const U = "SELECT pg_advisory_unlock(4242::int8) AS ok"
let body: Effect.Effect<void>
if (v === "lock") {
  const scope = Effect.runSync(Scope.make())
  const lock = await Effect.runPromise(Scope.provide(Effect.flatMap(Cluster.connect({ url }), (c) => c.lock("prof")), scope))
  body = lock.withLock(Effect.void)
} else {
  const db = new Db(url, "weft", 10)
  const dsql = db.take(); await Effect.runPromise(db.exec(dsql, "SELECT 1"))
  body = Effect.andThen(db.exec(dsql, G), db.exec(dsql, U)) as any
}
await Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < 500; i++) yield* body }))
ev.length = 0
await Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < N; i++) yield* body }))
// client gaps: resolved -> next send; server: send -> resolved
const client: number[] = [], server: number[] = []
for (let i = 0; i + 1 < ev.length; i++) {
  if (ev[i]![0] === 0 && ev[i + 1]![0] === 1) server.push(ev[i + 1]![1] - ev[i]![1])
  if (ev[i]![0] === 1 && ev[i + 1]![0] === 0) client.push(ev[i + 1]![1] - ev[i]![1])
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0)
console.log(v, "client gap med", med(client).toFixed(1), "mean", (sum(client) / client.length * 1000).toFixed(1), "us; server rt med", (med(server) * 1000).toFixed(1), "mean", (sum(server) / server.length * 1000).toFixed(1))
process.exit(0)
