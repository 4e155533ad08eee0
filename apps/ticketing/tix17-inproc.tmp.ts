import { Effect } from "effect"
import * as PgStore from "./src/store/postgres.ts"
const url = process.argv[2]!
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const store = yield* PgStore.make(url)
  for (const conc of [1, 16, 64]) {
    const t = performance.now()
    let n = 0
    yield* Effect.all(Array.from({ length: conc }, () => Effect.gen(function*() { while (performance.now() - t < 3000) { yield* store.buy({ buyer: "b", key: `ip${Math.random()}` }); n++ } })), { concurrency: "unbounded" })
    console.log("in-process conc", conc, "per s", n / 3)
  }
})))
