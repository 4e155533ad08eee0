// A process pool used like Python's multiprocessing.Pool: apply_async with
// callbacks, then close and join.
import { Effect } from "effect"
import { ProcessPool } from "@weft/pools"

const program = Effect.scoped(Effect.gen(function*() {
  const pool = yield* ProcessPool.make<typeof import("./worker.ts").default>({
    module: new URL("./worker.ts", import.meta.url),
    size: 2,
    maxTasksPerWorker: 1_000
  })
  const results: Array<number> = []
  for (let i = 0; i < 6; i++) {
    yield* pool.applyAsync("fib", [20 + (i % 3)], {
      onSuccess: (n) => results.push(n),
      onError: (e) => console.error(e.message)
    })
  }
  yield* pool.close // no new work; finish what is queued
  yield* pool.join // wait for every child to exit
  console.log(`results: ${results.sort((a, b) => a - b).join(", ")}`)
  const refused = yield* Effect.flip(pool.submit("inc", 1))
  console.log(`after close: ${refused._tag}`)
}))

Effect.runPromise(program)
