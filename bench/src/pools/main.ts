// Pools bench: Weft's ThreadPool and ProcessPool side by side, in one run, with
// piscina, tinypool, Effect's RPC worker pool and hand-written raw
// worker_threads / fork pools (the physical-limit rows). Prints markdown.
//
//   npm run build -w @weft/pools && node bench/src/pools/main.ts [--quick] [--only=promise|tiny|cpu|proc|start]
//
// BASE_POOLS=/path/to/older/packages/pools/dist/index.js adds that older
// build's ThreadPool rows, marked "(base)", to the promise section's run.
//
// Standalone on purpose; the promise section uses harness.ts's interleaved
// rounds and median, the harness shape.
import { Effect, Layer } from "effect"
import { RpcClient } from "effect/rpc"
import { NodeWorker } from "@effect/platform-node"
import { ProcessPool, ThreadPool } from "@weft/pools"
import WeftPiscina from "@weft/pools/compat/piscina"
import { Piscina } from "piscina"
import { Tinypool } from "tinypool"
import { fork } from "node:child_process"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { IncRpcs } from "./effect-rpc.mjs"
import { measure, table } from "../harness.ts"

const runtimeName = "Bun" in globalThis
  ? `bun ${(globalThis as any).Bun.version}`
  : "Deno" in globalThis
  ? `deno ${(globalThis as any).Deno.version.deno}`
  : `node ${process.version}`
// tinypool never answers its first task under Deno 2.9 (the --quick tiny section did not finish in 200 s), so it is left out there.
const skipTinypool = "Deno" in globalThis
const quick = process.argv.includes("--quick")
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7) // promise | tiny | cpu | proc | start
const section = (name: string) => only === undefined || only === name
const here = (path: string) => new URL(`./${path}`, import.meta.url)
const weftModule = here("weft-worker.mjs")
const piscinaFile = here("piscina-inc.mjs").href
const WORKERS = 2
const TINY = quick ? 20_000 : 100_000
const PROC_TINY = quick ? 5_000 : 20_000
const CPU_TASKS = quick ? 400 : 2_000
const CPU_MS = 1
const ROUNDS = quick ? 2 : 3

const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const base: typeof import("@weft/pools") | undefined = process.env.BASE_POOLS ? await import(process.env.BASE_POOLS) : undefined

/** Best of `rounds` runs of `f` (which returns elapsed ms). */
const best = async (f: () => Promise<number>, rounds = ROUNDS): Promise<number> => {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < rounds; i++) min = Math.min(min, await f())
  return min
}

const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

// ---------------------------------------------------------------- raw pools

/** Round-robin raw pool over `send`-able workers, `inFlight` tasks per worker. */
const rawRun = (
  workers: Array<{ send: (m: unknown) => void; on: (f: (m: any) => void) => void }>,
  n: number,
  inFlight: number,
  payload: (i: number) => unknown = (i) => i
) =>
  new Promise<void>((resolve) => {
    let next = 0
    let done = 0
    workers.forEach((w) => {
      w.on(() => {
        if (++done === n) return resolve()
        if (next < n) w.send([next, payload(next++)])
      })
      for (let k = 0; k < inFlight && next < n; k++) w.send([next, payload(next++)])
    })
  })

const rawThreads = async (n: number, inFlight: number, payload?: (i: number) => unknown, rounds = ROUNDS) => {
  const ws = range(WORKERS).map(() => new Worker(here("raw-thread.mjs")))
  const handles = ws.map((w) => {
    let listener: (m: any) => void = () => {}
    w.on("message", (m) => listener(m))
    return { send: (m: unknown) => w.postMessage(m), on: (f: (m: any) => void) => (listener = f) }
  })
  await rawRun(handles, 1, 1) // warm: both started
  await rawRun(handles, WORKERS * 10, 1)
  const ms = await best(() => timed(() => rawRun(handles, n, inFlight, payload)), rounds)
  await Promise.all(ws.map((w) => w.terminate()))
  return ms
}

const rawChildren = async (n: number, inFlight: number) => {
  const cs = range(WORKERS).map(() => fork(fileURLToPath(here("raw-child.mjs")), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }))
  const handles = cs.map((c) => {
    let listener: (m: any) => void = () => {}
    c.on("message", (m) => listener(m))
    return { send: (m: unknown) => c.send(m as any), on: (f: (m: any) => void) => (listener = f) }
  })
  await rawRun(handles, WORKERS * 10, 1)
  const ms = await best(() => timed(() => rawRun(handles, n, inFlight)))
  cs.forEach((c) => c.kill())
  return ms
}

// ---------------------------------------------------------------- libraries

const piscina = async (n: number, Pool: typeof Piscina = Piscina) => {
  const pool = new Pool({ filename: piscinaFile, minThreads: WORKERS, maxThreads: WORKERS })
  await Promise.all(range(WORKERS * 10).map((i) => pool.run(i)))
  const ms = await best(() => timed(() => Promise.all(range(n).map((i) => pool.run(i)))))
  await pool.destroy()
  return ms
}

const piscinaCpu = async () => {
  const pool = new Piscina({ filename: piscinaFile, minThreads: WORKERS, maxThreads: WORKERS })
  await Promise.all(range(WORKERS * 10).map((i) => pool.run(i)))
  const ms = await timed(() => Promise.all(range(CPU_TASKS).map(() => pool.run({ cpu: CPU_MS }))))
  await pool.destroy()
  return ms
}

const tinypool = async (n: number, runtime: "worker_threads" | "child_process") => {
  const pool = new Tinypool({ filename: piscinaFile, minThreads: WORKERS, maxThreads: WORKERS, runtime })
  await Promise.all(range(WORKERS * 10).map((i) => pool.run(i)))
  const ms = await best(() => timed(() => Promise.all(range(n).map((i) => pool.run(i)))))
  await pool.destroy()
  return ms
}

const effectRpc = async (n: number, concurrency: number) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const client = yield* RpcClient.make(IncRpcs)
        yield* Effect.forEach(range(WORKERS * 10), (x) => client.Inc({ x }), { concurrency: "unbounded" })
        const run = () =>
          Effect.runPromise(
            Effect.forEach(range(n), (x) => client.Inc({ x }), { concurrency: "unbounded", discard: true })
          )
        return yield* Effect.promise(() => best(() => timed(run)))
      }).pipe(
        Effect.provide(
          RpcClient.layerProtocolWorker({ size: WORKERS, concurrency }).pipe(
            Layer.provide(NodeWorker.layer(() => new Worker(here("effect-rpc.mjs"))))
          )
        )
      )
    )
  )

type Make = typeof ThreadPool.make
const weft = (make: Make, n: number, how: "map" | "submit") =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const pool = yield* make<typeof import("./weft-worker.mjs").default>({ module: weftModule, size: WORKERS })
        yield* pool.map("inc", range(WORKERS * 10))
        const run = how === "map"
          ? () => Effect.runPromise(pool.map("inc", range(n)))
          : () =>
            Effect.runPromise(
              Effect.forEach(range(n), (i) => pool.submit("inc", i), { concurrency: "unbounded", discard: true })
            )
        return yield* Effect.promise(() => best(() => timed(run)))
      })
    )
  )

const weftCpu = () =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const pool = yield* ThreadPool.make<typeof import("./weft-worker.mjs").default>({ module: weftModule, size: WORKERS })
        yield* pool.map("inc", range(WORKERS * 10))
        return yield* Effect.promise(() => timed(() => Effect.runPromise(pool.map("cpu", range(CPU_TASKS).map(() => CPU_MS)))))
      })
    )
  )

/** Cost of one task of `ms` on this machine, run here: the ideal is tasks * that / workers. */
const cpuTaskCost = () => {
  const t0 = performance.now()
  for (let i = 0; i < 200; i++) {
    const end = performance.now() + CPU_MS
    while (performance.now() < end);
  }
  return (performance.now() - t0) / 200
}

// ---------------------------------------------------------------- start-up


const startups: Record<string, () => Promise<unknown>> = {
  "raw worker_threads (2)": async () => {
    const ws = range(WORKERS).map(() => new Worker(here("raw-thread.mjs")))
    await Promise.all(ws.map((w) => new Promise((r) => {
      w.once("message", r)
      w.postMessage([0, 0])
    })))
    await Promise.all(ws.map((w) => w.terminate()))
  },
  "piscina (2 threads)": async () => {
    const pool = new Piscina({ filename: piscinaFile, minThreads: WORKERS, maxThreads: WORKERS })
    await Promise.all([pool.run(1), pool.run(2)])
    await pool.destroy()
  },
  "tinypool (2 threads)": async () => {
    const pool = new Tinypool({ filename: piscinaFile, minThreads: WORKERS, maxThreads: WORKERS })
    await Promise.all([pool.run(1), pool.run(2)])
    await pool.destroy()
  },
  "Weft ThreadPool (2)": () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const pool = yield* ThreadPool.make({ module: weftModule, size: WORKERS })
      yield* Effect.all([pool.submit("inc", 1), pool.submit("inc", 2)], { concurrency: 2 })
    }))),
  "raw fork (2)": async () => {
    const cs = range(WORKERS).map(() => fork(fileURLToPath(here("raw-child.mjs")), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }))
    await Promise.all(cs.map((c) => new Promise((r) => {
      c.once("message", r)
      c.send([0, 0])
    })))
    await Promise.all(cs.map((c) => new Promise((r) => {
      c.once("exit", r)
      c.kill()
    })))
  },
  "Weft ProcessPool (2)": () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const pool = yield* ProcessPool.make({ module: weftModule, size: WORKERS })
      yield* Effect.all([pool.submit("inc", 1), pool.submit("inc", 2)], { concurrency: 2 })
    })))
}

// ---------------------------------------------------------------- run

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000)
const fmt = (x: number) => x.toLocaleString("en-US")

const main = async () => {
  console.log(`## Pools — ${runtimeName}, ${availableParallelism()} cores, ${WORKERS} workers${quick ? " (quick)" : ""}\n`)

  if (section("promise")) await promiseSection()
  if (section("tiny")) await tinySection()
  if (section("cpu")) await cpuSection()
  if (section("proc")) await procSection()
  if (section("start")) await startSection()
}

/**
 * Issue 7's harness shape: each task its own `Effect.runPromise(pool.submit(...))`
 * (and its own `pool.run(...)`, the Promise face), against piscina's own
 * `run`, all 100k submitted at once. One pool of each, interleaved rounds, median of 9.
 */
const promiseSection = async () => {
  const n = TINY
  const rounds = quick ? 3 : 9
  const pool = new Piscina({ filename: piscinaFile, minThreads: WORKERS, maxThreads: WORKERS })
  // The drop-in: the same worker file, the same calls, one import changed.
  const compat = new WeftPiscina({ filename: piscinaFile, minThreads: WORKERS, maxThreads: WORKERS })
  await Promise.all(range(WORKERS * 10).map((i) => compat.run(i)))
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const weftPool = yield* ThreadPool.make<typeof import("./weft-worker.mjs").default>({
          module: weftModule,
          size: WORKERS,
          ready: "all"
        })
        const basePool = base === undefined ? undefined : yield* base.ThreadPool.make<typeof import("./weft-worker.mjs").default>({
          module: weftModule,
          size: WORKERS,
          ready: "all"
        })
        yield* Effect.promise(async () => {
          const baseCases = basePool === undefined ? [] : [{
            name: "Weft ThreadPool, pool.run each (base)",
            run: async (ops: number) => void (await Promise.all(range(ops).map((i) => basePool.run("inc", i))))
          }]
          const rows = await measure([
            { name: "piscina run", run: async (ops) => void (await Promise.all(range(ops).map((i) => pool.run(i)))) },
            {
              name: "Weft ThreadPool, Effect.runPromise(pool.submit) each",
              run: async (ops) => void (await Promise.all(range(ops).map((i) => Effect.runPromise(weftPool.submit("inc", i)))))
            },
            {
              name: "Weft ThreadPool, pool.run each (Promise face)",
              run: async (ops) => void (await Promise.all(range(ops).map((i) => weftPool.run("inc", i))))
            },
            {
              name: "Weft compat/piscina Piscina run",
              run: async (ops) => void (await Promise.all(range(ops).map((i) => compat.run(i))))
            },
            ...baseCases
          ], n, rounds)
          console.log(`### ${fmt(n)} tiny tasks, one Promise each, thread pools (median of ${rounds} interleaved rounds)\n`)
          console.log(table("case", rows, ["piscina run"]))
          console.log("")
        })
      })
    )
  )
  await pool.destroy()
  await compat.destroy()
}

const tinySection = async () => {
  console.log(`### ${fmt(TINY)} tiny tasks (x => x + 1) submitted at once, thread pools\n`)
  const tiny: Array<[string, number]> = []
  const add = async (name: string, f: () => Promise<number>) => {
    const ms = await f()
    tiny.push([name, rate(TINY, ms)])
    process.stderr.write(`  ${name}: ${fmt(rate(TINY, ms))}/s\n`)
  }
  await add("raw worker_threads, 1 in flight per worker", () => rawThreads(TINY, 1))
  await add("raw worker_threads, 8 in flight per worker", () => rawThreads(TINY, 8))
  await add("piscina", () => piscina(TINY))
  await add("Weft compat/piscina (the drop-in, same calls)", () => piscina(TINY, WeftPiscina as unknown as typeof Piscina))
  if (!skipTinypool) await add("tinypool", () => tinypool(TINY, "worker_threads"))
  await add("Effect RpcClient.layerProtocolWorker (concurrency 1)", () => effectRpc(TINY, 1))
  await add("Effect RpcClient.layerProtocolWorker (concurrency 8)", () => effectRpc(TINY, 8))
  await add("Weft ThreadPool, submit x N (Effect.forEach unbounded)", () => weft(ThreadPool.make, TINY, "submit"))
  await add("Weft ThreadPool, map", () => weft(ThreadPool.make, TINY, "map"))
  const piscinaRate = tiny.find(([n]) => n === "piscina")![1]
  console.log("| pool | tasks/s | vs piscina |\n|---|---:|---:|")
  for (const [name, r] of tiny) console.log(`| ${name} | ${fmt(r)} | ${(r / piscinaRate).toFixed(2)}x |`)
}

const cpuSection = async () => {
  console.log(`\n### ${fmt(CPU_TASKS)} CPU tasks of ${CPU_MS} ms on ${WORKERS} workers\n`)
  const cost = cpuTaskCost()
  const ideal = (CPU_TASKS * cost) / WORKERS
  const rawCpuMs = await rawThreads(CPU_TASKS, 1, () => ({ cpu: CPU_MS }), 1)
  const weftCpuMs = await weftCpu()
  const piscinaCpuMs = await piscinaCpu()
  console.log("| pool | wall ms | ideal ms (tasks x task cost / workers) | over ideal |\n|---|---:|---:|---:|")
  console.log(`| raw worker_threads, 1 in flight | ${rawCpuMs.toFixed(0)} | ${ideal.toFixed(0)} | ${((rawCpuMs / ideal - 1) * 100).toFixed(1)}% |`)
  console.log(`| Weft ThreadPool, map | ${weftCpuMs.toFixed(0)} | ${ideal.toFixed(0)} | ${((weftCpuMs / ideal - 1) * 100).toFixed(1)}% |`)
  console.log(`| piscina | ${piscinaCpuMs.toFixed(0)} | ${ideal.toFixed(0)} | ${((piscinaCpuMs / ideal - 1) * 100).toFixed(1)}% |`)
}

const procSection = async () => {
  console.log(`\n### ${fmt(PROC_TINY)} tiny tasks, process pools\n`)
  const proc: Array<[string, number]> = []
  const addProc = async (name: string, f: () => Promise<number>) => {
    const ms = await f()
    proc.push([name, rate(PROC_TINY, ms)])
    process.stderr.write(`  ${name}: ${fmt(rate(PROC_TINY, ms))}/s\n`)
  }
  await addProc("raw fork + IPC, 1 in flight per worker", () => rawChildren(PROC_TINY, 1))
  if (!skipTinypool) await addProc("tinypool (child_process)", () => tinypool(PROC_TINY, "child_process"))
  await addProc("Weft ProcessPool, submit x N", () => weft(ProcessPool.make as Make, PROC_TINY, "submit"))
  await addProc("Weft ProcessPool, map", () => weft(ProcessPool.make as Make, PROC_TINY, "map"))
  const rawRate = proc[0]![1]
  console.log("| pool | tasks/s | vs raw fork |\n|---|---:|---:|")
  for (const [name, r] of proc) console.log(`| ${name} | ${fmt(r)} | ${(r / rawRate).toFixed(2)}x |`)
}

const startSection = async () => {
  console.log(`\n### Start-up and teardown, ${WORKERS} workers (first task answered; best of 7 interleaved rounds)\n`)
  const bestStart = new Map<string, number>()
  for (let round = 0; round < 7; round++) {
    for (const [name, f] of Object.entries(startups)) {
      if (skipTinypool && name.startsWith("tinypool")) continue
      const ms = await timed(f)
      bestStart.set(name, Math.min(bestStart.get(name) ?? Number.POSITIVE_INFINITY, ms))
    }
  }
  console.log("| pool | ms |\n|---|---:|")
  for (const [name, ms] of bestStart) console.log(`| ${name} | ${ms.toFixed(1)} |`)
}

await main()
