/**
 * One contender of the cluster bench: `rmw.ts <kind> <target> <json file> <n>`
 * with kind `cluster` (target: the database URL), `raw-advisory` (URL),
 * `manager` (a manager lock handle) or `filelock` (a lock file path). Prints
 * "ready", waits for "go" on stdin, does n read-modify-writes of `{ count }`
 * under the lock, and prints "done <longest wait for the lock, ms>".
 */
import * as fs from "node:fs"
import * as readline from "node:readline"
import { Effect, Scope } from "effect"
import postgres from "postgres"
import { FileLock, type Lock, Manager } from "@weft/primitives"
import { Cluster } from "../../../packages/cluster/src/index.ts"
import { parseUrl } from "../../../packages/cluster/src/internal/pg.ts"

const [kind, target, file, n] = process.argv.slice(2)
const ops = Number(n)
const LOCK_NAME = "bench-rmw"

const go = () =>
  new Promise<void>((resolve) => {
    const rl = readline.createInterface({ input: process.stdin })
    rl.on("line", (line) => {
      if (line.trim() === "go") {
        rl.close()
        resolve()
      }
    })
  })

const rmw = () => {
  const value = JSON.parse(fs.readFileSync(file!, "utf8")) as { count: number }
  fs.writeFileSync(file!, JSON.stringify({ count: value.count + 1 }))
}

let longest = 0

const weft = async (make: Effect.Effect<Lock.Lock, unknown, Scope.Scope>) => {
  const scope = Effect.runSync(Scope.make())
  const lock = await Effect.runPromise(Scope.provide(make, scope))
  process.stdout.write("ready\n")
  await go()
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < ops; i++) {
      const start = performance.now()
      yield* lock.withLock(Effect.sync(() => {
        longest = Math.max(longest, performance.now() - start)
        rmw()
      }))
    }
  }))
}

/** The limit: a bare `pg_advisory_lock` / `pg_advisory_unlock` loop on one connection. */
const raw = async () => {
  const sql = postgres({ ...parseUrl(target!).options, max: 1, onnotice: () => {} })
  await sql`SELECT 1`
  process.stdout.write("ready\n")
  await go()
  for (let i = 0; i < ops; i++) {
    const start = performance.now()
    await sql`SELECT pg_advisory_lock(4242)`
    longest = Math.max(longest, performance.now() - start)
    rmw()
    await sql`SELECT pg_advisory_unlock(4242)`
  }
  await sql.end()
}

const main = kind === "cluster"
  ? weft(Effect.flatMap(Cluster.connect({ url: target! }), (c) => c.lock(LOCK_NAME)))
  : kind === "raw-advisory"
  ? raw()
  : kind === "manager"
  ? weft(Manager.attach(JSON.parse(target!) as Manager.Handle<"lock">))
  : weft(FileLock.make(target!))

main.then(
  () => {
    process.stdout.write(`done ${longest.toFixed(2)}\n`)
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`${error}\n`)
    process.exit(1)
  }
)
