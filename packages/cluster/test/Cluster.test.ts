import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Fiber, Option } from "effect"
import type { DeadlockError } from "@weft/primitives/errors"
import type { Queue } from "@weft/primitives"
import { hostname } from "node:os"
import * as Registry from "@weft/primitives/Registry"
import { Cluster } from "../src/index.ts"
import { connect, defectTag, eventually, lockWaiters, skip, title, unique } from "./helpers.ts"

describe(title("Cluster: one process, two handles"), () => {
  it.live.skipIf(skip)("lock: mutual exclusion between handles, tryAcquire, release errors, fencing tokens grow", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const name = unique("lock")
      const la = yield* a.lock(name)
      const lb = yield* b.lock(name)
      assert.isFalse(yield* la.locked)
      yield* la.acquire
      const t1 = yield* la.fencingToken
      assert.strictEqual(yield* la.fencingToken, t1, "one token per hold")
      assert.isTrue(yield* lb.locked)
      assert.isFalse(yield* lb.tryAcquire)
      assert.isFalse(yield* lb.acquireFor("100 millis"))
      assert.strictEqual((yield* Effect.flip(lb.release))._tag, "NotHeldError")
      const waiter = yield* Effect.forkChild(lb.acquire, { startImmediately: true })
      yield* Effect.sleep("100 millis")
      assert.isUndefined(waiter.pollUnsafe())
      yield* la.release
      yield* Fiber.join(waiter)
      const t2 = yield* lb.fencingToken
      assert.isAbove(t2, t1)
      assert.strictEqual((yield* Effect.flip(la.fencingToken))._tag, "NotHeldError")
      yield* lb.release
      assert.isFalse(yield* la.locked)
      assert.isTrue(yield* la.tryAcquire)
      assert.isAbove(yield* la.fencingToken, t2)
      yield* la.release
    })))
})

describe(title("Cluster lock: fibers of one process"), () => {
  it.live.skipIf(skip)("a withLock body that releases early: its end does not release the hold another fiber took since", () =>
    Effect.scoped(Effect.gen(function*() {
      const lock = yield* (yield* connect()).lock(unique("lock"))
      const bodyMayEnd = yield* Deferred.make<void>()
      const first = yield* Effect.forkChild(
        lock.withLock(Effect.andThen(lock.release, Deferred.await(bodyMayEnd))),
        { startImmediately: true }
      )
      yield* eventually(Effect.map(lock.locked, (locked) => !locked))
      yield* lock.acquire // another fiber's hold, taken while the first body still runs
      yield* Deferred.succeed(bodyMayEnd, undefined)
      yield* Fiber.join(first)
      assert.isTrue(yield* lock.locked, "the first body's end released the second fiber's hold")
      yield* lock.release
      assert.isFalse(yield* lock.locked)
    })))

  it.live.skipIf(skip)("a fiber that times out or is interrupted while queued in its process leaves no turn taken", () =>
    Effect.scoped(Effect.gen(function*() {
      const lock = yield* (yield* connect()).lock(unique("lock"))
      yield* lock.acquire
      assert.isFalse(yield* lock.acquireFor("50 millis"))
      const queued = yield* Effect.forkChild(lock.withLock(Effect.void), { startImmediately: true })
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(queued)
      yield* lock.release
      // Had either left the process's turn taken, this would wait forever.
      assert.isTrue(yield* lock.withLock(Effect.succeed(true)).pipe(Effect.timeout("5 seconds")))
      assert.isFalse(yield* lock.locked)
    })))
})

describe(title("Cluster primitives"), () => {
  it.live.skipIf(skip)("rlock: owner nests, another fiber waits, a non-owner release fails NotOwnerError", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const name = unique("rlock")
      const r = yield* a.rlock(name)
      yield* r.acquire
      yield* r.acquire
      assert.isTrue(yield* r.isOwned)
      const other = yield* Effect.flip(Effect.forkChild(r.release).pipe(Effect.flatMap(Fiber.join)))
      assert.strictEqual(other._tag, "NotOwnerError")
      const waiter = yield* Effect.forkChild(r.withLock(r.isOwned), { startImmediately: true })
      yield* r.release
      yield* Effect.sleep("50 millis")
      assert.isUndefined(waiter.pollUnsafe())
      yield* r.release
      assert.isTrue(yield* Fiber.join(waiter))
      assert.strictEqual((yield* Effect.flip(r.release))._tag, "NotHeldError")
    })))

  it.live.skipIf(skip)("semaphore: permits across handles, tryAcquire, acquireFor, overflow, available", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const name = unique("sem")
      const sa = yield* a.semaphore(name, 2)
      const sb = yield* b.semaphore(name, 2)
      yield* sa.acquire(1)
      yield* sb.acquire(1)
      assert.strictEqual(yield* sa.available, 0)
      assert.isFalse(yield* sb.tryAcquire())
      assert.isFalse(yield* sb.acquireFor("100 millis"))
      const waiter = yield* Effect.forkChild(sb.acquire(1), { startImmediately: true })
      yield* Effect.sleep("100 millis")
      assert.isUndefined(waiter.pollUnsafe())
      yield* sa.release(1)
      yield* Fiber.join(waiter)
      assert.strictEqual(yield* sa.available, 0)
      assert.strictEqual((yield* Effect.flip(sa.release(1)))._tag, "SemaphoreOverflowError")
      yield* sb.release(2)
      assert.strictEqual(yield* sa.available, 2)
      yield* sa.acquire(2)
      assert.isFalse(yield* sb.tryAcquire(1))
      yield* sa.release(2)
      assert.strictEqual(yield* sb.withPermits(2)(sb.available), 0)
      assert.strictEqual((yield* Effect.flip(sa.acquire(3)))._tag, "InvalidArgumentError")
    })))

  it.live.skipIf(skip)("event: set wakes waiters in other handles; clear; waitFor times out", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const name = unique("event")
      const ea = yield* a.event(name)
      const eb = yield* b.event(name)
      assert.isFalse(yield* eb.waitFor("100 millis"))
      const waiters = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(eb.wait, { startImmediately: true }))
      yield* Effect.sleep("100 millis")
      assert.isTrue(waiters.every((w) => w.pollUnsafe() === undefined))
      yield* ea.set
      yield* Effect.forEach(waiters, Fiber.join)
      assert.isTrue(yield* eb.isSet)
      assert.isTrue(yield* eb.waitFor(0))
      yield* eb.clear
      assert.isFalse(yield* ea.isSet)
    })))

  it.live.skipIf(skip)("barrier: arrival indexes, next round, timeout breaks it for everyone, reset mends it", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const name = unique("barrier")
      const ba = yield* a.barrier(name, 3)
      const bb = yield* b.barrier(name, 3)
      for (let round = 0; round < 2; round++) {
        const indexes = yield* Effect.all([ba.wait, bb.wait, ba.wait], { concurrency: "unbounded" })
        assert.deepStrictEqual([...indexes].sort(), [0, 1, 2])
      }
      const waiting = yield* Effect.forkChild(Effect.flip(bb.wait), { startImmediately: true })
      yield* eventually(Effect.map(ba.waiting, (n) => n === 1))
      const timedOut = yield* Effect.flip(ba.waitFor("100 millis"))
      assert.strictEqual(timedOut._tag === "BrokenBarrierError" && timedOut.reason, "timeout")
      assert.strictEqual((yield* Fiber.join(waiting)).reason, "timeout")
      assert.isTrue(yield* bb.broken)
      assert.strictEqual((yield* Effect.flip(bb.wait))._tag, "BrokenBarrierError")
      yield* ba.reset
      assert.isFalse(yield* bb.broken)
      const aborted = yield* Effect.forkChild(Effect.flip(bb.wait), { startImmediately: true })
      yield* eventually(Effect.map(ba.waiting, (n) => n === 1))
      yield* ba.abort
      assert.strictEqual((yield* Fiber.join(aborted)).reason, "aborted")
      yield* ba.reset
    })))

  it.live.skipIf(skip)("queue: FIFO across handles, getNowait/putNowait errors, taskDone and join, shutdown", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const name = unique("queue")
      const qa = yield* a.queue<{ n: number }>(name, 3)
      const qb = yield* b.queue<{ n: number }>(name, 3)
      assert.strictEqual((yield* Effect.flip(qb.getNowait))._tag, "QueueEmptyError")
      for (let n = 0; n < 3; n++) yield* qa.put({ n })
      assert.isTrue(yield* qb.isFull)
      assert.strictEqual((yield* Effect.flip(qa.putNowait({ n: 9 })))._tag, "QueueFullError")
      assert.strictEqual((yield* Effect.flip(qa.putFor({ n: 9 }, "100 millis")))._tag, "QueueFullError")
      const blockedPut = yield* Effect.forkChild(qa.put({ n: 3 }), { startImmediately: true })
      assert.deepStrictEqual(yield* qb.get, { n: 0 })
      yield* Fiber.join(blockedPut)
      assert.deepStrictEqual([yield* qb.get, yield* qb.get, yield* qb.get], [{ n: 1 }, { n: 2 }, { n: 3 }])
      assert.strictEqual(yield* qa.size, 0)
      const joined = yield* Effect.forkChild(qa.join, { startImmediately: true })
      yield* Effect.sleep("100 millis")
      assert.isUndefined(joined.pollUnsafe())
      for (let i = 0; i < 4; i++) yield* qb.taskDone
      yield* Fiber.join(joined)
      assert.strictEqual((yield* Effect.flip(qb.taskDone))._tag, "TaskDoneError")
      const getter = yield* Effect.forkChild(Effect.flip(qa.get), { startImmediately: true })
      yield* Effect.sleep("100 millis")
      yield* qb.shutdown()
      assert.strictEqual((yield* Fiber.join(getter))._tag, "QueueShutDownError")
      assert.strictEqual((yield* Effect.flip(qa.put({ n: 5 })))._tag, "QueueShutDownError")
      assert.strictEqual((yield* Effect.flip(qa.getFor("10 millis")))._tag, "QueueShutDownError")
    })))

  it.live.skipIf(skip)("queue: an item got and not marked done goes back, in its place, when its handle closes", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const name = unique("queue")
      const q = yield* a.queue<string>(name)
      yield* q.put("first")
      yield* q.put("second")
      yield* Effect.scoped(Effect.gen(function*() {
        const b = yield* connect()
        const qb = yield* b.queue<string>(name)
        assert.strictEqual(yield* qb.get, "first")
      }))
      assert.deepStrictEqual([yield* q.get, yield* q.get], ["first", "second"])
    })))

  it.live.skipIf(skip)("queue: a waiting getter wakes at once when the holder of an item goes away", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const name = unique("queue")
      const q = yield* a.queue<string>(name)
      yield* q.put("only")
      const holderScope = yield* Effect.scope
      void holderScope
      const b = yield* Effect.scoped(Effect.gen(function*() {
        const b = yield* connect()
        const qb = yield* b.queue<string>(name)
        assert.strictEqual(yield* qb.get, "only")
        const waiter = yield* Effect.forkDetach(q.get)
        yield* Effect.sleep("200 millis")
        assert.isUndefined(waiter.pollUnsafe())
        return waiter
      }))
      // b's scope closed: its session ended, the item is free again.
      assert.strictEqual(yield* Fiber.join(b).pipe(Effect.timeout("5 seconds")), "only")
    })))

  it.live.skipIf(skip)("pubsub: every subscriber gets every message after it subscribed, in publish order", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const name = unique("pubsub")
      const pa = yield* a.pubsub<{ n: number }>(name)
      const pb = yield* b.pubsub<{ n: number }>(name)
      const raw = yield* a.pubsub<string>(name)
      yield* pa.publish({ n: -1 })
      const s1 = yield* pb.subscribe
      const s2 = yield* pa.subscribe
      for (let n = 0; n < 20; n++) yield* (n % 2 ? pa : pb).publish({ n })
      const expected = Array.from({ length: 20 }, (_, n) => ({ n }))
      const got1: Array<{ n: number }> = []
      while (got1.length < 20) got1.push(yield* s1.take)
      assert.deepStrictEqual(got1, expected)
      yield* eventually(Effect.succeed(true))
      const got2: Array<{ n: number }> = []
      while (got2.length < 20) got2.push(...(Option.toArray(yield* s2.takeFor("5 seconds"))))
      assert.deepStrictEqual(got2, expected)
      assert.deepStrictEqual(yield* s1.takeAll, [])
      assert.isTrue(Option.isNone(yield* s1.takeFor("50 millis")))
      // Larger than one NOTIFY payload: it still arrives whole (more in pubsub.test.ts).
      const big = "x".repeat(9000)
      yield* raw.publish(big)
      assert.strictEqual(Option.getOrThrow(yield* s1.takeFor("5 seconds")) as unknown, big)
      // Not JSON: a tagged error that says so.
      assert.strictEqual(defectTag(yield* Effect.exit(raw.publish(10n as unknown as string))), "InvalidArgumentError")
    })))

  it.live.skipIf(skip)("names: a name is one kind with one setting; a clash is a tagged error; bad arguments are named", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const name = unique("name")
      yield* a.lock(name)
      const clash = yield* Effect.flip(a.queue(name))
      assert.strictEqual(clash._tag, "ClusterNameClashError")
      assert.include(clash.message, "is a lock, not a queue")
      const sem = unique("sem")
      yield* a.semaphore(sem, 2)
      const other = yield* connect()
      const permits = yield* Effect.flip(other.semaphore(sem, 3))
      assert.strictEqual(permits._tag, "ClusterNameClashError")
      assert.include(permits.message, "permits 2")
      const bad = [
        Effect.flip(a.lock("")),
        Effect.flip(a.semaphore(unique("s"), 0)),
        Effect.flip(a.semaphore(unique("s"), 1.5)),
        Effect.flip(a.barrier(unique("b"), 0)),
        Effect.flip(a.queue(unique("q"), -1))
      ]
      for (const e of bad) assert.strictEqual((yield* e)._tag, "InvalidArgumentError")
      const l = yield* a.lock(unique("lock"))
      assert.strictEqual((yield* Effect.flip(l.acquireFor(-5)))._tag, "InvalidArgumentError")
      const url = yield* Effect.flip(connect({ url: "http://nope" }))
      assert.strictEqual(url._tag, "InvalidArgumentError")
      const schema = yield* Effect.flip(connect({ schema: "Drop Table" }))
      assert.strictEqual(schema._tag, "InvalidArgumentError")
    })))

  it.live.skipIf(skip)("interruption: an interrupted waiter's statement is cancelled and nothing stays held", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* connect()
      const b = yield* connect()
      const lock = unique("lock")
      const la = yield* a.lock(lock)
      const lb = yield* b.lock(lock)
      yield* la.acquire
      const waiter = yield* Effect.forkChild(lb.acquire, { startImmediately: true })
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(waiter)
      yield* la.release
      assert.isFalse(yield* la.locked)
      assert.isTrue(yield* la.tryAcquire)
      yield* la.release
      const sem = unique("sem")
      const sa = yield* a.semaphore(sem, 1)
      const sb = yield* b.semaphore(sem, 1)
      yield* sa.acquire()
      const semWaiter = yield* Effect.forkChild(sb.acquire(), { startImmediately: true })
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(semWaiter)
      yield* sa.release()
      assert.strictEqual(yield* sa.available, 1)
      assert.isTrue(yield* sa.tryAcquire())
      yield* sa.release()
      const q = yield* b.queue<number>(unique("queue"))
      const getter = yield* Effect.forkChild(q.get, { startImmediately: true })
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(getter)
      yield* q.put(1)
      assert.strictEqual(yield* q.getNowait, 1)
    })))

  it.live.skipIf(skip)("no polling: idle waiters send no statement for 3 seconds", () =>
    Effect.scoped(Effect.gen(function*() {
      const holder = yield* connect()
      const waiter = yield* connect()
      const names = { lock: unique("lock"), sem: unique("sem"), event: unique("event"), queue: unique("queue"), barrier: unique("barrier"), pubsub: unique("pubsub") }
      const heldLock = yield* holder.lock(names.lock)
      yield* heldLock.acquire
      const heldSem = yield* holder.semaphore(names.sem, 1)
      yield* heldSem.acquire()
      const hq = yield* holder.queue<number>(names.queue)
      yield* hq.put(1)
      yield* hq.get // held by `holder`, so the waiting getter also watches its session
      const waits = [
        Effect.flatMap(waiter.lock(names.lock), (l) => l.acquire),
        Effect.flatMap(waiter.semaphore(names.sem, 1), (s) => s.acquire()),
        Effect.flatMap(waiter.event(names.event), (e) => e.wait),
        Effect.flatMap(waiter.queue<number>(names.queue), (q) => q.get),
        Effect.flatMap(waiter.barrier(names.barrier, 2), (b) => b.wait),
        Effect.scoped(Effect.flatMap(Effect.flatMap(waiter.pubsub(names.pubsub), (p) => p.subscribe), (s) => s.take))
      ]
      const fibers = yield* Effect.forEach(waits, (w) => Effect.forkChild(w as Effect.Effect<unknown, unknown>, { startImmediately: true }))
      // Every wait has reached its sleep once the count stops moving.
      let last = -1
      while (last !== (yield* waiter.statements)) {
        last = yield* waiter.statements
        yield* Effect.sleep("500 millis")
      }
      const before = yield* waiter.statements
      yield* Effect.sleep("3 seconds")
      const after = yield* waiter.statements
      assert.strictEqual(after - before, 0, "statements sent by idle waiters")
      assert.isTrue(fibers.every((f) => f.pollUnsafe() === undefined))
      yield* Fiber.interruptAll(fibers)
    })), 20_000)

  it.live.skipIf(skip)("a lock's waiters are served in FIFO order across handles", () =>
    Effect.scoped(Effect.gen(function*() {
      const name = unique("lock")
      const holder = yield* (yield* connect()).lock(name)
      yield* holder.acquire
      const order: Array<number> = []
      const fibers = []
      for (let i = 0; i < 4; i++) {
        const l = yield* (yield* connect()).lock(name)
        fibers.push(yield* Effect.forkChild(l.withLock(Effect.sync(() => order.push(i))), { startImmediately: true }))
        yield* eventually(Effect.map(lockWaiters(name), (n) => n === i + 1)) // queued in the server in this order
      }
      yield* holder.release
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(order, [0, 1, 2, 3])
    })))
})

describe(title("Cluster handles"), () => {
  it.live.skipIf(skip)("a handle travels as JSON and attaches to the same primitive (what a pool task receives)", () =>
    Effect.scoped(Effect.gen(function*() {
      const cluster = yield* connect()
      const lock = yield* cluster.lock(unique("lock"))
      const queue = yield* cluster.queue<number>(unique("queue"), 5)
      const wire = JSON.parse(JSON.stringify([lock.handle, queue.handle]))
      assert.isTrue(Cluster.isHandle(wire[0]))
      assert.isFalse(Cluster.isHandle({ _tag: "ManagerHandle" }))
      const attachedLock = yield* Cluster.attach(wire[0] as Cluster.Handle<"lock">)
      const attachedQueue = (yield* Cluster.attach(wire[1] as Cluster.Handle<"queue">)) as unknown as Queue.Queue<number>
      yield* lock.acquire
      assert.isFalse(yield* attachedLock.tryAcquire)
      yield* lock.release
      assert.isTrue(yield* attachedLock.tryAcquire)
      yield* attachedLock.release
      assert.strictEqual(attachedQueue.maxsize, 5)
      yield* attachedQueue.put(7)
      assert.strictEqual(yield* queue.get, 7)
      yield* queue.taskDone
      const bad = yield* Effect.flip(Cluster.attach({ _tag: "nope" } as never))
      assert.strictEqual(bad._tag, "InvalidArgumentError")
    })))
})

describe(title("Cluster: Inspect"), () => {
  const entryOf = (name: string) =>
    Effect.map(Effect.promise(() => Registry.describeAll()), (entries) => entries.find((e) => e.name === name))

  it.live.skipIf(skip)("a lock's holder and three waiters with growing ages, from pg_locks; the names table's counts", () =>
    Effect.scoped(Effect.gen(function*() {
      const name = unique("inspect")
      const [one, two, three, four] = yield* Effect.all([connect(), connect(), connect(), connect()])
      const lock = yield* one!.lock(name)
      yield* lock.acquire
      const waiters: Array<Fiber.Fiber<void>> = []
      for (const [i, handle] of [two!, three!, four!].entries()) {
        const other = yield* handle.lock(name)
        waiters.push(yield* Effect.forkChild(other.acquire))
        yield* eventually(Effect.map(lockWaiters(name), (n) => n === i + 1))
        yield* Effect.sleep(15)
      }
      const first = (yield* entryOf(name))!
      assert.deepInclude(first, { kind: "cluster.lock", scope: "cluster", named: true })
      assert.strictEqual(first.holders.length, 1)
      assert.deepInclude(first.holders[0]!, { pid: process.pid, machine: hostname() })
      assert.strictEqual(first.waiters.length, 3)
      const since = first.waiters.map((w) => w.since)
      assert.isTrue(since[0]! < since[1]! && since[1]! < since[2]!, `oldest first: ${since}`)
      assert.isAtMost(first.holders[0]!.since, since[0]!)
      assert.strictEqual(first.counts?.queued, 3)
      yield* Effect.sleep(20)
      const later = (yield* entryOf(name))!
      assert.deepStrictEqual(later.waiters.map((w) => w.since), since)
      yield* lock.release
      yield* Fiber.interruptAll(waiters)

      const jobs = yield* one!.queue(unique("inspect-queue"), 5)
      yield* jobs.put("a")
      yield* jobs.put("b")
      const queued = (yield* entryOf(jobs.handle.name))!
      assert.deepInclude(queued.counts!, { size: 2, maxsize: 5 })
    })))
})

describe(title("Cluster: deadlock"), () => {
  it.live.skipIf(skip)("two sessions take two locks in opposite orders: one dies with DeadlockError naming the cycle, the other completes", () =>
    Effect.scoped(Effect.gen(function*() {
      const [a, b] = [unique("dl-a"), unique("dl-b")]
      const [one, two] = yield* Effect.all([connect(), connect()])
      const [a1, b1, a2, b2] = yield* Effect.all([one!.lock(a), one!.lock(b), two!.lock(a), two!.lock(b)])
      const firstTaken = yield* Deferred.make<void>()
      const secondTaken = yield* Deferred.make<void>()
      const order = (outer: typeof a1, inner: typeof a1, mine: Deferred.Deferred<void>, theirs: Deferred.Deferred<void>) =>
        outer.withLock(Effect.gen(function*() {
          yield* Deferred.succeed(mine, undefined)
          yield* Deferred.await(theirs)
          yield* inner.withLock(Effect.void)
          return "completed"
        }))
      const fibers = yield* Effect.all([
        Effect.forkChild(Effect.exit(order(a1, b1, firstTaken, secondTaken))),
        Effect.forkChild(Effect.exit(order(b2, a2, secondTaken, firstTaken)))
      ])
      const exits = yield* Effect.all(fibers.map((f) => Fiber.join(f)))
      const tags = exits.map((exit) => exit._tag === "Success" ? exit.value : defectTag(exit))
      assert.sameMembers(tags, ["completed", "DeadlockError"])
      const failed = exits.find((exit) => exit._tag === "Failure")!
      const error = failed._tag === "Failure" ? failed.cause.reasons.find(Cause.isDieReason)!.defect as DeadlockError : undefined
      assert.strictEqual(error!.cycle.length, 2)
      assert.sameMembers(error!.cycle.map((c) => c.waitsFor), [a, b])
      assert.include(error!.message, `${hostname()} pid ${process.pid}`)
      // Nothing is left held: both locks are free again.
      assert.isTrue(yield* a1.tryAcquire)
      assert.isTrue(yield* b1.tryAcquire)
    })), 30_000)
})
