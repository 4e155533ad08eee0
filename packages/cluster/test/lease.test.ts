/**
 * The partition bound's client half, on the suite's server: a holder whose
 * connection stops answering (its backend SIGSTOPped: the server neither
 * answers nor lets go) is told, within the lease, with `LockLostError`; a
 * healthy holder whose body outlasts the lease is not. The network half
 * (the server letting go of a cut-off holder) is partition.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import postgres from "postgres"
import { Cluster } from "../src/index.ts"
import { parseUrl } from "../src/internal/pg.ts"
import { key, KeyKind, sessionKeySql } from "../src/internal/schema.ts"
import { connect, pg, skip, title, unique } from "./helpers.ts"

/** The smallest bound: lease 3 s, the client gives up by 3.3 s. */
const bound = "6 seconds"

const admin = Effect.acquireRelease(
  Effect.sync(() => postgres({ ...parseUrl(pg.url!).options, max: 1, onnotice: () => {} })),
  (sql) => Effect.promise(() => sql.end())
)

/** The backends holding the advisory `keys`, stopped (SIGSTOP) until the scope closes. */
const stopHolders = (sql: postgres.Sql, keys: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const pids: Array<number> = []
      for (const k of keys) {
        const rows = await sql.unsafe(
          `SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
             AND ((l.classid::int8 << 32) | l.objid::int8) = $1::int8`,
          [k]
        )
        assert.strictEqual(rows.length, 1, `one backend holds ${k}`)
        pids.push(rows[0]!.pid as number)
      }
      for (const pid of pids) process.kill(pid, "SIGSTOP")
      return pids
    }),
    // Continued in any case (one that exited meanwhile is gone: nothing to do).
    (pids) => Effect.sync(() => pids.forEach((pid) => resume(pid)))
  )

const resume = (pid: number) => {
  try {
    process.kill(pid, "SIGCONT")
  } catch {}
}

const idOf = (sql: postgres.Sql, name: string) =>
  Effect.promise(async () => (await sql.unsafe("SELECT id FROM weft.names WHERE name = $1", [name]))[0]!.id as number)

/** The `LockLostError` an exit died with, if any. */
const lockLost = (exit: Exit.Exit<unknown, unknown>): { readonly message: string } | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const die = exit.cause.reasons.find(Cause.isDieReason)
  const defect = die?.defect as { _tag?: string; message: string } | undefined
  return defect?._tag === "LockLostError" ? defect : undefined
}

// Signalling the server's backends needs root or the server's own user.
const canSignal = (() => {
  try {
    return process.getuid?.() === 0
  } catch {
    return false
  }
})()
const why = canSignal ? "" : " (skipped: needs root to SIGSTOP the server's backend)"
if (!skip && !canSignal) console.warn(`*** @weft/cluster lease tests${why} ***`)

describe(title("Cluster lease (the partition bound, client side)"), () => {
  it.live.skipIf(skip)("partitionTimeout: bad input is an InvalidArgumentError naming it", () =>
    Effect.gen(function*() {
      for (const bad of ["5 seconds", -1, 0, "soon", Infinity, "Infinity"] as Array<any>) {
        const error = yield* Effect.flip(Effect.scoped(Cluster.connect({ url: pg.url!, partitionTimeout: bad })))
        assert.strictEqual(error._tag, "InvalidArgumentError", String(bad))
        assert.include(error.message, "partitionTimeout")
      }
    }))

  it.live.skipIf(skip || !canSignal)(`a holder whose connection stops answering: its withLock body is interrupted with LockLostError within the lease; another gets the lock once the server lets go${why}`, () =>
    Effect.scoped(Effect.gen(function*() {
      const sql = yield* admin
      const [name, rname] = [unique("lock"), unique("rlock")]
      const handle = yield* connect({ partitionTimeout: bound })
      const a = yield* handle.lock(name)
      const r = yield* handle.rlock(rname)
      const b = yield* (yield* connect()).lock(name)
      const held = yield* Deferred.make<number>()
      const rheld = yield* Deferred.make<boolean>()
      const body = yield* Effect.forkChild(
        a.withLock(Effect.andThen(Effect.flatMap(a.fencingToken, (t) => Deferred.succeed(held, t)), Effect.never)),
        { startImmediately: true }
      )
      // An rlock's body, nested in itself: the outer body is guarded too.
      const rbody = yield* Effect.forkChild(
        r.withLock(r.withLock(Effect.andThen(Effect.flatMap(r.isOwned, (owned) => Deferred.succeed(rheld, owned)), Effect.never))),
        { startImmediately: true }
      )
      const token = yield* Deferred.await(held)
      assert.isTrue(yield* Deferred.await(rheld), "the nested body owns the rlock")
      const [id, rid] = [yield* idOf(sql, name), yield* idOf(sql, rname)]
      const [pid, rpid] = yield* stopHolders(sql, [key(KeyKind.lock, id), key(KeyKind.rlock, rid)])
      const stopped = Date.now()
      const exit = yield* Fiber.await(body).pipe(Effect.timeout("10 seconds"))
      const after = Date.now() - stopped
      const lost = lockLost(exit)
      assert.isDefined(lost, `the body ended with ${String(exit)}`)
      assert.include(lost!.message, `ClusterLock ${JSON.stringify(name)}`)
      const rexit = yield* Fiber.await(rbody).pipe(Effect.timeout("10 seconds"))
      assert.include(lockLost(rexit)?.message, `ClusterRLock ${JSON.stringify(rname)}`, `the rlock body ended with ${String(rexit)}`)
      resume(rpid!)
      // Lease 3 s from the last renewal (at most 0.75 s + a tick before the stop), checked every 0.3 s.
      assert.isAtMost(after, 3_300 + 2_000, "told within the lease (+ slack for a loaded machine)")
      assert.isAtLeast(after, 1_500)
      assert.isFalse(yield* b.tryAcquire, "the server still holds it for the stopped backend")
      // The client closed the connection; the server lets go once the backend runs again.
      resume(pid!)
      yield* b.acquire.pipe(Effect.timeout("10 seconds"))
      assert.isAbove(yield* b.fencingToken, token)
      yield* b.release
    })), 40_000)

  it.live.skipIf(skip || !canSignal)(`acquire/release, permits, queue items: once the lease is given up, fencingToken, release, the withPermits body and taskDone die with LockLostError; all come back to others${why}`, () =>
    Effect.scoped(Effect.gen(function*() {
      const sql = yield* admin
      const [lockName, semName, queueName] = [unique("lock"), unique("sem"), unique("queue")]
      const a = yield* connect({ partitionTimeout: bound })
      const b = yield* connect()
      const [la, sa, qa] = [yield* a.lock(lockName), yield* a.semaphore(semName, 1), yield* a.queue<string>(queueName)]
      const [lb, sb, qb] = [yield* b.lock(lockName), yield* b.semaphore(semName, 1), yield* b.queue<string>(queueName)]
      yield* la.acquire
      const token = yield* la.fencingToken
      const permitted = yield* Deferred.make<void>()
      const permits = yield* Effect.forkChild(sa.withPermits(1)(Effect.andThen(Deferred.succeed(permitted, undefined), Effect.never)), {
        startImmediately: true
      })
      yield* Deferred.await(permitted)
      yield* qa.put("job")
      assert.strictEqual(yield* qa.get, "job")
      const [lockId, semId] = [yield* idOf(sql, lockName), yield* idOf(sql, semName)]
      const queueId = yield* idOf(sql, queueName)
      const pids = yield* stopHolders(sql, [
        key(KeyKind.lock, lockId),
        key(KeyKind.semaphoreSlot, semId, 0),
        // the session that took the item holds its liveness lock
        (yield* Effect.promise(() =>
          sql.unsafe(`SELECT ${sessionKeySql("taker")}::text AS k FROM weft.items WHERE queue_id = $1`, [queueId])
        ))[0]!.k as string
      ])
      // Told without a round trip: the fencing token read from the cache dies once the lease is given up.
      const deadline = Date.now() + 10_000
      while (Exit.isSuccess(yield* Effect.exit(la.fencingToken)) && Date.now() < deadline) yield* Effect.sleep("50 millis")
      assert.isDefined(lockLost(yield* Effect.exit(la.fencingToken)), "fencingToken refused")
      assert.isDefined(lockLost(yield* Effect.exit(la.release)), "release refused")
      const permitsExit = yield* Fiber.await(permits).pipe(Effect.timeout("10 seconds"))
      assert.isDefined(lockLost(permitsExit), `the withPermits body ended with ${String(permitsExit)}`)
      yield* Effect.sleep("1 second") // the session's lease: renewed at once after the get, so given up a little later at most
      const done = yield* Effect.exit(qa.taskDone)
      assert.isDefined(lockLost(done), `taskDone ended with ${String(done)}`)
      for (const pid of pids) resume(pid)
      yield* lb.acquire.pipe(Effect.timeout("10 seconds"))
      assert.isAbove(yield* lb.fencingToken, token)
      yield* lb.release
      yield* sb.acquire(1).pipe(Effect.timeout("10 seconds"))
      yield* sb.release(1)
      assert.strictEqual(yield* qb.getFor("10 seconds"), "job")
      yield* qb.taskDone
    })), 60_000)

  it.live.skipIf(skip)("a healthy holder whose body outlasts the lease is not interrupted: the lease is renewed", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect({ partitionTimeout: bound })
      const lock = yield* a.lock(unique("lock"))
      const rlock = yield* a.rlock(unique("rlock"))
      const sem = yield* a.semaphore(unique("sem"), 2)
      const queue = yield* a.queue<number>(unique("queue"))
      yield* queue.put(1)
      assert.strictEqual(yield* queue.get, 1)
      // 4.5 s: longer than the 3-second lease, and longer than its renewals' period many times over.
      const slow = Effect.andThen(Effect.sleep("4500 millis"), lock.fencingToken)
      const [token, , owned] = yield* Effect.all([
        lock.withLock(slow),
        sem.withPermits(2)(Effect.sleep("4500 millis")),
        rlock.withLock(Effect.andThen(Effect.sleep("4500 millis"), rlock.withLock(rlock.isOwned)))
      ], { concurrency: "unbounded" })
      assert.isAbove(token, 0)
      assert.isTrue(owned)
      yield* queue.taskDone
      assert.isTrue(yield* lock.tryAcquire)
      yield* lock.release
    })), 30_000)
})
