/**
 * Cluster scope (`@weft/cluster`, on PostgreSQL), one run, cases interleaved
 * round by round (in reverse order every other round), medians of the rounds:
 *
 * 1. 4 processes x 500 read-modify-writes of one JSON file under a lock:
 *    the cluster lock beside the `Manager` lock and `FileLock`, and the limit
 *    row: a raw `pg_advisory_lock` / `pg_advisory_unlock` loop on one
 *    connection per process (target: cluster lock >= 0.8x of it). Each row
 *    also gives the longest single wait for the lock. Every round checks the
 *    final count (2,000).
 * 2. Queue throughput: 2 producer and 2 consumer processes moving 2 x 1,000
 *    items through `cluster.queue` (`put`; `get` + `taskDone`, durable until
 *    done) beside the raw `SKIP LOCKED` loop (`INSERT`; `DELETE ... SKIP
 *    LOCKED` retried at once when empty).
 *
 * The lock rows also give each case's median paired ratio: each round's
 * figure over the raw loop's in the same round (load drifts between rounds;
 * a pair run together cancels it). `WARMUP=n` has every lock contender run n
 * lock cycles before the race (JIT-compiled code and warm connections, as in
 * a long-running service); the default 0 races fresh processes.
 *
 * The server is a throwaway one (initdb in a temp dir, Unix socket only,
 * fsync off), or `WEFT_PG_URL`. Process start-up is not measured: the clock
 * runs from "go" (all processes ready) to the last "done".
 *
 *   node_modules/.bin/node bench/src/cluster/main.ts
 */
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Scope } from "effect"
import { Manager } from "@weft/primitives"
import { startServer } from "@weft/testkit/postgres"
import { launch, race, rmwRound, WARMUP } from "../contender.ts"
import { median, runtime, table, type Row } from "../harness.ts"

const PROCESSES = Number(process.env.PROCESSES ?? 4)
const OPS = Number(process.env.OPS ?? 500)
const ITEMS = Number(process.env.ITEMS ?? 1000)
const ROUNDS = Number(process.env.ROUNDS ?? 7)
/** `LOCKS=cluster,manager`: only these lock cases beside the raw loop; `QUEUE=0`: no queue rows. */
const LOCKS = process.env.LOCKS?.split(",")
const QUEUE = process.env.QUEUE !== "0"
const rmwWorker = fileURLToPath(new URL("./rmw.ts", import.meta.url))
const queueWorker = fileURLToPath(new URL("./queue.ts", import.meta.url))

const rmwCase = (kind: string, target: (dir: string) => string) => rmwRound(rmwWorker, kind, target, { processes: PROCESSES, ops: OPS, label: "cluster" })

let queueRun = 0
const queueRound = async (kind: string, url: string) => {
  const name = `bench-q-${process.pid}-${queueRun++}`
  const procs = [
    ...[1, 2].map(() => launch(queueWorker, [kind, "produce", url, name, String(ITEMS)])),
    ...[1, 2].map(() => launch(queueWorker, [kind, "consume", url, name, String(ITEMS)]))
  ]
  const { seconds } = await race(procs)
  return (2 * ITEMS) / seconds
}

const main = async () => {
  const server = process.env.WEFT_PG_URL
    ? { url: process.env.WEFT_PG_URL, stop: () => {} }
    : startServer()
  if (server.url === undefined) throw new Error(server.reason)
  const url = server.url
  const scope = Effect.runSync(Scope.make())
  try {
    const manager = await Effect.runPromise(Scope.provide(Manager.serve(), scope))
    const handle = JSON.stringify((await Effect.runPromise(manager.lock())).handle)
    const cases: ReadonlyArray<readonly [name: string, kind: string, target: (dir: string) => string]> = [
      ["raw pg_advisory_lock loop (limit)", "raw-advisory", () => url],
      ["the raw loop run from Effect (runtime cost alone)", "raw-effect", () => url],
      ["Weft cluster lock", "cluster", () => url],
      ["Weft Manager lock", "manager", () => handle],
      ["Weft FileLock", "filelock", (dir) => path.join(dir, "counter.json.lock")]
    ].filter(([, kind], i) => i === 0 || LOCKS === undefined || LOCKS.includes(kind)) as typeof cases
    const lockSamples = cases.map(() => ({ ops: [] as Array<number>, longest: [] as Array<number> }))
    const queueCases = [["raw SKIP LOCKED loop", "raw"], ["Weft cluster queue (put; get + taskDone)", "cluster"]] as const
    const queueSamples = queueCases.map(() => [] as Array<number>)
    await rmwCase("cluster", () => url) // warm-up: creates the schema, warms the server
    for (let r = 0; r < ROUNDS; r++) {
      // Every other round runs the cases in reverse, so that no case always
      // follows the same one (a round can feel the one before it).
      const order = cases.map((_, i) => (r % 2 === 0 ? i : cases.length - 1 - i))
      for (const i of order) {
        const result = await rmwCase(cases[i]![1], cases[i]![2])
        lockSamples[i]!.ops.push(result.opsPerSecond)
        lockSamples[i]!.longest.push(result.longest)
      }
      if (QUEUE) for (let i = 0; i < queueCases.length; i++) queueSamples[i]!.push(await queueRound(queueCases[i]![1], url))
    }
    // Each round's ratio to the raw loop run just before it: the machine's
    // load drifts between rounds, and a pair taken together cancels it.
    const paired = (i: number) => {
      const ratios = lockSamples[i]!.ops.map((ops, r) => ops / lockSamples[0]!.ops[r]!)
      return `paired ${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`
    }
    const lockRows: Array<Row> = cases.map(([name], i) => ({
      name,
      opsPerSecond: median(lockSamples[i]!.ops),
      extra: `${i === 0 ? "" : `${paired(i)}; `}longest wait ${Math.max(...lockSamples[i]!.longest).toFixed(1)} ms`
    }))
    const queueRows: Array<Row> = queueCases.map(([name], i) => ({ name, opsPerSecond: median(queueSamples[i]!) }))
    const warm = WARMUP > 0 ? `, each process warmed by ${WARMUP} lock cycles first` : ", fresh processes"
    console.log(`${PROCESSES} processes x ${OPS} JSON read-modify-writes${warm}, ${runtime()}, ${os.cpus().length} cores, median of ${ROUNDS} rounds\n`)
    console.log(table("lock", lockRows, ["raw pg_advisory_lock loop (limit)", ...(cases.some(([, kind]) => kind === "filelock") ? ["Weft FileLock"] : [])]))
    if (QUEUE) {
      console.log(`\nqueue: 2 producers x ${ITEMS} puts, 2 consumers x ${ITEMS} gets, items/s, median of ${ROUNDS} rounds\n`)
      console.log(table("queue", queueRows, ["raw SKIP LOCKED loop"]))
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    server.stop?.()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
