// The Promise face, for code that does not use Effect: pool.run, with
// async/await. Only making the pool and closing it go through Effect.
import { Effect, Exit, Scope } from "effect"
import { ThreadPool } from "@weft/pools"

const scope = Effect.runSync(Scope.make())
const pool = await Effect.runPromise(
  Scope.provide(scope)(
    ThreadPool.make<typeof import("./worker.ts").default>({ module: new URL("./worker.ts", import.meta.url), size: 2, ready: "all" })
  )
)
try {
  console.log(`inc(1) = ${await pool.run("inc", 1)}`)
  const fibs = await Promise.all([20, 25, 30].map((n) => pool.run("fib", n)))
  console.log(`fib: ${fibs.join(", ")}`)
  // A failure rejects with the same tagged error `submit` fails with.
  // @ts-expect-error: not a task of the worker module (the types catch it too)
  await pool.run("nope").catch((error) => console.log(`rejected: ${error._tag}`))
} finally {
  await Effect.runPromise(Scope.close(scope, Exit.void)) // terminates the workers
}
