import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SharedLock } from "@weft/primitives"
import { type Pool, ThreadPool, transfer } from "../src/index.ts"
import { fixture, poolSuite, runtime, waitUntil, workerModule } from "./fixtures/suite.ts"

poolSuite("ThreadPool")

describe("ThreadPool", () => {
  it.effect("workerData and argv reach each worker thread (workerData is the user's own)", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({
        module: fixture("piscina/tools.mjs"),
        size: 2,
        ready: "all",
        workerData: { answer: 42 },
        argv: ["--mode", 7]
      })
      const data = yield* Effect.all([pool.submit("data"), pool.submit("data")], { concurrency: 2 })
      assert.deepStrictEqual(data, [{ answer: 42 }, { answer: 42 }])
      assert.deepStrictEqual(yield* pool.submit("argv"), ["--mode", "7"])
    })))

  it.effect("resourceLimits are checked: a limit that is not a positive number fails make", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(ThreadPool.make({ module: workerModule, size: 1, resourceLimits: { maxOldGenerationSizeMb: 0 } })))
      assert.strictEqual(error._tag, "InvalidArgumentError")
      assert.include(error.message, "resourceLimits.maxOldGenerationSizeMb")
    }))

  it.effect("the pool's size is right as soon as submit returns (the worker a task needs starts at once)", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: workerModule, size: 2, minSize: 1 })
      yield* pool.submit("inc", 1) // the first worker is up
      // Two Promise-face calls, then the stats in the same synchronous step (no microtask between).
      const running = [pool.run("sleep", 100, "a"), pool.run("sleep", 100, "b")]
      assert.strictEqual((yield* pool.stats).size, 2)
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(running)), ["a", "b"])
    })))

  it.effect("a pool typed by its worker module checks task names, arguments and results", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make<typeof import("./fixtures/worker.ts").default>({ module: workerModule, size: 1 })
      const n: number = yield* pool.submit("inc", 1)
      const s: string = yield* pool.submit("sleep", 1, "x").pipe(Effect.map(String))
      const xs: Array<number> = yield* pool.map("inc", [1, 2])
      // @ts-expect-error: no such task
      const unknown = pool.submit("nope")
      // @ts-expect-error: inc takes a number
      const wrong = pool.submit("inc", "one")
      void unknown
      void wrong
      assert.deepStrictEqual([n, s, xs], [2, "x", [2, 3]])
    })))

  it.effect("a slow task does not hold the tasks sent behind it: an idle worker steals them", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: workerModule, size: 2 })
      // Tiny tasks first, so each worker is sent many tasks at a time, and
      // spin is known as tiny: the pool sends tasks behind it.
      yield* pool.map("inc", Array.from({ length: 3000 }, (_, i) => i))
      yield* pool.map("spin", Array.from({ length: 200 }, () => 0))
      const order: Array<string> = []
      // 2 s: long enough that the other worker runs the 100 tiny tasks first on a loaded machine too.
      const slow = Effect.map(pool.submit("spin", 2000), () => order.push("slow"))
      const tiny = Array.from({ length: 100 }, (_, i) => Effect.map(pool.submit("inc", i), () => order.push("tiny")))
      yield* Effect.all([slow, ...tiny], { concurrency: "unbounded" })
      // Without stealing, the tasks sent to the slow task's worker behind it
      // would finish after it; with stealing the other worker runs them all.
      assert.strictEqual(order.indexOf("slow"), 100)
      const stats = yield* pool.stats
      assert.isAbove(stats.stolen, 0)
      assert.strictEqual(stats.completed, 3301)
    })))

  it.effect("with stealing, every task of a mixed batch runs exactly once and results stay in order", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: workerModule, size: 2, ready: "all" })
      const n = 128
      const scratch = new Int32Array(new SharedArrayBuffer(4))
      // Rounds of instant tasks with one slow task among those sent to the
      // first worker: the other one runs dry and steals the tasks behind it,
      // racing the first worker for their claim words.
      for (let round = 0; round < 4; round++) {
        // tally known as tiny again (one slow run raised its estimate), so many travel at once
        yield* Effect.forEach(Array.from({ length: 100 }), () => pool.submit("tally", scratch, 0, 0), { concurrency: "unbounded" })
        const stolenBefore = (yield* pool.stats).stolen
        const counter = new Int32Array(new SharedArrayBuffer(4 * n))
        const durations = Array.from({ length: n }, (_, i) => (i === 7 ? 100 : 0))
        const results = yield* Effect.forEach(durations, (ms, i) => pool.submit("tally", counter, i, ms), { concurrency: "unbounded" })
        assert.deepStrictEqual(results, Array.from({ length: n }, (_, i) => i))
        assert.deepStrictEqual(Array.from(counter), Array.from({ length: n }, () => 1))
        assert.isAbove((yield* pool.stats).stolen, stolenBefore, `round ${round}`)
      }
    })))

  it.effect("transfer moves an ArrayBuffer to the worker and back instead of copying it", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: workerModule, size: 1 })
      const buffer = new ArrayBuffer(1024)
      assert.strictEqual(yield* pool.submit("byteLength", transfer(buffer)), 1024)
      assert.strictEqual(buffer.byteLength, 0) // detached: it moved
      const copied = new ArrayBuffer(16)
      assert.strictEqual(yield* pool.submit("byteLength", copied), 16)
      assert.strictEqual(copied.byteLength, 16) // without transfer it is cloned
      const back = (yield* pool.submit("makeBuffer", 64)) as ArrayBuffer
      assert.strictEqual(back.byteLength, 64)
    })))

  it.effect("structured clone carries Map, Date, bigint and typed arrays", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: workerModule, size: 1 })
      const value = { m: new Map([[1, "a"]]), d: new Date(0), b: 10n, t: new Uint8Array([1, 2]) }
      const echoed = (yield* pool.submit("echo", value)) as typeof value
      assert.strictEqual(echoed.m.get(1), "a")
      assert.strictEqual(echoed.d.getTime(), 0)
      assert.strictEqual(echoed.b, 10n)
      assert.deepStrictEqual([...echoed.t], [1, 2])
      assert.strictEqual(yield* pool.submit("returnBigInt"), 1n)
    })))

  it.effect("a SharedLock passed as an argument arrives attached: the task uses the same lock", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: fixture("primitives-worker.ts"), size: 1 })
      const lock = yield* SharedLock.make
      yield* lock.acquire
      assert.isFalse(yield* pool.submit("tryLock", lock)) // held here, so not there
      yield* lock.release
      assert.isTrue(yield* pool.submit("lockAndRelease", lock))
      assert.isTrue(yield* pool.submit("tryLock", lock.handle)) // a bare handle works too
      assert.isTrue(yield* lock.locked) // taken in the worker, seen here
    })))

  it.effect("env gives the worker threads their own process.env", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: workerModule, size: 1, env: { WEFT_POOL_TEST: "thread" } })
      assert.strictEqual(yield* pool.submit("getEnv", "WEFT_POOL_TEST"), "thread")
    })))

  // Bun and Deno accept resourceLimits but do not enforce a heap limit on a worker thread.
  it.effect.skipIf(runtime !== "node")("resourceLimits: a worker over its heap limit crashes and is replaced", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: workerModule, size: 1, resourceLimits: { maxOldGenerationSizeMb: 16 } })
      const error = yield* Effect.flip(pool.submit("allocate", 256))
      assert.strictEqual(error._tag, "WorkerCrashedError")
      assert.strictEqual(yield* pool.submit("inc", 1), 2)
    })))

  // Seed 000: the hand-written thread pool — 30 tasks, 5 workers, callback(success, result), close vs terminate.
  describe("seed 000: hand-written thread pool", () => {
    const seedTask = (pool: Pool.Pool, log: Array<[boolean, unknown]>, i: number, ms = 5) =>
      pool.applyAsync("sleep", [ms, i], {
        onSuccess: (result) => log.push([true, result]),
        onError: (error) => log.push([false, error._tag])
      })

    it.effect("close: all 30 tasks run, each callback says success, then the workers stop", () =>
      Effect.scoped(Effect.gen(function*() {
        const pool = yield* ThreadPool.make({ module: workerModule, size: 5 })
        const log: Array<[boolean, unknown]> = []
        for (let i = 0; i < 30; i++) yield* seedTask(pool, log, i)
        yield* pool.close
        yield* pool.join
        assert.strictEqual(log.length, 30)
        assert.isTrue(log.every(([ok]) => ok))
        assert.deepStrictEqual(log.map(([, r]) => r).sort((a, b) => (a as number) - (b as number)), Array.from({ length: 30 }, (_, i) => i))
      })))

    it.effect("terminate: what has not finished never succeeds; its callback gets the error", () =>
      Effect.scoped(Effect.gen(function*() {
        const pool = yield* ThreadPool.make({ module: workerModule, size: 5 })
        const log: Array<[boolean, unknown]> = []
        // 30 tasks of 2 s on 5 workers take 12 s: terminate cuts them off in the first round, however
        // late it comes on a loaded machine (with 200 ms tasks a late one let a second round finish)
        for (let i = 0; i < 30; i++) yield* seedTask(pool, log, i, 2000)
        yield* waitUntil(Effect.map(pool.stats, (s) => s.busy === 5), "five busy workers")
        yield* pool.terminate
        yield* pool.join
        assert.strictEqual(log.length, 30)
        const failed = log.filter(([ok]) => !ok)
        assert.isTrue(failed.length >= 25)
        assert.isTrue(failed.every(([, tag]) => tag === "PoolClosedError"))
        const fiber = yield* Effect.forkChild(pool.submit("inc", 1))
        assert.strictEqual((yield* Effect.flip(Fiber.join(fiber)))._tag, "PoolClosedError")
      })))
  })
})
