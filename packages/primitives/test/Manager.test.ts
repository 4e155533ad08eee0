import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Scope } from "effect"
import { Lockdep, Manager, type Queue } from "../src/index.ts"
import * as Registry from "../src/inspect/Registry.ts"
import { child, rmwRace } from "./fixtures/children.ts"

const tempFile = (name: string, content: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-manager-test-"))
      const file = path.join(dir, name)
      fs.writeFileSync(file, content)
      return file
    }),
    (file) => Effect.sync(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }))
  )

const count = (file: string) => (JSON.parse(fs.readFileSync(file, "utf8")) as { count: number }).count

/** Waits until `check` holds (polling), at most `ms`. */
const eventually = (check: Effect.Effect<boolean>, ms = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not reached in time"))
      yield* Effect.sleep("10 millis")
    }
  })

const defectTag = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const die = exit.cause.reasons.find(Cause.isDieReason)
  return (die?.defect as { _tag?: string } | undefined)?._tag
}

const entryOf = (name: string) =>
  Effect.map(Effect.promise(() => Registry.describeAll()), (entries) => entries.find((e) => e.name === name))

describe("Manager: Inspect and lock order", () => {
  it.live("Inspect: the manager shows a named lock's holder (pid + fiber) and three waiters with growing ages; an attaching process asks it", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const name = `accounts-${process.pid}-${Date.now()}`
      const lock = yield* manager.lock({ name })
      const holder = yield* child(["hold", "manager", JSON.stringify(lock.handle)])
      yield* holder.line("held")
      const waiters: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < 3; i++) {
        waiters.push(yield* Effect.forkChild(lock.acquire))
        yield* Effect.sleep(15)
      }
      const first = (yield* entryOf(name))!
      assert.deepInclude(first, { kind: "manager.lock", scope: "process", named: true })
      assert.strictEqual(first.holders.length, 1)
      assert.strictEqual(first.holders[0]!.pid, holder.proc.pid)
      assert.isNumber(first.holders[0]!.fiber)
      assert.deepStrictEqual(first.waiters.map((w) => w.pid), [process.pid, process.pid, process.pid])
      const since = first.waiters.map((w) => w.since)
      assert.isTrue(since[0]! < since[1]! && since[1]! < since[2]!, `oldest first: ${since}`)
      assert.isAtMost(first.holders[0]!.since, since[0]!)
      // A process that attaches the lock lists it too, and the manager answers for it.
      const inspector = yield* child(["inspect", JSON.stringify(lock.handle)])
      const seen = JSON.parse((yield* inspector.line("entry")).slice("entry ".length)) as Registry.Entry
      assert.deepInclude(seen, { name, scope: "process" })
      assert.strictEqual(seen.holders[0]!.pid, holder.proc.pid)
      assert.deepStrictEqual(seen.waiters.slice(0, 3).map((w) => w.since), since)
      yield* Effect.sleep(20)
      const later = (yield* entryOf(name))!
      assert.deepStrictEqual(later.waiters.map((w) => w.since), since)
      yield* Fiber.interruptAll(waiters)
      holder.proc.kill("SIGKILL")
      yield* holder.exited
      // The dead holder's lock was released by the manager: nobody holds, nobody waits.
      const deadline = Date.now() + 5_000
      let free = (yield* entryOf(name))!
      while (free.holders.length > 0 && Date.now() < deadline) {
        yield* Effect.sleep(10)
        free = (yield* entryOf(name))!
      }
      assert.deepStrictEqual([free.holders, free.waiters], [[], []])
    })), 30_000)

  it.live("lock order (lockdep): ABBA in two processes at times that never overlap dies with LockOrderError at the second order's first acquisition", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const a = yield* manager.lock({ name: "A" })
      const b = yield* manager.lock({ name: "B" })
      const first = yield* child(["nest", JSON.stringify(a.handle), JSON.stringify(b.handle)])
      assert.strictEqual(yield* first.line("ok"), "ok")
      yield* first.exited
      const second = yield* child(["nest", JSON.stringify(b.handle), JSON.stringify(a.handle)])
      assert.strictEqual(yield* second.line("LockOrderError"), "LockOrderError A B")
      yield* second.exited
      // Nothing is left held.
      assert.isFalse(yield* a.locked)
      assert.isFalse(yield* b.locked)
      assert.isTrue(Registry.reports().some((r) => r._tag === "LockOrderError" && r.scope === "process"))
    })), 30_000)

  it.effect("lock order (lockdep) in the manager's own process: A then B, later B then A dies with LockOrderError", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const a = yield* manager.lock({ name: "own-A" })
      const b = yield* manager.lock({ name: "own-B" })
      yield* a.withLock(b.withLock(Effect.void))
      const exit = yield* Effect.exit(b.withLock(a.withLock(Effect.void)))
      const defect = Exit.isFailure(exit) ? exit.cause.reasons.find(Cause.isDieReason)?.defect : undefined
      assert.deepInclude(defect as object, { _tag: "LockOrderError", acquiring: "own-A", held: "own-B" })
      assert.isFalse(yield* a.locked)
      assert.isFalse(yield* b.locked)
    }).pipe(Effect.provide(Lockdep.layer))))

  it.effect("a name that is not a non-empty string is an InvalidArgumentError", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const error = yield* Effect.flip(manager.semaphore(2, { name: "" }))
      assert.strictEqual(error._tag, "InvalidArgumentError")
      assert.include(error.message, "name")
    })))
})

describe("Manager", () => {
  it.live("hosted primitives work through their handles (same interface, over the socket)", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const lock = yield* manager.lock()
      const remote = yield* Manager.attach(lock.handle)
      assert.deepStrictEqual(JSON.parse(JSON.stringify(lock.handle)), lock.handle)
      yield* remote.acquire
      assert.isTrue(yield* lock.locked)
      assert.isFalse(yield* lock.tryAcquire)
      assert.isFalse(yield* remote.acquireFor("30 millis"))
      yield* lock.release // a Lock has no owner: the manager's process may release it
      assert.isFalse(yield* remote.locked)
      const notHeld = yield* Effect.flip(remote.release)
      assert.strictEqual(notHeld._tag, "NotHeldError")
      const bad = yield* Effect.flip(remote.acquireFor(-1))
      assert.strictEqual(bad._tag, "InvalidArgumentError")

      // rlock: owned by (connection, fiber); nests; another fiber cannot release it
      const rlock = yield* manager.rlock()
      const r = yield* Manager.attach(rlock.handle)
      yield* r.acquire
      yield* r.acquire
      assert.isTrue(yield* r.isOwned)
      assert.isFalse(yield* rlock.isOwned) // the manager's own fiber is another owner
      const other = yield* Effect.flip(Effect.forkChild(r.release).pipe(Effect.flatMap(Fiber.join)))
      assert.strictEqual(other._tag, "NotOwnerError")
      // It names the client's fibers, not the manager's stand-ins for them.
      const me = yield* Effect.fiberId
      assert.match(other.message, new RegExp(`held by client #\\d+ fiber #${me}, not by client #\\d+ fiber #\\d+`))
      yield* r.release
      assert.isTrue(yield* r.locked)
      yield* r.release
      assert.isFalse(yield* rlock.locked)
      // one client fiber may own several hosted rlocks at once
      const rlock2 = yield* manager.rlock()
      const r2 = yield* Manager.attach(rlock2.handle)
      yield* r.withLock(r2.withLock(Effect.gen(function*() {
        assert.isTrue(yield* r.isOwned)
        assert.isTrue(yield* r2.isOwned)
        assert.isTrue(yield* rlock2.locked)
      })))
      // the releases ending withLock are sent without a reply; later calls of this fiber queue behind them
      assert.isFalse(yield* r.locked)
      assert.isFalse(yield* r2.locked)

      // semaphore and bounded semaphore
      const sem = yield* manager.semaphore(3, { bounded: true })
      const s = yield* Manager.attach(sem.handle)
      yield* s.acquire(2)
      assert.strictEqual(yield* sem.available, 1)
      assert.isFalse(yield* s.tryAcquire(2))
      yield* s.release(2)
      const overflow = yield* Effect.flip(s.release(1))
      assert.strictEqual(overflow._tag, "SemaphoreOverflowError")
      assert.strictEqual(yield* s.withPermits(3)(sem.available), 0)

      // event
      const event = yield* manager.event()
      const e = yield* Manager.attach(event.handle)
      const waiter = yield* Effect.forkChild(e.wait)
      assert.isFalse(yield* e.waitFor("20 millis"))
      yield* event.set
      yield* Fiber.join(waiter)
      assert.isTrue(yield* e.isSet)
    })), 10_000)

  it.live("a wrong key or an unknown primitive is refused with a tagged error", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const lock = yield* manager.lock()
      const wrong = yield* Effect.flip(Manager.attach({ ...lock.handle, key: "not-the-key-not-the-key-not-the" }))
      assert.strictEqual(wrong._tag, "ManagerAuthError")
      assert.include(wrong.message, "wrong key")
      const unknown = yield* Effect.flip(Manager.attach({ ...lock.handle, id: 999 }))
      assert.strictEqual(unknown._tag, "ManagerUnavailableError")
      // the right key still works afterwards
      const ok = yield* Manager.attach(lock.handle)
      assert.isTrue(yield* ok.tryAcquire)
      yield* ok.release
    })))

  it.live("4 processes x 50 read-modify-writes: exact under a manager lock, lost updates without", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const lock = yield* manager.lock()
      const guarded = yield* tempFile("guarded.json", JSON.stringify({ count: 0 }))
      const control = yield* tempFile("control.json", JSON.stringify({ count: 0 }))
      const handle = JSON.stringify(lock.handle)
      yield* Effect.all([rmwRace("manager", handle, guarded, 30_000), rmwRace("none", handle, control, 30_000)], { concurrency: 2 })
      assert.strictEqual(count(guarded), 200)
      assert.isBelow(count(control), 200, "the lock-free control should lose updates")
    })), 90_000)

  it.live("a holder SIGKILLed while holding: the lock and its permits are released, waiters proceed", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const lock = yield* manager.lock()
      const sem = yield* manager.semaphore(3)
      const holder = yield* child(["hold", "manager", JSON.stringify(lock.handle)])
      const permits = yield* child(["permits", JSON.stringify(sem.handle)])
      yield* holder.line("held")
      yield* permits.line("held")
      assert.strictEqual(yield* sem.available, 1)
      permits.proc.kill("SIGKILL")
      yield* eventually(Effect.map(sem.available, (n) => n === 3))
      const waiter = yield* child(["wait", JSON.stringify(lock.handle)])
      yield* waiter.line("waiting")
      // timeouts and interruption against a lock held by another process
      const remote = yield* Manager.attach(lock.handle)
      assert.isFalse(yield* remote.acquireFor("50 millis"))
      const interrupted = yield* Effect.forkChild(remote.acquire)
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(interrupted)
      holder.proc.kill("SIGKILL")
      yield* waiter.line("acquired")
      yield* waiter.exited
      // the waiter exited holding it: released again; the interrupted acquire left nothing behind
      yield* eventually(Effect.map(lock.locked, (locked) => !locked))
      assert.isTrue(yield* remote.tryAcquire)
      yield* remote.release
    })), 30_000)

  it.live("closing the manager's scope fails waiting clients with ManagerClosedError", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const manager = yield* Scope.provide(Manager.serve(), scope)
      const lock = yield* manager.lock()
      yield* lock.acquire
      const exit = yield* Effect.scoped(Effect.gen(function*() {
        const waiter = yield* child(["wait", JSON.stringify(lock.handle)])
        yield* waiter.line("waiting")
        const local = yield* Manager.attach(lock.handle)
        const fiber = yield* Effect.forkChild(local.acquire)
        yield* Effect.sleep("50 millis")
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(yield* waiter.line("Manager"), "ManagerClosedError")
        return yield* Fiber.await(fiber)
      }))
      assert.strictEqual(defectTag(exit), "ManagerClosedError")
      assert.isFalse(fs.existsSync("path" in manager.address ? manager.address.path : "/nonexistent"))
    }), 30_000)

  it.live("barrier: parties in several processes; one SIGKILLed while waiting breaks it for the others", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const two = yield* manager.barrier(2)
      const b2 = yield* Manager.attach(two.handle)
      assert.strictEqual(b2.parties, 2)
      const party = yield* child(["bwait", JSON.stringify(two.handle)])
      yield* party.line("waiting")
      const mine = yield* b2.wait
      const theirs = Number((yield* party.line("index")).slice(6))
      assert.deepStrictEqual([mine, theirs].sort(), [0, 1])

      const three = yield* manager.barrier(3)
      const b3 = yield* Manager.attach(three.handle)
      const doomed = yield* child(["bwait", JSON.stringify(three.handle)])
      yield* doomed.line("waiting")
      yield* eventually(Effect.map(three.waiting, (n) => n === 1))
      const waiter = yield* Effect.forkChild(Effect.flip(b3.wait))
      yield* eventually(Effect.map(three.waiting, (n) => n === 2))
      doomed.proc.kill("SIGKILL")
      const error = yield* Fiber.join(waiter)
      assert.strictEqual(error._tag, "BrokenBarrierError")
      assert.isTrue(yield* b3.broken)
    })), 30_000)

  it.live("queue: every operation of the fiber Queue, through a handle; items cross as JSON", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const bad = yield* Effect.flip(manager.queue(-1))
      assert.strictEqual(bad._tag, "InvalidArgumentError")
      const queue = yield* manager.queue<unknown>(2)
      const q = (yield* Manager.attach(queue.handle)) as Queue.Queue<unknown>
      assert.strictEqual(q.maxsize, 2)
      assert.isTrue(yield* q.isEmpty)
      yield* q.put({ at: new Date(0), n: 1, gone: undefined })
      yield* queue.put("two")
      assert.isTrue(yield* q.isFull)
      assert.strictEqual(yield* queue.size, 2)
      assert.strictEqual((yield* Effect.flip(q.putNowait(3)))._tag, "QueueFullError")
      assert.strictEqual((yield* Effect.flip(q.putFor(3, "20 millis")))._tag, "QueueFullError")
      assert.strictEqual((yield* Effect.flip(q.putFor(3, -1)))._tag, "InvalidArgumentError")
      // what comes out is what JSON.parse gives, in every process
      assert.deepStrictEqual(yield* queue.get, { at: "1970-01-01T00:00:00.000Z", n: 1 })
      assert.strictEqual(yield* q.getNowait, "two")
      assert.strictEqual((yield* Effect.flip(q.getNowait))._tag, "QueueEmptyError")
      assert.strictEqual((yield* Effect.flip(q.getFor("20 millis")))._tag, "QueueEmptyError")
      // a value JSON cannot carry is refused before it is sent
      const refused = yield* Effect.exit(q.put(10n))
      assert.strictEqual(defectTag(refused), "InvalidArgumentError")
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      assert.strictEqual(defectTag(yield* Effect.exit(queue.putNowait(cyclic))), "InvalidArgumentError")
      assert.strictEqual(defectTag(yield* Effect.exit(q.putFor(undefined, "1 second"))), "InvalidArgumentError")
      assert.strictEqual(yield* q.size, 0)
      // a waiting getter is served by a put from the other end; taskDone / join
      const getter = yield* Effect.forkChild(q.getFor("5 seconds"), { startImmediately: true })
      yield* q.size // the manager has the getter queued
      yield* queue.put(null)
      assert.isNull(yield* Fiber.join(getter))
      yield* q.taskDone
      yield* queue.taskDone // three items were put
      const joined = yield* Effect.forkChild(q.join, { startImmediately: true })
      yield* q.taskDone
      yield* Fiber.join(joined)
      assert.strictEqual((yield* Effect.flip(q.taskDone))._tag, "TaskDoneError")
      // shutdown: puts fail, gets drain what is left, then fail
      yield* q.put("last")
      yield* q.shutdown()
      assert.strictEqual((yield* Effect.flip(q.put(1)))._tag, "QueueShutDownError")
      assert.strictEqual(yield* q.get, "last")
      assert.strictEqual((yield* Effect.flip(queue.get))._tag, "QueueShutDownError")
    })), 10_000)

  it.live("queue: a producer process and 3 consumer processes, ending on sentinels; nothing lost or duplicated", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const queue = yield* manager.queue<number | null>(8) // bounded: the producer waits for room
      const handle = JSON.stringify(queue.handle)
      const consumers = yield* Effect.forEach([1, 2, 3], () => child(["consume", handle]))
      const producer = yield* child(["produce", handle, "300", "3"])
      yield* Effect.forEach([...consumers, producer], (c) => c.line("ready"))
      yield* producer.send("go")
      yield* producer.line("done", 30_000)
      const got = yield* Effect.forEach(consumers, (c) => c.line("got ", 30_000))
      const items = got.flatMap((line) => JSON.parse(line.slice(4)) as Array<number>)
      assert.strictEqual(items.length, 300)
      assert.deepStrictEqual([...items].sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i))
      // each consumer saw its items in the order they were put
      for (const line of got) {
        const mine = JSON.parse(line.slice(4)) as Array<number>
        assert.deepStrictEqual(mine, [...mine].sort((a, b) => a - b))
      }
      assert.strictEqual(yield* queue.size, 0)
      yield* queue.join // every item (and sentinel) was marked done
    })), 60_000)

  it.live("queue: a remote get interrupted just as the manager hands it an item gives the item back, in place", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const queue = yield* manager.queue<string>()
      const remote = (yield* Manager.attach(queue.handle)) as Queue.Queue<string>
      for (const get of [remote.get, remote.getFor("10 seconds")]) {
        const getter = yield* Effect.forkChild(get, { startImmediately: true })
        yield* remote.size // calls on one connection run in order: the get is queued on the manager
        // The put hands "a" to the remote getter and the manager replies at
        // once; the interruption's `cancel` reaches the manager only after
        // that: the get won, so the client must give "a" back.
        yield* queue.put("a")
        yield* queue.put("b")
        yield* Fiber.interrupt(getter)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(getter)))
        assert.strictEqual(yield* queue.size, 2)
        assert.strictEqual(yield* remote.getNowait, "a") // back in its place, ahead of "b"
        assert.strictEqual(yield* queue.getNowait, "b")
      }
      // the same race for getNowait (no wait on the manager; the reply still wins)
      yield* queue.put("c")
      const nowait = yield* Effect.forkChild(remote.getNowait, { startImmediately: true })
      yield* Fiber.interrupt(nowait)
      assert.strictEqual(yield* queue.getNowait, "c")
      // a get interrupted while still waiting takes nothing
      const waiting = yield* Effect.forkChild(remote.get, { startImmediately: true })
      yield* remote.size
      yield* Fiber.interrupt(waiting)
      yield* queue.put("d")
      assert.strictEqual(yield* remote.getNowait, "d")
      // the unfinished-task count is untouched by the give-backs: 6 items put, none done
      assert.isTrue(Option.isNone(yield* Effect.timeoutOption(queue.join, "20 millis")))
      for (let i = 0; i < 6; i++) yield* remote.taskDone
      yield* queue.join
      assert.strictEqual((yield* Effect.flip(remote.taskDone))._tag, "TaskDoneError")
    })), 10_000)

  it.live("queue: a consumer process SIGKILLed while waiting in get loses no item", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const queue = yield* manager.queue<string>()
      for (let round = 0; round < 3; round++) {
        const consumer = yield* child(["qwait", JSON.stringify(queue.handle)])
        yield* consumer.line("waiting")
        consumer.proc.kill("SIGKILL")
        // Put at once: the manager may not know yet that the getter is dead,
        // and hand it the item; then it gets it back on the disconnect.
        yield* queue.put(`item ${round}`)
        yield* consumer.exited
        yield* eventually(Effect.map(queue.size, (n) => n === 1))
        assert.strictEqual(yield* queue.getNowait, `item ${round}`)
      }
      // a live consumer still gets items
      const consumer = yield* child(["qwait", JSON.stringify(queue.handle)])
      yield* consumer.line("waiting")
      yield* queue.put("for you")
      assert.strictEqual(yield* consumer.line("got "), `got "for you"`)
    })), 30_000)

  it.live("condition: a process waits under the lock and is woken by notify from another process", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const cond = yield* manager.condition()
      const handle = JSON.stringify(cond.handle)
      const waiter = yield* child(["cwait", handle])
      yield* waiter.line("waiting")
      const notifier = yield* child(["cnotify", handle, "1"])
      yield* notifier.line("notified")
      yield* waiter.line("woken")
      assert.strictEqual(yield* waiter.exited, 0)
      // the waiter released the lock after it woke (holding it again)
      const remote = yield* Manager.attach(cond.handle)
      yield* remote.withLock(remote.notifyAll)
    })), 30_000)

  it.live("condition: notify(n) wakes exactly n waiting processes; notifyAll the rest", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const cond = yield* manager.condition()
      const remote = yield* Manager.attach(cond.handle)
      const waiters = yield* Effect.forEach([1, 2, 3, 4], () => child(["cwait", JSON.stringify(cond.handle)]))
      yield* Effect.forEach(waiters, (w) => w.line("waiting"))
      // Each printed "waiting" holding the lock and lets go of it only in
      // `wait`, queued first: once this fiber has the lock, all 4 are waiting.
      yield* remote.withLock(remote.notify(2))
      const woken = yield* Effect.forEach(waiters, (w) => Effect.option(w.line("woken", 1_500)), { concurrency: 4 })
      assert.strictEqual(woken.filter(Option.isSome).length, 2)
      yield* remote.withLock(remote.notifyAll)
      for (const [i, w] of waiters.entries()) {
        if (Option.isNone(woken[i]!)) yield* w.line("woken")
      }
    })), 30_000)

  it.live("condition: remote ops need the lock; waitFor / waitUntil time out holding it; an interrupted wait ends holding it", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const cond = yield* manager.condition()
      const c = yield* Manager.attach(cond.handle)
      assert.strictEqual((yield* Effect.flip(c.wait))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(c.waitFor("10 millis")))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(c.waitUntil(() => true)))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(c.notify()))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(c.notifyAll))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(c.release))._tag, "NotHeldError")
      // the lock is owned by (connection, fiber): nesting, and the owner's waits
      yield* c.withLock(c.withLock(Effect.gen(function*() {
        assert.strictEqual((yield* Effect.flip(c.notify(-1)))._tag, "InvalidArgumentError")
        assert.strictEqual((yield* Effect.flip(c.waitFor(-1)))._tag, "InvalidArgumentError")
        assert.isFalse(yield* c.waitFor("30 millis"))
        const start = Date.now()
        assert.isFalse(yield* c.waitUntil(() => false, "60 millis"))
        assert.isAtLeast(Date.now() - start, 50)
        assert.isTrue(yield* c.waitUntil(() => true, 0))
        const other = yield* Effect.flip(Effect.forkChild(c.release).pipe(Effect.flatMap(Fiber.join)))
        assert.strictEqual(other._tag, "NotOwnerError")
      })))
      // waitUntil: the predicate runs here, re-checked after every notify
      let ready = 0
      const waiting = yield* Effect.forkChild(c.withLock(c.waitUntil(() => ready >= 2, "10 seconds")))
      for (let i = 0; i < 2; i++) {
        yield* Effect.sleep("30 millis")
        yield* cond.withLock(Effect.andThen(Effect.sync(() => ready++), cond.notifyAll))
      }
      assert.isTrue(yield* Fiber.join(waiting))

      // A wait interrupted while another holds the lock ends only once it has
      // the lock back, and then holds it: its release succeeds.
      let released: Exit.Exit<void, unknown> | undefined
      const waiter = yield* Effect.forkChild(
        Effect.andThen(
          c.acquire,
          Effect.onExit(c.wait, () => Effect.flatMap(Effect.exit(c.release), (exit) => Effect.sync(() => (released = exit))))
        )
      )
      yield* Effect.sleep("50 millis")
      yield* cond.acquire // the manager's own fiber takes the lock the waiter let go of
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(waiter), { startImmediately: true })
      yield* Effect.sleep("100 millis")
      assert.isUndefined(interrupting.pollUnsafe(), "the interrupted wait waits for the lock")
      yield* cond.release
      yield* Fiber.join(interrupting)
      assert.isTrue(released !== undefined && Exit.isSuccess(released), "the interrupted waiter held the lock")
      yield* c.withLock(Effect.void)

      // A waiter interrupted just after it was notified passes the
      // notification on: notify(1) still wakes a waiter that goes on.
      const first = yield* Effect.forkChild(c.withLock(c.wait))
      yield* Effect.sleep("50 millis")
      const second = yield* Effect.forkChild(c.withLock(c.wait))
      yield* Effect.sleep("50 millis")
      yield* cond.withLock(cond.notify(1))
      yield* Fiber.interrupt(first)
      yield* Effect.timeoutOrElse(Fiber.join(second), {
        duration: "5 seconds",
        orElse: () => Effect.die(new Error("the notification was swallowed"))
      })
    })), 10_000)

  it.live("condition: a process killed while waiting, or while holding the lock, lets go of it; no notify is lost", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const cond = yield* manager.condition()
      const handle = JSON.stringify(cond.handle)
      const remote = yield* Manager.attach(cond.handle)
      const doomed = yield* child(["cwait", handle])
      yield* doomed.line("waiting")
      const survivor = yield* child(["cwait", handle])
      yield* survivor.line("waiting")
      yield* remote.withLock(Effect.void) // both are queued waiters now, the doomed one first
      doomed.proc.kill("SIGKILL")
      // notify(1) right away: if it reaches the dead waiter first, it is passed on
      yield* remote.withLock(remote.notify(1))
      yield* survivor.line("woken")
      yield* doomed.exited
      yield* Effect.timeoutOrElse(remote.withLock(Effect.void), {
        duration: "5 seconds",
        orElse: () => Effect.die(new Error("the lock stayed held"))
      })
      // killed while holding the lock (at depth 1)
      const holder = yield* child(["chold", handle])
      yield* holder.line("held")
      holder.proc.kill("SIGKILL")
      yield* Effect.timeoutOrElse(remote.withLock(Effect.void), {
        duration: "5 seconds",
        orElse: () => Effect.die(new Error("the lock stayed held"))
      })
    })), 30_000)

  it.live("a manager process SIGKILLed under waiting clients: they fail with ManagerUnavailableError, nothing hangs", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* child(["serve"])
      const handle = JSON.parse((yield* server.line("handle ")).slice("handle ".length)) as Manager.Handle<"lock">
      // A killed manager cannot remove its socket's directory: the test does.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if ("path" in handle.address) fs.rmSync(path.dirname(handle.address.path), { recursive: true, force: true })
        })
      )
      const lock = yield* Manager.attach(handle)
      const waiter = yield* Effect.forkChild(Effect.exit(lock.acquire))
      const other = yield* child(["wait", JSON.stringify(handle)])
      yield* other.line("waiting")
      assert.isTrue(yield* lock.locked) // the server holds it; both wait
      server.proc.kill("SIGKILL")
      yield* server.exited
      const exit = yield* Fiber.join(waiter)
      assert.isTrue(Exit.isFailure(exit))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.strictEqual((defect as { _tag?: string })._tag, "ManagerUnavailableError")
      assert.strictEqual(yield* other.line("ManagerUnavailableError"), "ManagerUnavailableError")
      // Later calls fail at once, and re-attaching says nothing answers there.
      const later = yield* Effect.exit(lock.locked)
      assert.isTrue(Exit.isFailure(later))
      const again = yield* Effect.flip(Manager.attach(handle))
      assert.strictEqual(again._tag, "ManagerUnavailableError")
    })))

  it.live("rlock, condition and barrier views work passed as values or destructured (the others: test/conformance)", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const rlock = yield* Manager.attach((yield* manager.rlock()).handle)
      const { acquire, isOwned, release, withLock } = rlock
      yield* acquire
      assert.isTrue(yield* isOwned)
      assert.strictEqual(yield* Effect.succeed(1).pipe(withLock), 1)
      yield* release
      assert.isFalse(yield* rlock.locked)
      const cond = yield* Manager.attach((yield* manager.condition()).handle)
      const { notifyAll, waitFor, waitUntil } = cond
      assert.isFalse(yield* cond.withLock(waitFor(5)))
      assert.isTrue(yield* cond.withLock(waitUntil(() => true)))
      yield* cond.withLock(notifyAll)
      const barrier = yield* Manager.attach((yield* manager.barrier(2)).handle)
      const { wait } = barrier
      assert.sameMembers(yield* Effect.all([wait, barrier.wait], { concurrency: "unbounded" }), [0, 1])
    })))

  it.live("loopback TCP transport", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve({ transport: "tcp" })
      assert.isTrue("port" in manager.address)
      const sem = yield* manager.semaphore(1)
      const s = yield* Manager.attach(sem.handle)
      assert.isTrue(yield* s.tryAcquire())
      assert.strictEqual(yield* sem.available, 0)
      yield* s.release()
    })))
})
