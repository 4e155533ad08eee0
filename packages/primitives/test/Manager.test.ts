import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Scope } from "effect"
import { Manager } from "../src/index.ts"
import { child } from "./fixtures/children.ts"

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
      yield* r.release
      assert.isTrue(yield* r.locked)
      yield* r.release
      assert.isFalse(yield* rlock.locked)

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
      const run = (kind: string, file: string) =>
        Effect.gen(function*() {
          const children = yield* Effect.forEach([1, 2, 3, 4], () =>
            child(["rmw", kind, JSON.stringify(lock.handle), file, "50", "1"]))
          yield* Effect.forEach(children, (c) => c.line("ready"))
          yield* Effect.forEach(children, (c) => c.send("go"))
          yield* Effect.forEach(children, (c) => c.line("done", 30_000))
        })
      yield* Effect.all([run("manager", guarded), run("none", control)], { concurrency: 2 })
      assert.strictEqual(count(guarded), 200)
      assert.isBelow(count(control), 200, "the lock-free control should lose updates")
    })), 60_000)

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
