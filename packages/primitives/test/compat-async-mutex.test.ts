/**
 * The behaviours async-mutex 0.5 documents (its README), run against Weft's
 * drop-in and, as a control, against async-mutex itself: the same tests, so a
 * test that passes on the control and fails on the drop-in is a difference.
 */
import * as Real from "async-mutex"
import { setImmediate } from "node:timers"
import { describe, expect, it } from "vitest"
import * as Compat from "../src/compat/async-mutex.ts"

type Lib = typeof Compat

const implementations: ReadonlyArray<readonly [string, Lib]> = [
  ["@weft/primitives/compat/async-mutex", Compat],
  ["async-mutex 0.5 (control)", Real as unknown as Lib]
]

/** Lets every pending microtask and one macrotask turn run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Waits (bounded) until `condition` holds; a few event-loop turns at most. */
const until = async (condition: () => boolean) => {
  for (let i = 0; i < 50 && !condition(); i++) await settle()
  expect(condition()).toBe(true)
}

/** Tracks whether a promise has settled, without awaiting it. */
const track = <T>(promise: Promise<T>) => {
  const state = { done: false, value: undefined as T | undefined, error: undefined as unknown }
  promise.then((value) => {
    state.done = true
    state.value = value
  }, (error: unknown) => {
    state.done = true
    state.error = error
  })
  return state
}

const suite = (lib: Lib) => {
  const { E_ALREADY_LOCKED, E_CANCELED, E_TIMEOUT, Mutex, Semaphore, tryAcquire, withTimeout } = lib

  describe("Mutex", () => {
    it("runExclusive runs callbacks one at a time, in call order, and adopts each result", async () => {
      const mutex = new Mutex()
      const log: Array<string> = []
      const job = (name: string) =>
        mutex.runExclusive(async () => {
          log.push(`${name}+`)
          await settle()
          log.push(`${name}-`)
          return name
        })
      expect(await Promise.all([job("a"), job("b"), job("c")])).toEqual(["a", "b", "c"])
      expect(log).toEqual(["a+", "a-", "b+", "b-", "c+", "c-"])
      expect(mutex.isLocked()).toBe(false)
    })

    it("runExclusive calls its callback asynchronously, even when the mutex is free", async () => {
      const mutex = new Mutex()
      let called = false
      const result = mutex.runExclusive(() => {
        called = true
        return 1
      })
      expect(called).toBe(false)
      expect(await result).toBe(1)
    })

    it("runExclusive rejects with the callback's error (thrown or rejected) and releases the mutex", async () => {
      const mutex = new Mutex()
      const boom = new Error("boom")
      await expect(mutex.runExclusive(() => {
        throw boom
      })).rejects.toBe(boom)
      expect(mutex.isLocked()).toBe(false)
      await expect(mutex.runExclusive(() => Promise.reject(boom))).rejects.toBe(boom)
      expect(mutex.isLocked()).toBe(false)
    })

    it("acquire resolves with a releaser; isLocked is synchronous; the releaser is idempotent", async () => {
      const mutex = new Mutex()
      expect(mutex.isLocked()).toBe(false)
      const releaseA = await mutex.acquire()
      expect(mutex.isLocked()).toBe(true)
      const b = track(mutex.acquire())
      await settle()
      expect(b.done).toBe(false)
      releaseA()
      await until(() => b.done)
      expect(mutex.isLocked()).toBe(true) // now B's
      releaseA() // a second call must not release B's hold
      expect(mutex.isLocked()).toBe(true)
      b.value!()
      expect(mutex.isLocked()).toBe(false)
    })

    it("unscoped release() frees the mutex; on a free mutex it does nothing", async () => {
      const mutex = new Mutex()
      await mutex.acquire()
      mutex.release()
      expect(mutex.isLocked()).toBe(false)
      mutex.release()
      expect(mutex.isLocked()).toBe(false)
      const release = await mutex.acquire()
      expect(mutex.isLocked()).toBe(true) // the extra release did not leave a second permit behind
      const second = track(mutex.acquire())
      await settle()
      expect(second.done).toBe(false)
      release()
      await until(() => second.done)
    })

    it("waiters of equal priority are served first come, first served", async () => {
      const mutex = new Mutex()
      const release = await mutex.acquire()
      const order: Array<number> = []
      const all = [1, 2, 3, 4].map((n) => mutex.runExclusive(() => void order.push(n)))
      release()
      await Promise.all(all)
      expect(order).toEqual([1, 2, 3, 4])
    })

    it("a higher priority is served first; equal priorities keep their order", async () => {
      const mutex = new Mutex()
      const release = await mutex.acquire()
      const order: Array<string> = []
      const all = [
        mutex.runExclusive(() => void order.push("low"), -1),
        mutex.runExclusive(() => void order.push("zero-a")),
        mutex.runExclusive(() => void order.push("high-a"), 5),
        mutex.runExclusive(() => void order.push("zero-b"), 0),
        mutex.runExclusive(() => void order.push("high-b"), 5),
        mutex.acquire(2).then((r) => {
          order.push("mid")
          r()
        })
      ]
      release()
      await Promise.all(all)
      expect(order).toEqual(["high-a", "high-b", "mid", "zero-a", "zero-b", "low"])
    })

    it("cancel() rejects every pending waiter with E_CANCELED; the holder keeps the mutex", async () => {
      const mutex = new Mutex()
      const release = await mutex.acquire()
      let ran = false
      const pending = mutex.runExclusive(() => {
        ran = true
      })
      const acquiring = mutex.acquire()
      mutex.cancel()
      await expect(pending).rejects.toBe(E_CANCELED)
      await expect(acquiring).rejects.toBe(E_CANCELED)
      expect(ran).toBe(false)
      expect(mutex.isLocked()).toBe(true)
      release()
      expect(mutex.isLocked()).toBe(false)
      expect(await mutex.runExclusive(() => "after")).toBe("after")
    })

    it("cancel() rejects with the error given to the constructor", async () => {
      const custom = new Error("fancy custom error")
      const mutex = new Mutex(custom)
      await mutex.acquire()
      const pending = mutex.acquire()
      mutex.cancel()
      await expect(pending).rejects.toBe(custom)
    })

    it("waitForUnlock resolves once the mutex is free, without locking it", async () => {
      const mutex = new Mutex()
      await mutex.waitForUnlock() // free: at once
      expect(mutex.isLocked()).toBe(false)
      const release = await mutex.acquire()
      const waiting = track(mutex.waitForUnlock())
      await settle()
      expect(waiting.done).toBe(false)
      release()
      await until(() => waiting.done)
      expect(mutex.isLocked()).toBe(false)
    })

    it("waitForUnlock(priority) waits behind queued waiters of equal or higher priority", async () => {
      const mutex = new Mutex()
      const release = await mutex.acquire()
      const queued = mutex.acquire(1)
      const equal = track(mutex.waitForUnlock(1))
      const higher = track(mutex.waitForUnlock(2))
      release()
      await until(() => higher.done)
      const next = await queued // the queued waiter got the mutex
      await settle()
      expect(equal.done).toBe(false)
      next()
      await until(() => equal.done)
    })
  })

  describe("Semaphore", () => {
    it("acquire resolves with [value before, releaser] and decrements the value", async () => {
      const sem = new Semaphore(3)
      const [value, release] = await sem.acquire()
      expect(value).toBe(3)
      expect(sem.getValue()).toBe(2)
      const [value2] = await sem.acquire(2)
      expect(value2).toBe(2)
      expect(sem.getValue()).toBe(0)
      expect(sem.isLocked()).toBe(true)
      release()
      expect(sem.getValue()).toBe(1)
    })

    it("the releaser is idempotent: acquire, release, release leaves the initial value", async () => {
      const sem = new Semaphore(2)
      const [, release] = await sem.acquire()
      release()
      release()
      expect(sem.getValue()).toBe(2)
    })

    it("a weighted request waits until the value reaches its weight, and holds that weight", async () => {
      const sem = new Semaphore(2)
      const [, r1] = await sem.acquire()
      const heavy = track(sem.runExclusive(async (value) => {
        expect(sem.getValue()).toBe(0)
        return value
      }, 2))
      await settle()
      expect(heavy.done).toBe(false)
      r1()
      await until(() => heavy.done)
      expect(heavy.value).toBe(2)
      expect(sem.getValue()).toBe(2)
    })

    it("runExclusive passes the value, calls back asynchronously, releases on error", async () => {
      const sem = new Semaphore(4)
      let called = false
      const result = sem.runExclusive((value) => {
        called = true
        return value * 10
      })
      expect(called).toBe(false)
      expect(await result).toBe(40)
      const boom = new Error("boom")
      await expect(sem.runExclusive(() => Promise.reject(boom), 3)).rejects.toBe(boom)
      expect(sem.getValue()).toBe(4)
    })

    it("never lets more than the value run at once", async () => {
      const sem = new Semaphore(3)
      let inside = 0
      let most = 0
      await Promise.all(Array.from({ length: 12 }, () =>
        sem.runExclusive(async () => {
          most = Math.max(most, ++inside)
          await settle()
          inside--
        })))
      expect(most).toBe(3)
      expect(sem.getValue()).toBe(3)
    })

    it("isLocked when the value is zero or negative; the initial value may be negative", async () => {
      const sem = new Semaphore(-1)
      expect(sem.isLocked()).toBe(true)
      const waiting = track(sem.acquire())
      sem.release()
      expect(sem.getValue()).toBe(0)
      await settle()
      expect(waiting.done).toBe(false)
      sem.release()
      await until(() => waiting.done)
      expect(sem.getValue()).toBe(0)
    })

    it("setValue sets the value and schedules pending waiters", async () => {
      const sem = new Semaphore(0)
      const a = track(sem.acquire())
      const b = track(sem.acquire(2))
      sem.setValue(3)
      await until(() => a.done && b.done)
      expect(sem.getValue()).toBe(0)
      sem.setValue(-5)
      expect(sem.getValue()).toBe(-5)
      expect(sem.isLocked()).toBe(true)
    })

    it("unscoped release(weight) increments by that weight", async () => {
      const sem = new Semaphore(1)
      await sem.acquire()
      sem.release(3)
      expect(sem.getValue()).toBe(3)
    })

    it("a weight <= 0 is refused: acquire and release throw, runExclusive rejects", async () => {
      const sem = new Semaphore(1)
      expect(() => sem.acquire(0)).toThrow()
      expect(() => sem.acquire(-1)).toThrow()
      expect(() => sem.release(0)).toThrow()
      expect(() => sem.waitForUnlock(0)).toThrow()
      await expect(sem.runExclusive(() => 1, 0)).rejects.toThrow()
      expect(sem.getValue()).toBe(1)
    })

    it("a higher priority is served first, ahead of a heavier request queued earlier", async () => {
      const sem = new Semaphore(1)
      const heavy = track(sem.acquire(2)) // waits: the value is 1
      await settle()
      const [value, release] = await sem.acquire(1, 1) // higher priority than every waiter: at once
      expect(value).toBe(1)
      expect(heavy.done).toBe(false)
      release()
      const plain = track(sem.acquire(1)) // equal priority: behind the heavy request
      await settle()
      expect(plain.done).toBe(false)
      sem.release()
      await until(() => heavy.done)
      expect(plain.done).toBe(false)
    })

    it("cancel() rejects pending waiters with E_CANCELED or the constructor's error; held weight stays held", async () => {
      const sem = new Semaphore(1)
      await sem.acquire()
      const pending = sem.acquire()
      sem.cancel()
      await expect(pending).rejects.toBe(E_CANCELED)
      expect(sem.getValue()).toBe(0)
      const custom = new Error("custom")
      const other = new Semaphore(0, custom)
      const waiting = other.runExclusive(() => 1)
      other.cancel()
      await expect(waiting).rejects.toBe(custom)
    })

    it("waitForUnlock(weight, priority) resolves once that request could be served, without taking anything", async () => {
      const sem = new Semaphore(0)
      const one = track(sem.waitForUnlock())
      const two = track(sem.waitForUnlock(2))
      sem.release()
      await until(() => one.done)
      expect(two.done).toBe(false)
      expect(sem.getValue()).toBe(1)
      sem.release()
      await until(() => two.done)
      expect(sem.getValue()).toBe(2)
      await sem.acquire(2)
      const queued = sem.acquire()
      const low = track(sem.waitForUnlock(1, 0))
      const high = track(sem.waitForUnlock(1, 1))
      sem.release()
      await until(() => high.done)
      await queued
      await settle()
      expect(low.done).toBe(false)
    })
  })

  describe("withTimeout", () => {
    it("acquire rejects with E_TIMEOUT when the mutex stays locked; runExclusive does not run its callback", async () => {
      const mutex = new Mutex()
      const release = await mutex.acquire()
      const timed = withTimeout(mutex, 20)
      await expect(timed.acquire()).rejects.toBe(E_TIMEOUT)
      let ran = false
      await expect(timed.runExclusive(() => {
        ran = true
      })).rejects.toBe(E_TIMEOUT)
      expect(ran).toBe(false)
      release()
      // The timed-out requests hold nothing: the mutex ends up free.
      await until(() => !mutex.isLocked())
      expect(await mutex.runExclusive(() => "free")).toBe("free")
    })

    it("rejects with a custom timeout error", async () => {
      const custom = new Error("new fancy error")
      const sem = new Semaphore(0)
      await expect(withTimeout(sem, 10, custom).acquire()).rejects.toBe(custom)
    })

    it("succeeds when the lock comes free in time, with the usual results", async () => {
      const mutex = new Mutex()
      const release = await mutex.acquire()
      const timed = withTimeout(mutex, 10_000)
      const result = timed.runExclusive(() => "ran")
      release()
      expect(await result).toBe("ran")
      const releaser = await timed.acquire()
      expect(timed.isLocked()).toBe(true)
      releaser()
      expect(timed.isLocked()).toBe(false)

      const sem = withTimeout(new Semaphore(3), 10_000)
      const [value, releaseSem] = await sem.acquire(2)
      expect(value).toBe(3)
      expect(sem.getValue()).toBe(1)
      releaseSem()
      expect(await sem.runExclusive((v) => v, 3)).toBe(3)
      sem.setValue(7)
      expect(sem.getValue()).toBe(7)
    })

    it("a timed semaphore keeps release, cancel and waitForUnlock", async () => {
      const inner = new Semaphore(0)
      const sem = withTimeout(inner, 10_000)
      const pending = sem.acquire()
      sem.cancel()
      await expect(pending).rejects.toBe(E_CANCELED)
      await expect(withTimeout(inner, 10).waitForUnlock()).rejects.toBe(E_TIMEOUT)
      const waiting = sem.waitForUnlock()
      sem.release()
      await waiting
      expect(inner.getValue()).toBe(1)
    })
  })

  describe("tryAcquire", () => {
    it("takes a free mutex or semaphore as usual", async () => {
      const mutex = new Mutex()
      expect(await tryAcquire(mutex).runExclusive(() => "ok")).toBe("ok")
      const release = await tryAcquire(mutex).acquire()
      expect(mutex.isLocked()).toBe(true)
      release()
      const [value] = await tryAcquire(new Semaphore(2)).acquire(2)
      expect(value).toBe(2)
    })

    it("rejects with E_ALREADY_LOCKED when it is taken, without running the callback", async () => {
      const mutex = new Mutex()
      const release = await mutex.acquire()
      let ran = false
      await expect(tryAcquire(mutex).runExclusive(() => {
        ran = true
      })).rejects.toBe(E_ALREADY_LOCKED)
      await expect(tryAcquire(mutex).acquire()).rejects.toBe(E_ALREADY_LOCKED)
      expect(ran).toBe(false)
      await expect(tryAcquire(new Semaphore(1)).acquire(2)).rejects.toBe(E_ALREADY_LOCKED)
      release()
      await until(() => !mutex.isLocked())
    })

    it("rejects with a custom error", async () => {
      const custom = new Error("new fancy error")
      const mutex = new Mutex()
      await mutex.acquire()
      await expect(tryAcquire(mutex, custom).acquire()).rejects.toBe(custom)
    })
  })
}

for (const [name, lib] of implementations) {
  describe(name, () => suite(lib))
}

describe("the drop-in over Weft", () => {
  it("shares one queue with Effect code through mutex.lock", async () => {
    const { Effect } = await import("effect")
    const mutex = new Compat.Mutex()
    const release = await mutex.acquire()
    const fiber = Effect.runPromise(mutex.lock.withLock(Effect.succeed("fiber")))
    const promise = mutex.runExclusive(() => "promise")
    release()
    expect(await Promise.all([fiber, promise])).toEqual(["fiber", "promise"])
    expect(mutex.isLocked()).toBe(false)
  })

  it("a bad weight is Weft's InvalidArgumentError, naming the weight", () => {
    const sem = new Compat.Semaphore(1)
    expect(() => sem.acquire(0)).toThrow(/Semaphore\.acquire: weight must be a positive number, got 0/)
  })
})
