import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ProcessPool, ThreadPool } from "@weft/pools"
import { connect, skip, title, unique } from "./helpers.ts"

const module = new URL("./fixtures/pool-worker.ts", import.meta.url)

describe(title("a cluster primitive as a pool task argument"), () => {
  for (const [kind, make] of [["ThreadPool", ThreadPool.make], ["ProcessPool", ProcessPool.make]] as const) {
    it.live.skipIf(skip)(`${kind}: the task receives it attached, the same primitive`, () =>
      Effect.scoped(Effect.gen(function*() {
        const cluster = yield* connect()
        const lock = yield* cluster.lock(unique("pool-lock"))
        const queue = yield* cluster.queue<number>(unique("pool-queue"))
        const pool = yield* make({ module, size: 1 })
        yield* lock.acquire
        assert.isFalse(yield* pool.submit("tryLock", lock), "the worker sees the lock held here")
        yield* lock.release
        assert.isTrue(yield* pool.submit("tryLock", lock), "and free once released")
        yield* pool.submit("put", queue, 42)
        assert.strictEqual(yield* queue.get, 42)
        yield* queue.taskDone
      })), 60_000)
  }
})
