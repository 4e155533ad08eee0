import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ProcessPool, ThreadPool } from "../src/index.ts"
import { fixture, workerModule } from "./fixtures/suite.ts"

// Options are checked before any worker starts, the same way for both kinds.
describe("Pool options", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["size 0", { size: 0 }, "size must be an integer >= 1, got 0"],
    ["fractional size", { size: 1.5 }, "size must be an integer >= 1, got 1.5"],
    ["negative minSize", { minSize: -1 }, "minSize must be an integer >= 0, got -1"],
    ["minSize above size", { size: 2, minSize: 3 }, "minSize must be at most size (2), got 3"],
    ["maxQueued 0", { maxQueued: 0 }, "maxQueued must be an integer >= 1, got 0"],
    ["maxTasksPerWorker 0", { maxTasksPerWorker: 0 }, "maxTasksPerWorker must be an integer >= 1, got 0"],
    ["taskTimeout 0", { taskTimeout: 0 }, "taskTimeout must be a Duration.Input > 0"],
    ["negative idleTimeout", { idleTimeout: -5 }, "idleTimeout must be a Duration.Input >= 0"],
    ["a nonsense duration", { abortTimeout: "soon" }, "abortTimeout must be a Duration.Input >= 0"],
    ["a ready that is neither first nor all", { ready: "some" }, "ready must be \"first\" or \"all\", got \"some\""],
    ["a relative module path", { module: "./worker.ts" }, "module must be a file URL or an absolute path"],
    ["a missing module", { module: "/nowhere/worker.ts" }, "module must be an existing file"],
    ["a module that is not JavaScript", { module: fixture("../ThreadPool.test.ts").href.replace(".ts", ".py") }, "module must be a .js, .mjs or .ts file"]
  ]
  for (const make of [ThreadPool.make, ProcessPool.make]) {
    for (const [what, options, message] of cases) {
      it.effect(`${make === ThreadPool.make ? "ThreadPool" : "ProcessPool"}.make refuses ${what} with InvalidArgumentError`, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(Effect.scoped(make({ module: workerModule, ...options } as any)))
          assert.strictEqual(error._tag, "InvalidArgumentError")
          assert.include(error.message, message)
        }))
    }
  }

  it.effect("defaults: size is the available parallelism, all workers start eagerly", () =>
    Effect.scoped(Effect.gen(function*() {
      const { availableParallelism } = yield* Effect.promise(() => import("node:os"))
      const pool = yield* ThreadPool.make({ module: workerModule })
      const stats = yield* pool.stats
      assert.strictEqual(stats.size, availableParallelism())
      // Every worker was started at once; make returned as soon as one was ready.
      assert.strictEqual(stats.idle + stats.starting, availableParallelism())
      assert.isAtLeast(stats.idle, 1)
    })))
})
