/**
 * What naming, `Inspect` bookkeeping and the lock-order switch cost the lock
 * hot paths of the thread, process and cluster scopes: the code of a
 * `BEFORE` checkout (the same packages before the change) against this
 * tree, in one process, cases interleaved round by round, medians, and the
 * median paired ratio to the "before" row (the figure to read on a loaded
 * machine).
 *
 *   git archive main packages/primitives packages/cluster | tar -x -C /tmp/weft-before
 *   ln -sfn "$PWD/node_modules" /tmp/weft-before/node_modules
 *   BEFORE=/tmp/weft-before node_modules/.bin/node bench/src/lockdep/main.ts
 *
 * Rows (uncontended `withLock(Effect.void)` in a loop, one fiber):
 * - thread: `SharedLock` before / after (checking off) / after (checking on);
 * - process: a manager `lock()` attached from the manager's own process
 *   (one round trip over the Unix socket per `withLock`), before / after / on;
 * - cluster: a cluster lock (one `pg_advisory_lock` + unlock per `withLock`)
 *   on a throwaway PostgreSQL, before / after.
 */
import { Effect, Exit, Scope } from "effect"
import { startServer } from "@weft/testkit/postgres"
import { type Case, median, type Row, runtime, table } from "../harness.ts"

/**
 * Interleaved rounds (reversed every other round), each case's median rate,
 * and its median paired ratio to the first case (each round's rate over the
 * first case's in the same round): on a loaded machine the load drifts
 * between rounds, and a pair run together cancels it.
 */
const measure = async (cases: ReadonlyArray<Case>, ops: number, rounds: number): Promise<Array<Row>> => {
  for (const c of cases) await c.run(Math.max(1, Math.floor(ops / 5)))
  const rates = cases.map(() => [] as Array<number>)
  for (let round = 0; round < rounds; round++) {
    const order = cases.map((_, i) => i)
    if (round % 2 === 1) order.reverse()
    for (const i of order) {
      const start = performance.now()
      await cases[i]!.run(ops)
      rates[i]!.push(ops / ((performance.now() - start) / 1000))
    }
  }
  return cases.map((c, i) => ({
    name: c.name,
    opsPerSecond: median(rates[i]!),
    extra: `paired ${median(rates[i]!.map((r, round) => r / rates[0]![round]!)).toFixed(2)}x`
  }))
}

const before = process.env.BEFORE
if (before === undefined) throw new Error("BEFORE=<a checkout of the packages before the change> is required")
const here = new URL("../../../", import.meta.url).pathname

type Locky = { withLock: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> }

const loop = (lock: Locky) => {
  const one = lock.withLock(Effect.void)
  return (ops: number) =>
    Effect.runPromise(Effect.gen(function*() {
      for (let i = 0; i < ops; i++) yield* one
    }))
}

const primitives = (root: string) => `${root}/packages/primitives/src`

const main = async () => {
  const OldShared = await import(`${primitives(before)}/shared/SharedLock.ts`)
  const NewShared = await import(`${primitives(here)}/shared/SharedLock.ts`)
  const Lockdep = await import(`${primitives(here)}/Lockdep.ts`)
  const on = () => Lockdep.enable()
  const off = () => Lockdep.disable()

  // Checking on runs in rounds of its own, after: flipping the switch between
  // interleaved cases would make the off path share call sites with the on path.
  const oldShared = loop(OldShared.makeUnsafe())
  const threadRows = await measure([
    { name: "SharedLock before", run: oldShared },
    { name: "SharedLock after, checking off", run: loop(NewShared.makeUnsafe("bench-shared")) }
  ], 50_000, 31)

  const OldManager = await import(`${primitives(before)}/process/Manager.ts`)
  const NewManager = await import(`${primitives(here)}/process/Manager.ts`)
  const scope = Effect.runSync(Scope.make())
  const attached = async (M: typeof NewManager, name?: string) =>
    Effect.runPromise(Scope.provide(scope)(Effect.gen(function*() {
      const manager = yield* M.serve()
      const lock = yield* (name === undefined ? manager.lock() : manager.lock({ name }))
      return yield* M.attach(lock.handle)
    }))) as Promise<Locky>
  const oldManager = loop(await attached(OldManager))
  const processRows = await measure([
    { name: "manager lock before", run: oldManager },
    { name: "manager lock after, checking off", run: loop(await attached(NewManager, "bench-manager")) }
  ], 2_000, 15)
  on()
  threadRows.push((await measure([
    { name: "SharedLock before", run: oldShared },
    { name: "SharedLock after, checking on (rounds of its own)", run: loop(NewShared.makeUnsafe("bench-shared-on")) }
  ], 50_000, 15))[1]!)
  processRows.push((await measure([
    { name: "manager lock before", run: oldManager },
    { name: "manager lock after, checking on (rounds of its own)", run: loop(await attached(NewManager, "bench-manager-on")) }
  ], 2_000, 9))[1]!)
  off()

  const server = process.env.WEFT_PG_URL !== undefined ? { url: process.env.WEFT_PG_URL, stop: () => {} } : startServer()
  let clusterRows: Array<Row> = []
  if (server.url !== undefined) {
    const OldCluster = await import(`${before}/packages/cluster/src/Cluster.ts`)
    const NewCluster = await import(`${here}/packages/cluster/src/Cluster.ts`)
    const clusterLock = (C: typeof NewCluster, name: string) =>
      Effect.runPromise(Scope.provide(scope)(Effect.gen(function*() {
        const cluster = yield* C.connect({ url: server.url!, schema: "bench_lockdep" })
        return yield* cluster.lock(name)
      }))) as Promise<Locky>
    clusterRows = await measure([
      { name: "cluster lock before", run: loop(await clusterLock(OldCluster, "bench-before")) },
      { name: "cluster lock after", run: loop(await clusterLock(NewCluster, "bench-after")) }
    ], 1_000, 15)
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  server.stop()

  console.log(`${runtime()}; uncontended withLock, one fiber; medians of interleaved rounds (thread 31 x 50k, process 15 x 2k, cluster 15 x 1k)\n`)
  console.log(table("thread scope", threadRows, ["SharedLock before"]))
  console.log()
  console.log(table("process scope", processRows, ["manager lock before"]))
  if (clusterRows.length > 0) {
    console.log()
    console.log(table("cluster scope", clusterRows, ["cluster lock before"]))
  } else console.log(`\ncluster rows skipped: ${(server as { reason?: string }).reason}`)
}

main().then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
