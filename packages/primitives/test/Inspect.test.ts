import { assert, describe, it } from "@effect/vitest"
import { argv } from "@weft/testkit"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as Registry from "../src/inspect/Registry.ts"
import { Barrier, Condition, Event, Inspect, Lock, PubSub, Queue, RLock, Semaphore } from "../src/index.ts"

const entryOf = (snapshot: Registry.Snapshot, name: string) => {
  const entry = snapshot.entries.find((e) => e.name === name)
  assert.isDefined(entry, `${name} is listed`)
  return entry!
}

describe("Inspect", () => {
  it.effect("the snapshot shows a fiber holding a lock and three waiters whose ages grow", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.named("inspect.accounts")
      const holder = yield* Effect.forkChild(lock.withLock(Effect.never).pipe(Effect.withSpan("hold accounts")))
      yield* Effect.yieldNow
      const waiters: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("100 millis")
        waiters.push(yield* Effect.forkChild(lock.withLock(Effect.void)))
        yield* Effect.yieldNow
      }
      yield* TestClock.adjust("50 millis")
      const first = yield* Inspect.snapshot
      const entry = entryOf(first, "inspect.accounts")
      assert.strictEqual(entry.kind, "Lock")
      assert.strictEqual(entry.scope, "fiber")
      assert.isTrue(entry.named)
      assert.strictEqual(entry.holders.length, 1)
      assert.strictEqual(entry.holders[0]!.who, `fiber #${holder.id}`)
      assert.match(entry.holders[0]!.where!, /^hold accounts/)
      assert.strictEqual(first.at - entry.holders[0]!.since, 350)
      assert.deepStrictEqual(entry.waiters.map((w) => w.who), waiters.map((f) => `fiber #${f.id}`))
      assert.deepStrictEqual(entry.waiters.map((w) => first.at - w.since), [250, 150, 50])
      assert.strictEqual(entry.contention?.longestWait, 250)

      yield* TestClock.adjust("1 second")
      const later = entryOf(yield* Inspect.snapshot, "inspect.accounts")
      assert.deepStrictEqual(later.waiters.map((w) => w.since), entry.waiters.map((w) => w.since))
      assert.strictEqual(later.contention?.longestWait, 1250)

      const text = Inspect.dump(yield* Inspect.snapshot)
      assert.match(text, /"inspect\.accounts" Lock \(fiber\): held by 1, 3 waiting/)
      assert.match(text, new RegExp(`held by fiber #${holder.id}, for 1\\.35s, at hold accounts`))
      assert.match(text, new RegExp(`waiting fiber #${waiters[0]!.id}, for 1\\.25s`))

      yield* Fiber.interrupt(holder)
      yield* Fiber.joinAll(waiters)
      const done = entryOf(yield* Inspect.snapshot, "inspect.accounts")
      assert.strictEqual(done.holders.length, 0)
      assert.strictEqual(done.waiters.length, 0)
      assert.strictEqual(done.contention?.acquisitions, 4)
      assert.strictEqual(done.contention?.contended, 3)
    }))

  it.effect("an unnamed lock is listed by kind with what its counts tell", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.make.pipe(Effect.withSpan("make the unnamed lock"))
      yield* lock.acquire
      const fiber = yield* Effect.forkChild(lock.acquire)
      yield* Effect.yieldNow
      const entry = (yield* Inspect.snapshot).entries.find((e) => e.name.startsWith("Lock@make the unnamed lock"))
      assert.isDefined(entry)
      assert.isFalse(entry!.named)
      assert.deepStrictEqual(entry!.holders, [])
      assert.strictEqual(entry!.counts?.held, 1)
      assert.strictEqual(entry!.counts?.waiting, 1)
      assert.isUndefined(entry!.contention)
      yield* lock.release
      yield* Fiber.join(fiber)
    }))

  it.effect("a queue and a semaphore show their counts", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.fifo<number>(2, { name: "inspect.jobs" })
      yield* queue.put(1)
      const sem = yield* Semaphore.make(3, { name: "inspect.slots" })
      yield* sem.acquire(2)
      const snapshot = yield* Inspect.snapshot
      assert.deepStrictEqual(entryOf(snapshot, "inspect.jobs").counts, { size: 1, maxsize: 2, getters: 0, putters: 0, unfinished: 1 })
      const slots = entryOf(snapshot, "inspect.slots")
      assert.strictEqual(slots.counts?.free, 1)
      assert.strictEqual(slots.holders[0]?.permits, 2)
    }))

  it.effect("an event, a condition and a pubsub show who waits on them", () =>
    Effect.gen(function*() {
      const ready = yield* Event.named("inspect.ready")
      const cond = yield* Condition.named("inspect.cond")
      const news = yield* PubSub.make<string>({ name: "inspect.news" })
      const waiter = yield* Effect.forkChild(ready.wait)
      const condWaiter = yield* Effect.forkChild(cond.withLock(cond.wait))
      const reader = yield* Effect.forkChild(Effect.scoped(Effect.flatMap(news.subscribe, (sub) => sub.take)))
      yield* TestClock.adjust("20 millis")
      const snapshot = yield* Inspect.snapshot
      assert.deepStrictEqual(entryOf(snapshot, "inspect.ready").waiters.map((w) => [w.who, snapshot.at - w.since]), [[`fiber #${waiter.id}`, 20]])
      assert.deepStrictEqual(entryOf(snapshot, "inspect.ready").counts, { set: 0 })
      assert.deepStrictEqual(entryOf(snapshot, "inspect.cond").waiters.map((w) => w.who), [`fiber #${condWaiter.id}`])
      assert.deepStrictEqual(entryOf(snapshot, "inspect.news").counts, { subscribers: 1 })
      assert.deepStrictEqual(entryOf(snapshot, "inspect.news").waiters.map((w) => w.who), [`fiber #${reader.id}`])
      yield* ready.set
      yield* cond.withLock(cond.notifyAll)
      yield* news.publish("hello")
      assert.strictEqual(yield* Fiber.join(reader), "hello")
      yield* Fiber.join(waiter)
      yield* Fiber.join(condWaiter)
      const after = yield* Inspect.snapshot
      for (const name of ["inspect.ready", "inspect.cond", "inspect.news"]) assert.deepStrictEqual(entryOf(after, name).waiters, [])
    }))

  it.effect("the contention profile and the Effect metrics match counted acquisitions", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.named("inspect.metered")
      let counted = 0
      const work = lock.withLock(Effect.andThen(Effect.sleep("10 millis"), Effect.sync(() => counted++)))
      const fibers = yield* Effect.forkChild(Effect.all(Array.from({ length: 5 }, () => work), { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fibers)
      yield* lock.acquire
      counted++
      yield* lock.release
      const entry = entryOf(yield* Inspect.snapshot, "inspect.metered")
      assert.strictEqual(counted, 6)
      assert.strictEqual(entry.contention?.acquisitions, 6)
      assert.strictEqual(entry.contention?.contended, 4)
      assert.strictEqual(entry.contention?.hold.count, 6)
      assert.strictEqual(entry.contention?.hold.max, 10)
      assert.strictEqual(entry.contention?.wait.max, 40)
      const series = (yield* Metric.snapshot).filter((m) => m.attributes?.name === "inspect.metered")
      const byId = new Map(series.map((m) => [m.id, m]))
      const count = (id: string) => (byId.get(id)?.state as { count: number } | undefined)?.count
      assert.strictEqual(count("weft_acquisitions_total"), 6)
      assert.strictEqual(count("weft_contended_acquisitions_total"), 4)
      assert.strictEqual(count("weft_wait_ms"), 6)
      assert.strictEqual(count("weft_hold_ms"), 6)
      assert.deepStrictEqual(byId.get("weft_acquisitions_total")?.attributes, { kind: "Lock", name: "inspect.metered" })
      assert.strictEqual((byId.get("weft_longest_wait_ms")?.state as { value: number }).value, 0)
      const text = Inspect.prometheus(series)
      assert.include(text, `weft_acquisitions_total{kind="Lock",name="inspect.metered"} 6`)
      assert.include(text, `weft_hold_ms_bucket{kind="Lock",name="inspect.metered",le="10"} 6`)
      assert.include(text, `weft_hold_ms_count{kind="Lock",name="inspect.metered"} 6`)
    }))

  it.effect("snapshotPromise and the label", () =>
    Effect.gen(function*() {
      Inspect.setLabel("inspect test")
      const snapshot = yield* Effect.promise(() => Inspect.snapshotPromise())
      Inspect.setLabel(undefined)
      assert.strictEqual(snapshot.label, "inspect test")
      assert.strictEqual(snapshot.pid, process.pid)
      assert.isString(snapshot.machine)
      assert.match(Inspect.dump(snapshot), /^Weft dump pid \d+ \(inspect test\) on /)
    }))
})

describe("Inspect.dumpOnSignal", () => {
  // Windows has no SIGUSR2.
  it.skipIf(process.platform === "win32")("prints the dump to stderr on SIGUSR2 (a child process on this runtime)", async () => {
    const file = fileURLToPath(new URL("./fixtures/dump-on-signal.ts", import.meta.url))
    const [command, ...args] = argv(file)
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] })
    try {
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d) => (stdout += d))
      child.stderr.on("data", (d) => (stderr += d))
      const until = async (done: () => boolean, what: string) => {
        const deadline = Date.now() + 15_000
        while (!done()) {
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what}; stdout: ${stdout}; stderr: ${stderr}`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
      await until(() => stdout.includes("ready"), "the child never got ready")
      child.kill("SIGUSR2")
      await until(() => stderr.includes("waiting fiber"), "no dump on SIGUSR2")
      assert.match(stderr, /Weft dump pid \d+ \(signal fixture\)/)
      assert.match(stderr, /"signal\.lock" Lock \(fiber\): held by 1, 1 waiting/)
      assert.match(stderr, /held by fiber #\d+, for \d+ms, at holding/)
    } finally {
      child.kill("SIGKILL")
    }
  })
})

// Forcing a collection needs a runtime hook: Node's --expose-gc (set here
// through v8.setFlagsFromString), Bun.gc. Deno has neither without flags.
const forceGc: (() => void) | undefined = await (async () => {
  const bun = (globalThis as { Bun?: { gc(full: boolean): void } }).Bun
  if (bun !== undefined) return () => bun.gc(true)
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) return undefined
  try {
    const v8 = await import("node:v8")
    const vm = await import("node:vm")
    v8.setFlagsFromString("--expose-gc")
    return vm.runInNewContext("gc") as () => void
  } catch {
    return undefined
  }
})()

describe("Registry", () => {
  it.skipIf(forceGc === undefined)("does not keep a primitive of any kind alive (skipped where the runtime cannot force a collection: Deno without --v8-flags=--expose-gc)", async () => {
    let refs: Array<WeakRef<object>> = []
    let plain: WeakRef<object> | undefined
    ;(() => {
      refs = [
        Lock.makeUnsafe({ name: "inspect.collected" }),
        Lock.makeUnsafe(),
        Effect.runSync(RLock.named("inspect.collected.rlock")),
        Effect.runSync(Effect.orDie(Semaphore.make(2, { name: "inspect.collected.sem" }))),
        Effect.runSync(Effect.orDie(Queue.fifo(1, { name: "inspect.collected.queue" }))),
        Effect.runSync(Effect.orDie(Barrier.make(2, undefined, { name: "inspect.collected.barrier" }))),
        Effect.runSync(Condition.named("inspect.collected.cond")),
        Effect.runSync(Event.named("inspect.collected.event")),
        Effect.runSync(PubSub.make({ name: "inspect.collected.pubsub" }))
      ].map((p) => new WeakRef(p as object))
      plain = new WeakRef({})
    })()
    // No deref() before collecting: it keeps the target alive until the job ends.
    for (let i = 0; i < 5; i++) {
      forceGc!()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.isUndefined(plain!.deref(), "the runtime collects a plain object")
    assert.deepStrictEqual(refs.map((r) => r.deref() === undefined), refs.map(() => true))
    const entries = await Registry.describeAll()
    assert.deepStrictEqual(entries.filter((e) => e.name.startsWith("inspect.collected")).map((e) => e.name), [])
  })

  it.skipIf(forceGc === undefined)("keeps listing a lock that a fiber holds after the program dropped it, until it is let go", async () => {
    let holder: Fiber.Fiber<never> | undefined
    ;(() => {
      const lock = Lock.makeUnsafe({ name: "inspect.pinned" })
      holder = Effect.runFork(lock.withLock(Effect.never))
    })()
    await new Promise((resolve) => setTimeout(resolve, 10))
    const listed = async () => (await Registry.describeAll()).some((e) => e.name === "inspect.pinned")
    for (let i = 0; i < 3; i++) {
      forceGc!()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.isTrue(await listed())
    await Effect.runPromise(Fiber.interrupt(holder!))
    holder = undefined
    for (let i = 0; i < 5; i++) {
      forceGc!()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.isFalse(await listed())
  })
})
