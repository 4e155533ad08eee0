/**
 * One process of the cluster queue bench: `queue.ts <cluster|raw> <produce|consume> <url> <queue> <n>`.
 * Prints "ready", waits for "go", then puts n items (produce) or gets n items
 * and marks each done (consume), and prints "done".
 *
 * - cluster: `cluster.queue(name)`: `put`, and `get` + `taskDone` (the item
 *   is durable until `taskDone`).
 * - raw: the classic loop on one table: `INSERT`, and `DELETE ... WHERE id =
 *   (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)`, retried at once when it
 *   finds nothing (it polls; the cluster queue's getter sleeps on NOTIFY).
 */
import { Effect, Scope } from "effect"
import postgres from "postgres"
import { Cluster } from "../../../packages/cluster/src/index.ts"
import { parseUrl } from "../../../packages/cluster/src/internal/pg.ts"
import { finish, ready } from "../contender.ts"

const [kind, role, url, name, n] = process.argv.slice(2)
const count = Number(n)

const cluster = async () => {
  const scope = Effect.runSync(Scope.make())
  const queue = await Effect.runPromise(
    Scope.provide(Effect.flatMap(Cluster.connect({ url: url! }), (c) => c.queue<{ i: number }>(name!)), scope)
  )
  await ready()
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < count; i++) {
      if (role === "produce") yield* queue.put({ i })
      else {
        yield* queue.get
        yield* queue.taskDone
      }
    }
  }))
}

const raw = async () => {
  const sql = postgres({ ...parseUrl(url!).options, max: 1, onnotice: () => {} })
  const table = `bench_raw_${name!.replace(/[^a-z0-9_]/gi, "_")}`
  await sql.unsafe(`CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, item text NOT NULL)`).catch(() => {})
  await ready()
  for (let i = 0; i < count;) {
    if (role === "produce") {
      await sql.unsafe(`INSERT INTO ${table} (item) VALUES ($1)`, [JSON.stringify({ i })])
      i++
    } else {
      const rows = await sql.unsafe(
        `DELETE FROM ${table} WHERE id = (SELECT id FROM ${table} ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING item`
      )
      if (rows.length === 1) i++
    }
  }
  await sql.end()
}

finish(kind === "cluster" ? cluster() : raw(), () => "")
