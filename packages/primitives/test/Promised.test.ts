import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Lock, NotHeldError, Promised, Queue, QueueEmptyError, SharedLock, SharedSemaphore } from "../src/index.ts"

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1))

describe("Promised", () => {
  // The same behaviours through the fast path (fiber Lock) and the generic one (SharedLock).
  for (const [scope, make] of [["Lock", () => Promised.lock()], ["SharedLock", () => Promised.lock(SharedLock.makeUnsafe())]] as const) {
    it(`${scope}: runExclusive excludes, in FIFO order, and returns fn's value`, async () => {
      const mutex = make()
      let inside = 0
      let most = 0
      const order: Array<number> = []
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) =>
        mutex.runExclusive(async () => {
          inside++
          most = Math.max(most, inside)
          await tick()
          order.push(i)
          inside--
          return i * 10
        })))
      expect(most).toBe(1)
      expect(order).toEqual([0, 1, 2, 3, 4])
      expect(results).toEqual([0, 10, 20, 30, 40])
      expect(await mutex.isLocked()).toBe(false)
    })

    it(`${scope}: a throwing or rejecting fn rejects with its own error and leaves the lock free`, async () => {
      const mutex = make()
      const error = new Error("boom")
      await expect(mutex.runExclusive(() => { throw error })).rejects.toBe(error)
      await expect(mutex.runExclusive(() => Promise.reject(error))).rejects.toBe(error)
      expect(await mutex.isLocked()).toBe(false)
      expect(await mutex.runExclusive(() => "after")).toBe("after")
    })

    it(`${scope}: acquire, tryAcquire, acquireFor, release; release of a free lock rejects with NotHeldError`, async () => {
      const mutex = make()
      await mutex.acquire()
      expect(await mutex.tryAcquire()).toBe(false)
      expect(await mutex.acquireFor(5)).toBe(false)
      await mutex.release()
      expect(await mutex.acquireFor("1 second")).toBe(true)
      await mutex.release()
      await expect(mutex.release()).rejects.toBeInstanceOf(NotHeldError)
    })
  }

  it("acquire resolves with a one-shot releaser: a second call cannot free someone else's hold", async () => {
    const mutex = Promised.lock()
    const releaseA = await mutex.acquire()
    const b = mutex.acquire()
    await releaseA()
    const releaseB = await b
    await releaseA() // A's second call: B keeps the lock
    expect(await mutex.isLocked()).toBe(true)
    await releaseB()
    expect(await mutex.isLocked()).toBe(false)

    const slots = Promised.semaphore(2)
    const release = await slots.acquire()
    await release()
    await release()
    expect(await slots.available()).toBe(2) // not 3
    const releaseTwo = await slots.acquire(2)
    expect(await slots.available()).toBe(0)
    await releaseTwo()
    expect(await slots.available()).toBe(2)
  })

  it("the releaser works the same over a lock of another scope (through its effects)", async () => {
    const inner = Effect.runSync(Lock.make)
    // Only the interface's members: no fast path to the permits underneath.
    const { acquire, tryAcquire, acquireFor, release: unscoped, withLock, locked } = inner
    const mutex = Promised.lock({ acquire, tryAcquire, acquireFor, release: unscoped, withLock, locked })
    const release = await mutex.acquire()
    await release()
    await release()
    expect(await mutex.isLocked()).toBe(false)
  })

  it("a Promise caller and an Effect caller share one FIFO queue on the same Lock", async () => {
    const lock = Lock.makeUnsafe()
    const mutex = Promised.lock(lock)
    const order: Array<string> = []
    await mutex.acquire()
    const effectSide = Effect.runPromise(lock.withLock(Effect.sync(() => order.push("effect"))))
    await tick()
    const promiseSide = mutex.runExclusive(() => order.push("promise"))
    await mutex.release()
    await Promise.all([effectSide, promiseSide])
    expect(order).toEqual(["effect", "promise"])
  })

  for (const [scope, make] of [["Semaphore", () => Promised.semaphore(2)], ["SharedSemaphore", () => Promised.semaphore(Effect.runSync(SharedSemaphore.make(2)))]] as const) {
    it(`${scope}: runExclusive never lets more than the permits in; a bad k rejects`, async () => {
      const slots = make()
      let inside = 0
      let most = 0
      await Promise.all(Array.from({ length: 8 }, () =>
        slots.runExclusive(async () => {
          inside++
          most = Math.max(most, inside)
          await tick()
          inside--
        })))
      expect(most).toBe(2)
      expect(await slots.available()).toBe(2)
      await slots.runExclusive(async () => expect(await slots.available()).toBe(0), 2)
      await expect(slots.runExclusive(() => 1, 0)).rejects.toMatchObject({ _tag: "InvalidArgumentError" })
      await slots.acquire(2)
      expect(await slots.tryAcquire()).toBe(false)
      expect(await slots.acquireFor(5)).toBe(false)
      await slots.release(2)
    })
  }

  it("Semaphore: a number that is not a permit count throws the InvalidArgumentError", () => {
    expect(() => Promised.semaphore(-1)).toThrow(/permits must be an integer >= 0/)
  })

  it("event: wait resolves once set; waitFor times out with false", async () => {
    const ready = Promised.event()
    expect(await ready.waitFor(5)).toBe(false)
    const waiting = ready.wait()
    await ready.set()
    await waiting
    expect(await ready.isSet()).toBe(true)
    await ready.clear()
    expect(await ready.isSet()).toBe(false)
  })

  it("queue: put/get in order, the Nowait forms reject with the tagged errors, join after taskDone", async () => {
    const queue = Promised.queue(Effect.runSync(Queue.fifo<number>(2)))
    await queue.put(1)
    await queue.putNowait(2)
    expect(await queue.isFull()).toBe(true)
    await expect(queue.putNowait(3)).rejects.toMatchObject({ _tag: "QueueFullError" })
    await expect(queue.putFor(3, 5)).rejects.toMatchObject({ _tag: "QueueFullError" })
    expect(await queue.size()).toBe(2)
    expect(await queue.get()).toBe(1)
    expect(await queue.getFor(5)).toBe(2)
    expect(await queue.isEmpty()).toBe(true)
    await expect(queue.getNowait()).rejects.toBeInstanceOf(QueueEmptyError)
    const joined = queue.join()
    await queue.taskDone()
    await queue.taskDone()
    await joined
    await queue.shutdown()
    await expect(queue.put(1)).rejects.toMatchObject({ _tag: "QueueShutDownError" })
  })
})
