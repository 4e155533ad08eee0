/**
 * One contender of the cluster bench: `rmw.ts <kind> <target> <json file> <n>`
 * with kind `cluster` (target: the database URL), `raw-advisory` (URL),
 * `raw-effect` (URL: the raw loop run from Effect),
 * `manager` (a manager lock handle) or `filelock` (a lock file path). Prints
 * "ready", waits for "go" on stdin, does n read-modify-writes of `{ count }`
 * under the lock, and prints "done <longest wait for the lock, ms>".
 */
import { Effect, Scope } from "effect"
import postgres from "postgres"
import { FileLock, type Lock, Manager } from "@weft/primitives"
import { Cluster } from "../../../packages/cluster/src/index.ts"
import { parseUrl } from "../../../packages/cluster/src/internal/pg.ts"
import { finish, ready, rmw, timeWait, WARMUP, weftRmw } from "../contender.ts"

const [kind, target, file, n] = process.argv.slice(2)
const ops = Number(n)
const LOCK_NAME = "bench-rmw"

// The scope stays open until the process exits: the lock's connections live as long as the contender.
const weft = async (make: Effect.Effect<Lock.Lock, unknown, Scope.Scope>) => {
  const scope = Effect.runSync(Scope.make())
  await weftRmw(await Effect.runPromise(Scope.provide(make, scope)), file!, ops)
}

/** The limit: a bare `pg_advisory_lock` / `pg_advisory_unlock` loop on one connection. */
const raw = async () => {
  const sql = postgres({ ...parseUrl(target!).options, max: 1, onnotice: () => {} })
  await sql`SELECT 1`
  for (let i = 0; i < WARMUP; i++) {
    await sql`SELECT pg_advisory_lock(4242)`
    await sql`SELECT pg_advisory_unlock(4242)`
  }
  await ready()
  for (let i = 0; i < ops; i++) {
    const held = timeWait()
    await sql`SELECT pg_advisory_lock(4242)`
    held()
    rmw(file!)
    await sql`SELECT pg_advisory_unlock(4242)`
  }
  await sql.end()
}

/**
 * The same bare loop run from Effect (each statement an `Effect.promise` in
 * an `Effect.gen` loop): what the runtime alone costs, with no lock logic, so
 * the cluster lock's row can be read against both.
 */
const rawEffect = async () => {
  const sql = postgres({ ...parseUrl(target!).options, max: 1, onnotice: () => {} })
  await sql`SELECT 1`
  const cycle = (body: () => void) =>
    Effect.promise(() => sql`SELECT pg_advisory_lock(4242)`).pipe(
      Effect.andThen(Effect.sync(body)),
      Effect.andThen(Effect.promise(() => sql`SELECT pg_advisory_unlock(4242)`))
    )
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < WARMUP; i++) yield* cycle(() => {})
  }))
  await ready()
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < ops; i++) {
      const held = timeWait()
      yield* cycle(() => {
        held()
        rmw(file!)
      })
    }
  }))
  await sql.end()
}

finish(
  kind === "raw-effect"
    ? rawEffect()
    : kind === "cluster"
    ? weft(Effect.flatMap(Cluster.connect({ url: target! }), (c) => c.lock(LOCK_NAME)))
    : kind === "raw-advisory"
    ? raw()
    : kind === "manager"
    ? weft(Manager.attach(JSON.parse(target!) as Manager.Handle<"lock">))
    : weft(FileLock.make(target!))
)
