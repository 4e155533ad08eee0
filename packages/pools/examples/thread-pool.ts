// A thread pool: submit, map, a stream of results as they finish, and a
// cancelled task.
import { Effect, Option, Stream } from "effect"
import { ThreadPool } from "@weft/pools"

const program = Effect.scoped(Effect.gen(function*() {
  const pool = yield* ThreadPool.make<typeof import("./worker.ts").default>({
    module: new URL("./worker.ts", import.meta.url),
    size: 2,
    taskTimeout: "10 seconds"
  })
  const one = yield* pool.submit("inc", 1) // 2
  const many = yield* pool.map("fib", [20, 25, 30]) // in input order
  const streamed = yield* Stream.runCollect(pool.imapUnordered("slow", [300, 100, 200])) // as they finish
  const squared = yield* pool.submit("square", 12) // a task that returns an Effect
  // Interrupting a submit cancels the task in the worker (its AbortSignal fires).
  const late = yield* pool.submit("slow", 60_000).pipe(Effect.timeoutOption("100 millis"))
  const stats = yield* pool.stats
  console.log(`inc(1) = ${one}`)
  console.log(`fib: ${many.join(", ")}`)
  console.log(`slow, as they finished: ${Array.from(streamed).join(", ")}`)
  console.log(`square(12) = ${squared}`)
  console.log(`the 60 s task: ${Option.isNone(late) ? "cancelled" : "ran"}`)
  console.log(`completed ${stats.completed}, cancelled ${stats.cancelled}`)
}))

Effect.runPromise(program)
