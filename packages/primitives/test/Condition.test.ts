import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Condition, Lock, RLock } from "../src/index.ts"

// Lets other fibers run until `done()` holds (bounded: fails the test instead of hanging).
const yieldUntil = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && !done(); i++) yield* Effect.yieldNow
    assert.isTrue(done(), "condition not reached")
  })

const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("Condition", () => {
  it.effect("seed: notify(n) releases exactly n of several waiters, in FIFO order", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      let ready = 0
      const woken: Array<number> = []
      const fibers = yield* Effect.forEach(range(10), (i) =>
        Effect.forkChild(cond.withLock(Effect.gen(function*() {
          ready++
          yield* cond.wait
          woken.push(i)
        }))))
      // Seeing ready === 10 and then taking the lock means every waiter is queued.
      yield* yieldUntil(() => ready === 10)
      yield* cond.withLock(cond.notify(3))
      yield* yieldUntil(() => woken.length === 3)
      yield* settle
      assert.deepStrictEqual(woken, [0, 1, 2])
      yield* cond.withLock(cond.notify(2))
      yield* yieldUntil(() => woken.length === 5)
      yield* settle
      assert.deepStrictEqual(woken, [0, 1, 2, 3, 4])
      yield* cond.withLock(cond.notifyAll)
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(woken, range(10))
    }))

  it.effect("seed: waitUntil (Python's wait_for) lets waiters go only when the predicate holds", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      let go = false
      let ready = 0
      let passed = 0
      const fibers = yield* Effect.forEach(range(5), () =>
        Effect.forkChild(cond.withLock(Effect.gen(function*() {
          ready++
          const result = yield* cond.waitUntil(() => go)
          passed++
          return result
        }))))
      yield* yieldUntil(() => ready === 5)
      // A notification while the predicate is false sends everyone back to waiting.
      yield* cond.withLock(cond.notifyAll)
      yield* settle
      assert.strictEqual(passed, 0)
      yield* cond.withLock(Effect.andThen(Effect.sync(() => (go = true)), cond.notifyAll))
      const results = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(results, [true, true, true, true, true])
    }))

  it.effect("waitUntil takes an Effect predicate and returns at once when it already holds", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      const ok = yield* cond.withLock(cond.waitUntil(Effect.succeed(true)))
      assert.isTrue(ok)
    }))

  it.effect("producer/consumer over two conditions sharing one lock, ending on sentinels", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      const notEmpty = yield* Condition.make(lock)
      const notFull = yield* Condition.make(lock)
      const capacity = 2
      const buffer: Array<number | null> = []
      let maxSeen = 0
      const put = (item: number | null) =>
        lock.withLock(Effect.gen(function*() {
          yield* notFull.waitUntil(() => buffer.length < capacity)
          buffer.push(item)
          maxSeen = Math.max(maxSeen, buffer.length)
          yield* notEmpty.notify()
        }))
      const take = lock.withLock(Effect.gen(function*() {
        yield* notEmpty.waitUntil(() => buffer.length > 0)
        const item = buffer.shift()!
        yield* notFull.notify()
        return item
      }))
      const consumer = Effect.gen(function*() {
        const got: Array<number> = []
        while (true) {
          const item = yield* take
          if (item === null) return got
          got.push(item)
        }
      })
      const consumers = yield* Effect.forEach(range(2), () => Effect.forkChild(consumer))
      yield* Effect.forEach([...range(20), null, null], put)
      const [a, b] = yield* Effect.forEach(consumers, Fiber.join)
      assert.deepStrictEqual([...a!, ...b!].sort((x, y) => x - y), range(20))
      assert.isAtMost(maxSeen, capacity)
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("wait releases an RLock completely and re-takes it at the same depth", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      const cond = yield* Condition.make(lock)
      let waiting = false
      const waiter = yield* Effect.forkChild(Effect.gen(function*() {
        yield* lock.acquire
        yield* lock.acquire
        yield* lock.acquire
        waiting = true
        const notified = yield* cond.waitFor("1 second")
        const owned = yield* lock.isOwned
        yield* lock.release
        yield* lock.release
        yield* lock.release
        const extra = yield* Effect.flip(lock.release)
        return { notified, owned, extra: extra._tag }
      }))
      yield* yieldUntil(() => waiting)
      // Another fiber can take the lock while the owner waits, and notify it.
      assert.isTrue(yield* lock.tryAcquire)
      yield* cond.notify()
      yield* lock.release
      assert.deepStrictEqual(yield* Fiber.join(waiter), { notified: true, owned: true, extra: "NotHeldError" })
    }))

  it.effect("waitFor times out (TestClock), returns false and holds the lock again", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      const cond = yield* Condition.make(lock)
      const waiter = yield* Effect.forkChild(
        cond.withLock(Effect.gen(function*() {
          const notified = yield* cond.waitFor("50 millis")
          return { notified, owned: yield* lock.isOwned }
        }))
      )
      yield* settle
      assert.isFalse(yield* lock.locked)
      yield* TestClock.adjust("49 millis")
      assert.isUndefined(waiter.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(waiter), { notified: false, owned: true })
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("waitFor(0) and waitUntil(p, 0) never wait", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      yield* cond.acquire
      assert.isFalse(yield* cond.waitFor(0))
      assert.isFalse(yield* cond.waitUntil(() => false, 0))
      assert.isTrue(yield* cond.waitUntil(() => true, 0))
      yield* cond.release
    }))

  it.effect("waitUntil counts its timeout across wake-ups", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      const waiter = yield* Effect.forkChild(cond.withLock(cond.waitUntil(() => false, "100 millis")))
      yield* settle
      yield* TestClock.adjust("40 millis")
      yield* cond.withLock(cond.notify()) // a wake-up with the predicate still false
      yield* settle
      yield* TestClock.adjust("59 millis")
      assert.isUndefined(waiter.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.isFalse(yield* Fiber.join(waiter))
    }))

  it.effect("an interrupted waiter holds the lock when interrupted, leaves it free, and leaves the queue", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      const cond = yield* Condition.make(lock)
      let ownedOnInterrupt: boolean | undefined
      let ready = 0
      const first = yield* Effect.forkChild(cond.withLock(
        Effect.andThen(
          Effect.sync(() => ready++),
          Effect.onInterrupt(cond.wait, () => Effect.map(lock.isOwned, (owned) => void (ownedOnInterrupt = owned)))
        )
      ))
      const second = yield* Effect.forkChild(cond.withLock(Effect.andThen(Effect.sync(() => ready++), cond.wait)))
      yield* yieldUntil(() => ready === 2)
      yield* Fiber.interrupt(first)
      assert.isTrue(ownedOnInterrupt)
      assert.isFalse(yield* lock.locked)
      // The one notification goes to the waiter that is still there.
      yield* cond.withLock(cond.notify(1))
      yield* Fiber.join(second)
    }))

  it.effect("a waiter notified then interrupted before it resumes passes the notification on", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      let ready = 0
      const first = yield* Effect.forkChild(cond.withLock(Effect.andThen(Effect.sync(() => ready++), cond.wait)))
      const second = yield* Effect.forkChild(cond.withLock(Effect.andThen(Effect.sync(() => ready++), cond.wait)))
      yield* yieldUntil(() => ready === 2)
      yield* cond.withLock(Effect.gen(function*() {
        yield* cond.notify(1)
        // Interrupt `first` right away: it was chosen but has not resumed.
        yield* Effect.sync(() => first.interruptUnsafe())
      }))
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(first)))
      yield* yieldUntil(() => second.pollUnsafe() !== undefined)
      assert.isTrue(Exit.isSuccess(second.pollUnsafe()!))
    }))

  it.effect("an interrupted timed wait re-takes the lock and leaves it free", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      const cond = yield* Condition.make(lock)
      let ready = false
      const waiter = yield* Effect.forkChild(
        cond.withLock(Effect.andThen(Effect.sync(() => (ready = true)), cond.waitFor("1 minute")))
      )
      yield* yieldUntil(() => ready)
      yield* Fiber.interrupt(waiter)
      assert.isFalse(yield* lock.locked)
      assert.isTrue(yield* lock.tryAcquire)
    }))

  it.effect("works over a plain Lock; acquire and release delegate to it", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make
      const cond = yield* Condition.make(lock)
      yield* cond.acquire
      assert.isTrue(yield* lock.locked)
      yield* cond.release
      assert.isFalse(yield* lock.locked)
      let ready = false
      const waiter = yield* Effect.forkChild(
        cond.withLock(Effect.andThen(Effect.sync(() => (ready = true)), cond.waitFor("1 second")))
      )
      yield* yieldUntil(() => ready)
      yield* cond.withLock(cond.notify())
      assert.isTrue(yield* Fiber.join(waiter))
      assert.isFalse(yield* lock.locked)
    }))

  it.effect("waiting or notifying without the lock fails NotHeldError", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      assert.strictEqual((yield* Effect.flip(cond.wait))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(cond.waitFor(10)))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(cond.waitUntil(() => true)))._tag, "NotHeldError")
      assert.strictEqual((yield* Effect.flip(cond.notify()))._tag, "NotHeldError")
      const error = yield* Effect.flip(cond.notifyAll)
      assert.strictEqual(error._tag, "NotHeldError")
      assert.include(error.message, "Condition.notifyAll")
      // Held by another fiber is not held by this one (the default lock is an RLock).
      yield* cond.acquire
      const other = yield* Effect.forkChild(Effect.flip(cond.wait))
      assert.strictEqual((yield* Fiber.join(other))._tag, "NotHeldError")
      yield* cond.release
    }))

  it.effect("bad arguments fail InvalidArgumentError and leave the lock held", () =>
    Effect.gen(function*() {
      const lock = yield* RLock.make
      const cond = yield* Condition.make(lock)
      yield* lock.acquire
      for (const n of [-1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(cond.notify(n))
        assert.strictEqual(error._tag, "InvalidArgumentError")
      }
      const bad = yield* Effect.flip(cond.waitFor(-1))
      assert.strictEqual(bad._tag, "InvalidArgumentError")
      assert.include(bad.message, "Condition.waitFor")
      assert.strictEqual((yield* Effect.flip(cond.waitUntil(() => false, -5)))._tag, "InvalidArgumentError")
      assert.isTrue(yield* lock.isOwned)
      yield* cond.notify(0) // allowed: wakes nobody
      yield* lock.release
      const notALock = yield* Effect.flip(Condition.make({} as Lock.Lock))
      assert.strictEqual(notALock._tag, "InvalidArgumentError")
      assert.include(notALock.message, "Condition.make")
    }))
})

describe("Condition as values", () => {
  it.effect("members work passed as values or destructured; module functions data-first and data-last", () =>
    Effect.gen(function*() {
      const cond = yield* Condition.make()
      const { notify, notifyAll, wait, waitFor, waitUntil, withLock } = cond
      const items: Array<number> = []
      const consumer = yield* Effect.forkChild(withLock(Effect.andThen(wait, Effect.sync(() => items.shift()))))
      yield* Effect.yieldNow
      yield* withLock(Effect.andThen(Effect.sync(() => items.push(7)), notify()))
      assert.strictEqual(yield* Fiber.join(consumer), 7)
      const timed = yield* Effect.forkChild(Condition.withLock(cond, Condition.waitFor(cond, "1 second")))
      yield* TestClock.adjust("1 second")
      assert.isFalse(yield* Fiber.join(timed))
      assert.isTrue(yield* Effect.succeed(true).pipe(Condition.withLock(cond)))
      assert.isTrue(yield* withLock(waitUntil(() => true)))
      assert.isTrue(yield* withLock(Condition.waitUntil(cond, () => true)))
      assert.isFalse(yield* cond.withLock(waitFor(0)))
      yield* withLock(notifyAll)
      yield* withLock(Condition.notify(cond, 2))
      yield* withLock(Condition.notifyAll(cond))
      assert.strictEqual((yield* Effect.flip(Condition.wait(cond)))._tag, "NotHeldError")
    }))
})
