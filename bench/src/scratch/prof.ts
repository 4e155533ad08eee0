import { Effect, Scope } from "effect"
import * as fs from "node:fs"
import { Cluster } from "/work/main/packages/cluster/src/index.ts"
const url = fs.readFileSync("/tmp/exp/pg.url", "utf8").trim()
const N = Number(process.argv[2] ?? 5000)
const scope = Effect.runSync(Scope.make())
const lock = await Effect.runPromise(Scope.provide(Effect.flatMap(Cluster.connect({ url }), (c) => c.lock("prof")), scope))
const t = performance.now(); const c0 = process.cpuUsage()
await Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < N; i++) yield* lock.withLock(Effect.void) }))
const c = process.cpuUsage(c0)
console.log(((performance.now() - t) * 1000 / N).toFixed(1), "us wall/op", ((c.user + c.system) / N).toFixed(1), "us cpu/op")
process.exit(0)
