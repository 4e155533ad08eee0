import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SharedLock } from "../src/index.ts"
import { pendingHolds } from "../src/shared/internal/futex.ts"
import { threadId } from "node:worker_threads"
import { start } from "./sharedHelpers.ts"
import * as Registry from "../src/inspect/Registry.ts"

const N = 20_000
// Wide enough that two unguarded threads lose updates on every runtime.
const WIDTH = 200

const counterRun = async (job: string, handle?: unknown) => {
  const counter = new SharedArrayBuffer(16)
  const workers = [0, 1].map(() => start({ job, handle, counter, n: N, width: WIDTH }))
  await Promise.all(workers.map((w) => w.done))
  return new Int32Array(counter)[0]!
}

const entryOf = (name: string) =>
  Effect.map(Effect.promise(() => Registry.describeAll()), (entries) => entries.find((e) => e.name === name))

describe("SharedLock", () => {
  it.live("Inspect: a named lock shows its holder thread and three waiters with growing ages, in every thread", () =>
    Effect.gen(function*() {
      const name = `accounts-${Math.random()}`
      const lock = yield* SharedLock.named(name)
      assert.strictEqual(lock.handle.name, name)
      const holder = start({ job: "hold", handle: lock.handle })
      const holderThread = holder.worker.threadId
      yield* Effect.promise(() => holder.next("holding"))
      const waiters: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < 3; i++) {
        waiters.push(yield* Effect.forkChild(lock.acquire))
        yield* Effect.sleep(15)
      }
      const first = (yield* entryOf(name))!
      assert.deepInclude(first, { kind: "SharedLock", scope: "thread", named: true })
      assert.strictEqual(first.holders.length, 1)
      assert.strictEqual(first.holders[0]!.thread, holderThread)
      // This thread's id (Bun runs the suite in worker threads).
      assert.deepStrictEqual(first.waiters.map((w) => w.thread), [threadId, threadId, threadId])
      const since = first.waiters.map((w) => w.since)
      assert.isTrue(since[0]! < since[1]! && since[1]! < since[2]!, `oldest first: ${since}`)
      assert.isAtMost(first.holders[0]!.since, since[0]!)
      assert.strictEqual(first.counts?.queued, 3)
      // Another thread, attaching the handle, sees the same from the buffer alone.
      const inspector = start({ job: "inspect", handle: lock.handle })
      const seen = (yield* Effect.promise(() => inspector.next("entry"))).entry as Registry.Entry
      yield* Effect.promise(() => inspector.done)
      assert.strictEqual(seen.holders[0]!.thread, holderThread)
      assert.deepStrictEqual(seen.waiters.map((w) => w.since), since)
      // Ages grow: the same waits, seen later.
      yield* Effect.sleep(20)
      const later = (yield* entryOf(name))!
      assert.deepStrictEqual(later.waiters.map((w) => w.since), since)
      yield* Fiber.interruptAll(waiters)
      yield* Effect.promise(() => holder.terminate())
      yield* lock.release // on the dead holder's behalf
      const free = (yield* entryOf(name))!
      assert.deepStrictEqual([free.holders, free.waiters, free.counts?.queued], [[], [], 0])
    }))

  it("lock order (lockdep): ABBA in two worker threads at times that never overlap dies with LockOrderError at the second order's first acquisition", async () => {
    const tag = Math.random().toString(36).slice(2)
    const a = SharedLock.makeUnsafe(`A-${tag}`)
    const b = SharedLock.makeUnsafe(`B-${tag}`)
    const first = await start({ job: "nest", handles: [a.handle, b.handle] }).done
    assert.deepStrictEqual(first, { ok: true })
    const second = (await start({ job: "nest", handles: [b.handle, a.handle] }).done) as Record<string, string>
    assert.strictEqual(second.tag, "LockOrderError")
    assert.strictEqual(second.acquiring, `A-${tag}`)
    assert.strictEqual(second.held, `B-${tag}`)
    assert.include(second.message, `A-${tag} -> B-${tag}`)
    // Nothing is left held: the outer lock was released as the defect unwound it.
    assert.isFalse(Effect.runSync(a.locked))
    assert.isFalse(Effect.runSync(b.locked))
  })

  it.effect("a name that is not a non-empty string is an InvalidArgumentError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SharedLock.named(""))
      assert.strictEqual(error._tag, "InvalidArgumentError")
      assert.include(error.message, "name")
    }))

  it("Atomics.waitAsync exists on this runtime (the design depends on it)", () => {
    assert.strictEqual(typeof Atomics.waitAsync, "function")
  })

  it.live("fibers of one thread queue FIFO; an interrupted waiter leaves nothing held", () =>
    Effect.gen(function*() {
      const lock = yield* SharedLock.make
      const order: Array<number> = []
      yield* lock.acquire
      const fibers = yield* Effect.forEach([1, 2, 3], (i) => Effect.forkChild(lock.withLock(Effect.sync(() => order.push(i)))))
      const quitter = yield* Effect.forkChild(lock.acquire)
      yield* Effect.sleep(5)
      yield* Fiber.interrupt(quitter)
      yield* lock.release
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(order, [1, 2, 3])
      assert.isFalse(yield* lock.locked)
      assert.strictEqual(pendingHolds(), 0)
    }))

  it.effect("attach refuses what is not a SharedLock handle", () =>
    Effect.gen(function*() {
      const sem = yield* Effect.sync(() => ({ _tag: "SharedLock", buffer: new SharedArrayBuffer(8) }))
      for (const bad of [undefined, 42, { _tag: "SharedLock" }, sem, { _tag: "Other", buffer: new SharedArrayBuffer(8) }]) {
        const error = yield* Effect.flip(SharedLock.attach(bad as never))
        assert.strictEqual(error._tag, "InvalidArgumentError")
        assert.include(error.message, "SharedLock.attach")
      }
      const lock = yield* SharedLock.make
      const twin = yield* SharedLock.attach(structuredClone(lock.handle))
      yield* twin.acquire
      assert.isTrue(yield* lock.locked)
    }))

  it("2 threads x 20,000 read-modify-writes: exact under the lock, lossy without", async () => {
    // On a busy machine one thread can finish its loop before the other is
    // scheduled at all, so the race gets a few chances to show itself.
    let control = 2 * N
    for (let attempt = 0; attempt < 5 && control === 2 * N; attempt++) control = await counterRun("control")
    assert.isBelow(control, 2 * N, "the unguarded control should lose updates (in 5 tries)")
    const lock = SharedLock.makeUnsafe()
    assert.strictEqual(await counterRun("lock", lock.handle), 2 * N)
    assert.isFalse(await Effect.runPromise(lock.locked))
  }, 60_000)

  it("a waiting thread keeps itself alive until it gets the lock", async () => {
    const lock = SharedLock.makeUnsafe()
    await Effect.runPromise(lock.acquire)
    const waiter = start({ job: "acquireThenExit", handle: lock.handle })
    await new Promise((resolve) => setTimeout(resolve, 150))
    await Effect.runPromise(lock.release)
    assert.strictEqual(await waiter.done, "acquired")
  })

  it("a thread terminated while holding: the lock stays held until someone releases it for the dead thread", async () => {
    const lock = SharedLock.makeUnsafe()
    const holder = start({ job: "hold", handle: lock.handle })
    await holder.next("holding")
    await holder.terminate()
    // What the others see: locked, and a timed wait fails. A dead thread cannot release.
    assert.isTrue(await Effect.runPromise(lock.locked))
    assert.isFalse(await Effect.runPromise(lock.acquireFor("50 millis")))
    // The parent saw the worker exit; the lock has no owner, so it may release it.
    await Effect.runPromise(lock.release)
    assert.isTrue(await Effect.runPromise(lock.acquireFor("1 second")))
  })

  it("a thread terminated while waiting does not block the queue", async () => {
    const lock = SharedLock.makeUnsafe()
    await Effect.runPromise(lock.acquire)
    const waiter = start({ job: "waitLock", handle: lock.handle })
    await waiter.next("waiting")
    // Queue behind the doomed waiter, then kill it and release.
    const mine = Effect.runPromise(lock.acquireFor("3 seconds"))
    await new Promise((resolve) => setTimeout(resolve, 20))
    await waiter.terminate()
    await Effect.runPromise(lock.release)
    const started = Date.now()
    assert.isTrue(await mine)
    // Its turn was passed on after one or two watch periods (0.2 s each).
    assert.isBelow(Date.now() - started, 2_000)
  })
})
