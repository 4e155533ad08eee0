import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Scheduler } from "effect"
import * as Registry from "../src/inspect/Registry.ts"
import { resetStreak } from "../src/internal/handoff.ts"
import * as fc from "fast-check"
import { DeadlockError, Inspect, Lock, Lockdep, LockOrderError, Promised, RelockError, RLock, Semaphore } from "../src/index.ts"

describe("Lockdep.Graph", () => {
  it("records an order and refuses the inverse, naming both orders and places", () => {
    const graph = new Lockdep.Graph()
    expect(graph.record([{ name: "a", where: "x.ts:1" }], "b", "x.ts:2", "fiber #1")).toBeUndefined()
    const error = graph.record([{ name: "b", where: "y.ts:1" }], "a", "y.ts:2", "fiber #2")
    expect(error?._tag).toBe("LockOrderError")
    expect(error?.cycle).toEqual([{ from: "a", to: "b", where: "x.ts:2", who: "fiber #1" }])
    expect(error?.message).toBe(
      "lock order: taking a while holding b (y.ts:2, fiber #2) inverts a -> b (first seen at x.ts:2, fiber #1)"
    )
    // Refused edges are not added: b -> a is still unknown.
    expect(graph.edges().map((e) => `${e.from}->${e.to}`)).toEqual(["a->b"])
  })

  it("finds a longer cycle through the graph and asks for the place only for new edges", () => {
    const graph = new Lockdep.Graph()
    let asked = 0
    const where = () => `place ${++asked}`
    graph.record([{ name: "a", where: "" }], "b", where, "f1")
    graph.record([{ name: "b", where: "" }], "c", where, "f1")
    graph.record([{ name: "a", where: "" }], "b", where, "f2") // known: no place asked
    expect(asked).toBe(2)
    const error = graph.record([{ name: "c", where: "" }], "a", where, "f3")
    expect(error?.cycle.map((e) => `${e.from}->${e.to}`)).toEqual(["a->b", "b->c"])
    expect(error?.held).toBe("c")
  })

  it("ignores nesting within one class", () => {
    const graph = new Lockdep.Graph()
    expect(graph.record([{ name: "a", where: "" }], "a", "here", "f")).toBeUndefined()
    expect(graph.edges()).toEqual([])
  })
})

const defectOf = <A, E>(exit: Exit.Exit<A, E>): unknown => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons.find(Cause.isDieReason)
  return reason?.defect
}

describe("Lockdep at fiber scope", () => {
  it.effect("ABBA at times that never overlap: LockOrderError at the second order's first acquisition, naming both orders and places", () =>
    Effect.gen(function*() {
      const a = yield* Lock.named("abba.accounts")
      const b = yield* Lock.named("abba.audit")
      const log: Array<string> = []
      const transfer = Effect.fn("transfer")(function*() {
        yield* a.withLock(b.withLock(Effect.sync(() => log.push("transfer"))))
      })
      const report = Effect.fn("report")(function*() {
        yield* b.withLock(Effect.andThen(Effect.sync(() => log.push("report took audit")), a.withLock(Effect.sync(() => log.push("never")))))
      })
      yield* Fiber.join(yield* Effect.forkChild(transfer()))
      const exit = yield* Effect.exit(report())
      const error = defectOf(exit)
      assert.instanceOf(error, LockOrderError)
      const e = error as LockOrderError
      assert.strictEqual(e.acquiring, "abba.accounts")
      assert.strictEqual(e.held, "abba.audit")
      assert.deepStrictEqual(e.cycle.map((edge) => [edge.from, edge.to]), [["abba.accounts", "abba.audit"]])
      assert.match(e.cycle[0]!.where, /^transfer \(.*Lockdep\.test\.ts:\d+:\d+\)$/)
      assert.match(e.where, /^report \(.*Lockdep\.test\.ts:\d+:\d+\)$/)
      assert.match(e.message, /taking abba\.accounts while holding abba\.audit \(report .*\) inverts abba\.accounts -> abba\.audit \(first seen at transfer/)
      // It failed before taking accounts, and audit was given back.
      assert.deepStrictEqual(log, ["transfer", "report took audit"])
      assert.isFalse(yield* a.locked)
      assert.isFalse(yield* b.locked)
      assert.strictEqual(Registry.reports().at(-1)?._tag, "LockOrderError")
    }).pipe(Effect.provide(Lockdep.layer)))

  it.effect("re-taking a Lock the fiber holds fails at once with RelockError (it would wait for itself)", () =>
    Effect.gen(function*() {
      const lock = yield* Lock.named("relock.once")
      const exit = yield* Effect.exit(lock.withLock(lock.acquire).pipe(Effect.withSpan("twice")))
      const error = defectOf(exit)
      assert.instanceOf(error, RelockError)
      assert.strictEqual((error as RelockError).lock, "relock.once")
      assert.match((error as RelockError).heldSince, /^twice \(.*Lockdep\.test\.ts:\d+:\d+\)$/)
      assert.isFalse(yield* lock.locked)
      // An RLock nests instead.
      const rlock = yield* RLock.make
      yield* rlock.withLock(rlock.withLock(Effect.void))
    }).pipe(Effect.provide(Lockdep.layer)))

  it.effect("a real deadlock between two fibers: the waiter that closes the cycle gets DeadlockError, the survivor completes", () =>
    Effect.gen(function*() {
      const a = yield* Lock.named("deadlock.a")
      const b = yield* Lock.named("deadlock.b")
      const aTaken = yield* Deferred.make<void>()
      const bTaken = yield* Deferred.make<void>()
      const first = yield* Effect.forkChild(a.withLock(Effect.gen(function*() {
        yield* Deferred.succeed(aTaken, undefined)
        yield* Deferred.await(bTaken)
        yield* b.withLock(Effect.void)
        return "first done"
      })))
      const second = yield* Effect.forkChild(b.withLock(Effect.gen(function*() {
        yield* Deferred.succeed(bTaken, undefined)
        yield* Deferred.await(aTaken)
        // Wait until first really waits for b.
        while (!(yield* Inspect.snapshot).entries.some((e) => e.name === "deadlock.b" && e.waiters.length === 1)) {
          yield* Effect.yieldNow
        }
        yield* a.withLock(Effect.void)
        return "second done"
      })))
      const lost = defectOf(yield* Fiber.await(second))
      assert.instanceOf(lost, DeadlockError)
      assert.deepStrictEqual((lost as DeadlockError).cycle, [
        { who: `fiber #${second.id}`, waitsFor: "deadlock.a", heldBy: `fiber #${first.id}` },
        { who: `fiber #${first.id}`, waitsFor: "deadlock.b", heldBy: `fiber #${second.id}` }
      ])
      assert.strictEqual(yield* Fiber.join(first), "first done")
      assert.isFalse(yield* a.locked)
      assert.isFalse(yield* b.locked)
    }).pipe(Effect.provide(Lockdep.layer)))

  it.effect("the same order in many fibers is quiet, and the switch is restored after the layer", () =>
    Effect.gen(function*() {
      const before = Lockdep.isEnabled()
      yield* Effect.gen(function*() {
        const a = yield* Lock.named("quiet.a")
        const b = yield* Lock.named("quiet.b")
        yield* Effect.all(Array.from({ length: 20 }, () => a.withLock(b.withLock(Effect.yieldNow))), { concurrency: "unbounded" })
        assert.isTrue(Lockdep.isEnabled())
      }).pipe(Effect.provide(Lockdep.layer))
      assert.strictEqual(Lockdep.isEnabled(), before)
    }))
})

describe("Lockdep off: no behaviour change", () => {
  // The same random schedule (fibers taking subsets of three locks in one
  // global order, yielding inside, some interrupted) runs on unnamed locks
  // with checking off and on named ones with checking on: the order in which
  // fibers enter and leave, and how each ends, must be the same. Both runs
  // start with the hand-off's microtask streak reset, so that they start alike.
  it("the same trace with tracking and checking as without, under random interleavings", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            locks: fc.subarray([0, 1, 2], { minLength: 1 }),
            yields: fc.nat(3),
            mode: fc.constantFrom("withLock", "acquire", "try", "semaphore"),
            interruptAfter: fc.option(fc.nat(6), { nil: undefined })
          }),
          { minLength: 1, maxLength: 12 }
        ),
        async (tasks) => {
          const run = (tracked: boolean) =>
            Effect.gen(function*() {
              const locks = yield* Effect.forEach([0, 1, 2], (i) => tracked ? Lock.named(`prop.${i}`) : Lock.make)
              const sem = yield* Effect.orDie(Semaphore.make(2, tracked ? { name: "prop.sem" } : undefined))
              const trace: Array<string> = []
              const body = (t: number, yields: number) =>
                Effect.gen(function*() {
                  trace.push(`${t} in`)
                  for (let i = 0; i < yields; i++) yield* Effect.yieldNow
                  trace.push(`${t} out`)
                })
              const nest = (t: number, held: ReadonlyArray<number>, mode: string, yields: number): Effect.Effect<void> => {
                if (held.length === 0) return body(t, yields)
                const lock = locks[held[0]!]!
                const inner = nest(t, held.slice(1), mode, yields)
                switch (mode) {
                  case "acquire":
                    return Effect.uninterruptibleMask((restore) =>
                      Effect.andThen(restore(lock.acquire), Effect.ensuring(restore(inner), Effect.orDie(lock.release))))
                  case "try":
                    return Effect.flatMap(lock.tryAcquire, (ok) =>
                      ok ? Effect.ensuring(inner, Effect.orDie(lock.release)) : Effect.sync(() => trace.push(`${t} busy`)))
                  default:
                    return lock.withLock(inner)
                }
              }
              // The semaphore, when taken, is taken first: one global order.
              const fibers = yield* Effect.forEach(tasks, (task, t) =>
                Effect.forkChild(
                  task.mode === "semaphore"
                    ? Effect.orDie(sem.withPermits(1)(nest(t, task.locks, "withLock", task.yields)))
                    : nest(t, task.locks, task.mode, task.yields)
                ))
              yield* Effect.forEach(tasks, ({ interruptAfter }, i) =>
                interruptAfter === undefined
                  ? Effect.void
                  : Effect.forkChild(Effect.andThen(Effect.repeat(Effect.yieldNow, { times: interruptAfter }), Fiber.interrupt(fibers[i]!))))
              const exits = yield* Effect.forEach(fibers, Fiber.await)
              const free = yield* Effect.forEach(locks, (l) => l.locked)
              return {
                trace,
                ends: exits.map((e) => Exit.isSuccess(e) ? "done" : Exit.hasInterrupts(e) ? "interrupted" : `died ${Cause.pretty(e.cause)}`),
                free,
                available: yield* sem.available
              }
            })
          // Effect yields a fiber after a budget of operations; the tracked
          // path runs a few more, which would move those yields. Without the
          // budget, only the primitives decide the interleaving.
          const exact = <A>(effect: Effect.Effect<A>) => effect.pipe(Effect.provideService(Scheduler.PreventSchedulerYield, true))
          resetStreak()
          const plain = await Effect.runPromise(exact(run(false)))
          resetStreak()
          const checked = await Effect.runPromise(exact(run(true)).pipe(Effect.provide(Lockdep.layer)))
          assert.deepStrictEqual(checked, plain)
          assert.deepStrictEqual(plain.free, [false, false, false])
        }
      ),
      { numRuns: Number(process.env.RUNS ?? 150) }
    )
  })

  it("with interruptions, checking on: mutual exclusion, no defect, nothing left held", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ locks: fc.subarray([0, 1, 2], { minLength: 1 }), yields: fc.nat(3), interruptAfter: fc.option(fc.nat(6), { nil: undefined }) }),
          { minLength: 1, maxLength: 12 }
        ),
        async (tasks) => {
          const program = Effect.gen(function*() {
            const locks = yield* Effect.forEach([0, 1, 2], (i) => Lock.named(`prop2.${i}`))
            const inside = [0, 0, 0]
            let most = 0
            const nest = (held: ReadonlyArray<number>, yields: number): Effect.Effect<void> =>
              held.length === 0
                ? Effect.repeat(Effect.yieldNow, { times: yields })
                : locks[held[0]!]!.withLock(
                  Effect.suspend(() => {
                    most = Math.max(most, ++inside[held[0]!]!)
                    return Effect.ensuring(nest(held.slice(1), yields), Effect.sync(() => inside[held[0]!]!--))
                  })
                )
            const fibers = yield* Effect.forEach(tasks, (task) => Effect.forkChild(nest(task.locks, task.yields)))
            yield* Effect.forEach(tasks, ({ interruptAfter }, i) =>
              interruptAfter === undefined
                ? Effect.void
                : Effect.forkChild(Effect.andThen(Effect.repeat(Effect.yieldNow, { times: interruptAfter }), Fiber.interrupt(fibers[i]!))))
            const exits = yield* Effect.forEach(fibers, Fiber.await)
            return { exits, most, free: yield* Effect.forEach(locks, (l) => l.locked), snapshot: yield* Inspect.snapshot }
          }).pipe(Effect.provide(Lockdep.layer))
          const { exits, most, free, snapshot } = await Effect.runPromise(program)
          assert.isAtMost(most, 1)
          assert.deepStrictEqual(free, [false, false, false])
          for (const exit of exits) assert.isTrue(Exit.isSuccess(exit) || Exit.hasInterrupts(exit))
          for (const entry of snapshot.entries.filter((e) => e.name.startsWith("prop2."))) {
            assert.deepStrictEqual([entry.holders.length, entry.waiters.length], [0, 0])
          }
        }
      ),
      { numRuns: 150 }
    )
  })
})

describe("Lockdep for the Promise face", () => {
  it("ABBA through nested runExclusive calls: LockOrderError at the second order; a nested re-take: RelockError", async () => {
    Lockdep.enable()
    try {
      const a = Promised.lock({ name: "promise.a" })
      const b = Promised.lock({ name: "promise.b" })
      await a.runExclusive(() => b.runExclusive(async () => "a then b"))
      const inverted = await b.runExclusive(() => a.runExclusive(async () => "never")).then(() => undefined, (e) => e)
      assert.instanceOf(inverted, LockOrderError)
      assert.strictEqual((inverted as LockOrderError).acquiring, "promise.a")
      assert.strictEqual((inverted as LockOrderError).held, "promise.b")
      // Concurrent calls are not nested: no order between them.
      await Promise.all([a.runExclusive(async () => 1), b.runExclusive(async () => 2)])
      const relock = await a.runExclusive(() => a.runExclusive(async () => "never")).then(() => undefined, (e) => e)
      assert.instanceOf(relock, RelockError)
      assert.isFalse(await a.isLocked())
      assert.isFalse(await b.isLocked())
    } finally {
      Lockdep.disable()
    }
  })

  it("a real deadlock between two async tasks: one gets DeadlockError, the other completes", async () => {
    Lockdep.enable()
    try {
      const a = Promised.lock({ name: "promise.dl.a" })
      const b = Promised.lock({ name: "promise.dl.b" })
      let aHeld!: () => void
      let bHeld!: () => void
      const aTaken = new Promise<void>((resolve) => (aHeld = resolve))
      const bTaken = new Promise<void>((resolve) => (bHeld = resolve))
      const first = a.runExclusive(async () => {
        aHeld()
        await bTaken
        return b.runExclusive(async () => "first done")
      })
      const second = b.runExclusive(async () => {
        bHeld()
        await aTaken
        // Until first waits for b.
        while (!(await Inspect.snapshotPromise()).entries.some((e) => e.name === "promise.dl.b" && e.waiters.length === 1)) {
          await new Promise((resolve) => setTimeout(resolve, 1))
        }
        return a.runExclusive(async () => "second done")
      })
      const lost = await second.then(() => undefined, (e) => e)
      assert.instanceOf(lost, DeadlockError)
      assert.strictEqual(await first, "first done")
    } finally {
      Lockdep.disable()
    }
  })
})
