/**
 * The partition bound on the network-namespace test-bed (scripts/testbed.sh):
 * a holder runs in a namespace of its own and reaches a throwaway PostgreSQL
 * on the test-bed's back link; the test takes that link down. Another client
 * (in the root namespace, over the server's Unix socket) must then get the
 * lock, the permits and the queue item within the bound (10 s by default,
 * + slack for a loaded machine), and the cut-off holder must have been told
 * first (`LockLostError`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import postgres from "postgres"
import { Cluster } from "../src/index.ts"
import { parseUrl } from "../src/internal/pg.ts"
import { childIn } from "./fixtures/children.ts"
import { findBin, startServer } from "@weft/testkit/postgres"
import { testbed, unavailable } from "@weft/testkit/testbed"
import { unique } from "./helpers.ts"

const noBed = unavailable()
const noServer = findBin("initdb") === undefined || findBin("pg_ctl") === undefined
  ? "initdb/pg_ctl not found (install Debian's postgresql)"
  : undefined
const reason = noBed ?? noServer
if (reason !== undefined) console.warn(`\n*** @weft/cluster partition tests SKIPPED: ${reason} ***\n`)
const skipped = reason === undefined ? "" : ` (skipped: ${reason})`

/** The bound under test: the default. */
const BOUND = 10_000
/** Room for a loaded 2-core machine. */
const SLACK = 5_000

describe(`Cluster under a partition (network namespaces)${skipped}`, () => {
  it.live.skipIf(reason !== undefined)("a holder cut off from the database: it is told (LockLostError) first, then within the bound the server lets go of its lock, permits and queue item; its fencing token is refused; once the link is back, it takes the lock again", () =>
    Effect.scoped(Effect.gen(function*() {
      const bed = yield* testbed(1)
      const machine = bed.machines[0]!
      const port = yield* bed.freePort
      const server = yield* Effect.acquireRelease(
        Effect.sync(() => startServer({ host: bed.gateway, port, clients: bed.backSubnet })),
        (s) => Effect.sync(() => s.stop?.())
      )
      if (server.url === undefined) return yield* Effect.die(new Error(server.reason))
      // The holder sends only to the gateway, through its own back link.
      yield* bed.route(bed.gateway, 1)
      const name = unique("partition")
      const holder = yield* childIn(machine.ns)([JSON.stringify({
        op: "partition-hold",
        url: `postgres://postgres@${bed.gateway}:${port}/postgres`,
        name,
        size: 2
      })])
      // The other client: the root namespace, over the Unix socket.
      const cluster = yield* Cluster.connect({ url: server.url })
      const queue = yield* cluster.queue<string>(`${name}-queue`)
      yield* queue.put("job")
      const [a1, a2] = (yield* holder.line("held", 90_000)).split(" ").slice(1, 3).map(Number) as [number, number]
      const lock = yield* cluster.lock(name)
      const second = yield* cluster.lock(`${name}-acquired`)
      const sem = yield* cluster.semaphore(`${name}-sem`, 2)
      assert.isFalse(yield* lock.tryAcquire)
      assert.isFalse(yield* sem.tryAcquire(1))
      assert.isNull(yield* Effect.flip(queue.getNowait).pipe(Effect.as(null)))

      // A store that keeps the largest token it has seen: the holder wrote with its token before the cut.
      const sql = yield* Effect.acquireRelease(
        Effect.sync(() => postgres({ ...parseUrl(server.url!).options, max: 1, onnotice: () => {} })),
        (s) => Effect.promise(() => s.end())
      )
      const write = (token: number) =>
        Effect.promise(() => sql.unsafe("UPDATE fenced SET fence = $1 WHERE fence < $1 RETURNING fence", [token]))
      yield* Effect.promise(() => sql.unsafe("CREATE TABLE fenced (fence int8 NOT NULL)"))
      yield* Effect.promise(() => sql.unsafe("INSERT INTO fenced VALUES (0)"))
      assert.strictEqual((yield* write(a1)).length, 1)

      const at = <A, E>(effect: Effect.Effect<A, E>) => Effect.map(effect, (a) => [Date.now(), a] as const)
      const lostLock = yield* Effect.forkChild(at(holder.line("lost lock", 60_000)), { startImmediately: true })
      const lostPermits = yield* Effect.forkChild(at(holder.line("lost permits", 60_000)), { startImmediately: true })
      const gotLock = yield* Effect.forkChild(at(lock.acquire), { startImmediately: true })
      const gotSecond = yield* Effect.forkChild(at(second.acquire), { startImmediately: true })
      const gotPermits = yield* Effect.forkChild(at(sem.acquire(2)), { startImmediately: true })
      const gotItem = yield* Effect.forkChild(at(queue.getFor("60 seconds")), { startImmediately: true })

      const cut = Date.now()
      yield* bed.cut(1)
      const [lockLostAt, lockLine] = yield* Fiber.join(lostLock)
      const [permitsLostAt, permitsLine] = yield* Fiber.join(lostPermits)
      const [lockAt] = yield* Fiber.join(gotLock)
      const [secondAt] = yield* Fiber.join(gotSecond)
      const [permitsAt] = yield* Fiber.join(gotPermits)
      const [itemAt, item] = yield* Fiber.join(gotItem)
      const figures = {
        "holder told (lock)": lockLostAt - cut,
        "holder told (permits)": permitsLostAt - cut,
        "other client granted the lock": lockAt - cut,
        "other client granted the second lock": secondAt - cut,
        "other client granted the permits": permitsAt - cut,
        "other client got the item": itemAt - cut
      }
      console.log(`partition timings, ms after the cut (bound ${BOUND} ms): ${JSON.stringify(figures)}`)

      assert.strictEqual(lockLine, "lost lock LockLostError")
      assert.strictEqual(permitsLine, "lost permits LockLostError")
      // Told before anyone else could act...
      assert.isBelow(lockLostAt, lockAt)
      assert.isBelow(permitsLostAt, permitsAt)
      // ...and the server let go within the bound (+ slack).
      for (const t of [lockAt, secondAt, permitsAt, itemAt]) assert.isAtMost(t - cut, BOUND + SLACK)
      assert.strictEqual(item, "job")

      // Fencing: the new holder's token is larger; once it wrote, the old token is refused.
      const b1 = yield* lock.fencingToken
      assert.isAbove(b1, a1)
      assert.isAbove(yield* second.fencingToken, a2)
      assert.strictEqual((yield* write(b1)).length, 1)
      assert.strictEqual((yield* write(a1)).length, 0, "the cut-off holder's token is refused")
      // And the holder itself: its token, release and taskDone die with LockLostError, without the network.
      yield* holder.send("check")
      assert.strictEqual(yield* holder.line("token", 10_000), "token LockLostError")
      assert.strictEqual(yield* holder.line("release", 10_000), "release LockLostError")
      assert.strictEqual(yield* holder.line("taskDone", 10_000), "taskDone LockLostError")
      yield* queue.taskDone
      yield* lock.release
      yield* second.release
      yield* sem.release(2)

      // The link comes back: the cut-off process takes the lock again, with a larger token.
      yield* bed.heal(1)
      const healed = Date.now()
      yield* holder.send("again")
      const again = yield* holder.line("again", 40_000)
      console.log(`after the heal: "${again}" in ${Date.now() - healed} ms`)
      assert.isAbove(Number(again.split(" ")[1]), b1)
    })), 180_000)
})
