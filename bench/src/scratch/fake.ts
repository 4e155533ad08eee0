// Client-side cost of one lock cycle with a fake driver that answers at once (on a microtask).
import { Effect } from "effect"
import { Db } from "../../../packages/cluster/src/internal/pg.ts"
import { makeLock } from "../../../packages/cluster/src/internal/locks.ts"
const [v, n] = process.argv.slice(2)
const N = Number(n ?? 100000)
const fakeSql: any = { unsafe: (text: string) => { const p: any = Promise.resolve(text.includes("unlock") ? [{ ok: true }] : [{}]); p.state = { pid: 1 }; p.cancel = () => {}; return p } }
const db = new Db("postgres://x@localhost/x", "weft", 10)
;(db as any).take = () => fakeSql
;(db as any).give = () => {}
const lock = makeLock(db, 1)
const promiseCycle = Effect.promise(() => fakeSql.unsafe("lock")).pipe(Effect.andThen(Effect.sync(() => {})), Effect.andThen(Effect.promise(() => fakeSql.unsafe("unlock"))))
const body = v === "lock" ? lock.withLock(Effect.sync(() => {})) : promiseCycle
const run = (k: number) => Effect.runPromise(Effect.gen(function*() { for (let i = 0; i < k; i++) yield* body }))
let t = performance.now(); await run(500); const cold = (performance.now() - t) * 1000 / 500
t = performance.now(); await run(N); const warm = (performance.now() - t) * 1000 / N
console.log(v, "first 500: us/cycle", cold.toFixed(2), "then:", warm.toFixed(2))
process.exit(0)
