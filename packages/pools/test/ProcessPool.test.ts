import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Manager, SharedLock } from "@weft/primitives"
import { spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { aliveSame, argv, childrenOf, exists, processIdentity, procAvailable } from "@weft/testkit"
import { ProcessPool } from "../src/index.ts"
import { fixture, poolSuite, runtime, waitUntil, workerModule } from "./fixtures/suite.ts"

poolSuite("ProcessPool")

describe("ProcessPool", () => {
  it.live.skipIf(!procAvailable)(
    `its owner SIGKILLed: every pool process exits by itself, the busy one too${procAvailable ? "" : " (skipped: no /proc to find them)"}`,
    () =>
      Effect.gen(function*() {
        const [command, ...args] = argv(fixture("owner.ts"))
        const owner = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
        yield* Effect.addFinalizer(() => Effect.sync(() => owner.exitCode === null && owner.kill("SIGKILL")))
        yield* Effect.callback<void>((resume) => {
          let out = ""
          owner.stdout!.on("data", (chunk: Buffer) => {
            out += chunk.toString("utf8")
            if (out.includes("ready\n")) resume(Effect.void)
          })
        }).pipe(Effect.timeout("30 seconds"))
        const pids = childrenOf(owner.pid!)
        assert.strictEqual(pids.length, 2, "two pool processes")
        const ids = pids.map(processIdentity)
        yield* Effect.addFinalizer(() => Effect.sync(() => ids.filter(aliveSame).forEach((id) => process.kill(id!.pid, "SIGKILL"))))
        process.kill(owner.pid!, "SIGKILL")
        // They notice the IPC channel close ('disconnect'), not by polling; a few ms when idle.
        yield* waitUntil(Effect.sync(() => !ids.some(aliveSame)), "every pool process gone", 10_000)
      }).pipe(Effect.scoped),
    40_000
  )

  it.effect("a child killed with SIGKILL fails its task with WorkerCrashedError and is replaced", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ProcessPool.make({ module: workerModule, size: 1 })
      const { pid } = (yield* pool.submit("whoami")) as { pid: number }
      const fiber = yield* Effect.forkChild(pool.submit("sleep", 60_000))
      yield* waitUntil(Effect.map(pool.stats, (s) => s.busy === 1), "the task running")
      process.kill(pid, "SIGKILL")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "WorkerCrashedError")
      if (error._tag === "WorkerCrashedError") assert.strictEqual(error.signal, "SIGKILL")
      const next = (yield* pool.submit("whoami")) as { pid: number }
      assert.notStrictEqual(next.pid, pid)
    })))

  it.effect("each child's progress file is removed when it exits, crashed or stopped", () =>
    Effect.gen(function*() {
      const ours = () => readdirSync(tmpdir()).filter((name) => name.startsWith(`weft-pool-${process.pid}-`))
      const before = ours().length
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* ProcessPool.make({ module: workerModule, size: 2, ready: "all" })
        assert.strictEqual(ours().length, before + 2)
        yield* Effect.flip(pool.submit("exit", 1))
        yield* waitUntil(Effect.map(pool.stats, (s) => s.idle === 2), "the replacement")
      }))
      assert.strictEqual(ours().length, before)
    }))

  it.effect("arguments cross as JSON: what JSON would drop or change is refused, naming where", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ProcessPool.make({ module: workerModule, size: 1 })
      for (const [value, words] of [
        [new Map(), "Map"],
        [{ deep: [1, 2n] }, "argument 0.deep[1] is a bigint"],
        [Number.NaN, "NaN"],
        [new Date(0), "Date"],
        [() => 1, "function"]
      ] as const) {
        const error = yield* Effect.flip(pool.submit("echo", value))
        assert.strictEqual(error._tag, "InvalidArgumentError")
        assert.include(error.message, words)
      }
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      assert.include((yield* Effect.flip(pool.submit("echo", cyclic))).message, "cycle")
      assert.strictEqual((yield* Effect.flip(pool.submit("returnBigInt")))._tag, "TaskError")
      assert.deepStrictEqual(yield* pool.submit("echo", { ok: [1, "two", null] }), { ok: [1, "two", null] })
    })))

  it.effect("a manager lock passed as an argument arrives attached; a SharedLock is refused", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ProcessPool.make({ module: fixture("primitives-worker.ts"), size: 1 })
      const manager = yield* Manager.serve()
      const lock = yield* manager.lock()
      yield* lock.acquire
      assert.isFalse(yield* pool.submit("tryLock", lock))
      yield* lock.release
      assert.isTrue(yield* pool.submit("lockAndRelease", lock))
      const shared = yield* SharedLock.make
      const error = yield* Effect.flip(pool.submit("tryLock", shared))
      assert.strictEqual(error._tag, "InvalidArgumentError")
      assert.include(error.message, "SharedLock, which works between threads only")
    })))

  it.effect("env and execArgv reach the children", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ProcessPool.make({
        module: workerModule,
        size: 1,
        env: { ...process.env, WEFT_POOL_TEST: "child" },
        ...(runtime === "node" ? { execArgv: ["--max-old-space-size=128"] } : {})
      })
      assert.strictEqual(yield* pool.submit("getEnv", "WEFT_POOL_TEST"), "child")
      // Bun and Deno translate or drop Node's flags, so execArgv is checked on node only.
      if (runtime === "node") assert.include(yield* pool.submit("execArgv"), "--max-old-space-size=128")
    })))

  it.effect("leaving the scope kills and reaps every child: none outlives the pool", () =>
    Effect.gen(function*() {
      const pids = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* ProcessPool.make({ module: workerModule, size: 2 })
        const ids = yield* Effect.all([pool.submit("whoami"), pool.submit("whoami")], { concurrency: 2 })
        return ids.map((w) => (w as { pid: number }).pid)
      }))
      for (const pid of pids) assert.isFalse(exists(pid), `child ${pid} is still alive`)
    }))

  // Seed 000 (multiprocessing.Pool): Pool(5), apply_async for each task, then close + join vs terminate.
  describe("seed: multiprocessing.Pool(5) with apply_async", () => {
    it.effect("close then join: every result arrives through its callback", () =>
      Effect.scoped(Effect.gen(function*() {
        const pool = yield* ProcessPool.make({ module: workerModule, size: 5 })
        const results: Array<unknown> = []
        const handles = []
        for (let i = 0; i < 10; i++) handles.push(yield* pool.applyAsync("sleep", [5, i], { onSuccess: (r) => results.push(r) }))
        yield* pool.close
        yield* pool.join
        assert.deepStrictEqual(results.sort((a, b) => (a as number) - (b as number)), Array.from({ length: 10 }, (_, i) => i))
        for (const handle of handles) assert.isTrue(yield* handle.ready)
      })))

    it.effect("terminate: the pool stops at once; unfinished tasks end with PoolClosedError", () =>
      Effect.scoped(Effect.gen(function*() {
        const pool = yield* ProcessPool.make({ module: workerModule, size: 5 })
        const errors: Array<string> = []
        for (let i = 0; i < 10; i++) yield* pool.applyAsync("sleep", [60_000, i], { onError: (e) => errors.push(e._tag) })
        yield* waitUntil(Effect.map(pool.stats, (s) => s.busy === 5), "five busy workers")
        yield* pool.terminate
        yield* pool.join
        assert.deepStrictEqual(errors, Array(10).fill("PoolClosedError"))
      })))
  })

  // Seed 004: ProcessPoolExecutor(4), 13 tasks, add_done_callback, shutdown(wait=True).
  it.effect("seed: ProcessPoolExecutor(4) with 13 tasks and done-callbacks", () =>
    Effect.scoped(Effect.gen(function*() {
      const pool = yield* ProcessPool.make({ module: workerModule, size: 4 })
      const done: Array<number> = []
      const futures = []
      for (let i = 0; i < 13; i++) {
        // submit + add_done_callback: a forked fiber and an onExit hook
        futures.push(
          yield* Effect.forkChild(
            pool.submit("add", i, 100).pipe(Effect.tap((r) => Effect.sync(() => done.push(r as number)))),
            { startImmediately: true }
          )
        )
      }
      // shutdown(wait=True): close, then wait for the workers
      yield* pool.close
      const results = yield* Effect.forEach(futures, Fiber.join)
      yield* pool.join
      assert.deepStrictEqual(results, Array.from({ length: 13 }, (_, i) => i + 100))
      assert.strictEqual(done.length, 13)
    })))
})
