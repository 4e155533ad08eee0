/**
 * Process scope: 4 processes x 500 read-modify-writes of one JSON file under
 * a lock — Weft's `Manager` lock and `FileLock` against `proper-lockfile`
 * (given the same backoff as FileLock: 1 ms, x1.5, capped at 25 ms, jittered).
 *
 * Each round spawns 4 fresh contenders per case; the clock starts when all are
 * ready and told "go", and stops when the last one is done (process start-up
 * is not measured). Cases are interleaved round by round; the figure is the
 * median round. Every round checks the final count (2,000): a lock that lets
 * an update through would be reported, not timed.
 *
 *   node_modules/.bin/node bench/src/process/main.ts
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Scope } from "effect"
import { Manager } from "@weft/primitives"
import { rmwRound } from "../contender.ts"
import { median, runtime, table, type Row } from "../harness.ts"

const PROCESSES = Number(process.env.PROCESSES ?? 4)
const OPS = Number(process.env.OPS ?? 500)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const worker = fileURLToPath(new URL("./rmw.ts", import.meta.url))

/** One round of one case: ops/s and the longest single wait of any contender. */
const round = (kind: string, target: (dir: string) => string) => rmwRound(worker, kind, target, { processes: PROCESSES, ops: OPS, label: "process" })

const main = async () => {
  const scope = Effect.runSync(Scope.make())
  const manager = await Effect.runPromise(Scope.provide(Manager.serve(), scope))
  const lock = await Effect.runPromise(manager.lock())
  const handle = JSON.stringify(lock.handle)
  const cases: ReadonlyArray<readonly [name: string, kind: string, target: (dir: string) => string]> = [
    // proper-lockfile locks an existing file; its lock is a `<file>.lock` directory.
    ["proper-lockfile", "proper-lockfile", (dir) => {
      const file = path.join(dir, "guarded")
      if (!fs.existsSync(file)) fs.writeFileSync(file, "")
      return file
    }],
    ["Weft FileLock", "weft-filelock", (dir) => path.join(dir, "counter.json.lock")],
    ["Weft Manager lock", "weft-manager", () => handle]
  ]
  const only = process.env.CASES?.split(",")
  const chosen = only === undefined ? cases : cases.filter(([, kind]) => only.includes(kind))
  const samples = cases.map(() => ({ ops: [] as Array<number>, longest: [] as Array<number> }))
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < cases.length; i++) {
        const [, kind, target] = cases[i]!
        if (!chosen.includes(cases[i]!)) continue
        const result = await round(kind, target)
        samples[i]!.ops.push(result.opsPerSecond)
        samples[i]!.longest.push(result.longest)
      }
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  const rows: Array<Row> = cases.flatMap(([name], i) => samples[i]!.ops.length === 0 ? [] : [{
    name,
    opsPerSecond: median(samples[i]!.ops),
    extra: `longest wait ${Math.max(...samples[i]!.longest).toFixed(1)} ms`
  }])
  console.log(`${PROCESSES} processes x ${OPS} JSON read-modify-writes, ${runtime()}, ${os.cpus().length} cores, median of ${ROUNDS} rounds\n`)
  console.log(table("lock", rows, ["proper-lockfile", "Weft FileLock"].filter((a) => rows.some((r) => r.name === a))))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
