import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Barrier, type BrokenBarrierError } from "../src/index.ts"

// Lets other fibers run until `n` parties wait (bounded: fails the test instead of hanging).
const waitingIs = (barrier: Barrier.Barrier, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && (yield* barrier.waiting) !== n; i++) yield* Effect.yieldNow
    assert.strictEqual(yield* barrier.waiting, n)
  })

const reasonOf = (fiber: Fiber.Fiber<number, BrokenBarrierError>) =>
  Effect.map(Effect.flip(Fiber.join(fiber)), (error) => error.reason)

describe("Barrier", () => {
  it.effect("releases all parties together; each gets a distinct arrival index", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      assert.strictEqual(barrier.parties, 3)
      const first = yield* Effect.forkChild(barrier.wait)
      const second = yield* Effect.forkChild(barrier.wait)
      yield* waitingIs(barrier, 2)
      assert.isUndefined(first.pollUnsafe())
      const last = yield* barrier.wait
      const indexes = [yield* Fiber.join(first), yield* Fiber.join(second), last]
      assert.deepStrictEqual(indexes, [0, 1, 2])
      assert.strictEqual(yield* barrier.waiting, 0)
      assert.isFalse(yield* barrier.broken)
    }))

  it.effect("seed: the action runs once per generation, before the parties are released", () =>
    Effect.gen(function*() {
      let actions = 0
      const barrier = yield* Barrier.make(3, Effect.sync(() => actions++))
      const seen: Array<Array<number>> = [[], [], []]
      const worker = (id: number) =>
        Effect.forEach([1, 2, 3, 4], () =>
          Effect.andThen(barrier.wait, Effect.sync(() => seen[id]!.push(actions)))
        )
      yield* Effect.all([worker(0), worker(1), worker(2)], { concurrency: "unbounded" })
      assert.strictEqual(actions, 4)
      // After round k every party sees exactly k actions: none ran ahead of it.
      for (const rounds of seen) assert.deepStrictEqual(rounds, [1, 2, 3, 4])
    }))

  it.effect("abort breaks the barrier for waiters and later calls; reset makes it usable again", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const waiters = yield* Effect.forEach([1, 2], () => Effect.forkChild(barrier.wait))
      yield* waitingIs(barrier, 2)
      yield* barrier.abort
      assert.deepStrictEqual(yield* Effect.forEach(waiters, reasonOf), ["aborted", "aborted"])
      assert.isTrue(yield* barrier.broken)
      assert.strictEqual((yield* Effect.flip(barrier.wait)).reason, "aborted")
      yield* barrier.reset
      assert.isFalse(yield* barrier.broken)
      const indexes = yield* Effect.all([barrier.wait, barrier.wait, barrier.wait], { concurrency: "unbounded" })
      assert.sameMembers(indexes, [0, 1, 2])
    }))

  it.effect("reset fails the parties waiting now, and the next round starts empty", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      const early = yield* Effect.forkChild(barrier.wait)
      yield* waitingIs(barrier, 1)
      yield* barrier.reset
      assert.strictEqual(yield* reasonOf(early), "reset")
      assert.isFalse(yield* barrier.broken)
      assert.strictEqual(yield* barrier.waiting, 0)
      // A full new round is needed: the early party does not count any more.
      const next = yield* Effect.forkChild(barrier.wait)
      yield* waitingIs(barrier, 1)
      assert.isUndefined(next.pollUnsafe())
      assert.strictEqual(yield* barrier.wait, 1)
      assert.strictEqual(yield* Fiber.join(next), 0)
    }))

  it.effect("a timeout breaks the barrier for every waiter (TestClock)", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const patient = yield* Effect.forkChild(barrier.wait)
      const hasty = yield* Effect.forkChild(barrier.waitFor("50 millis"))
      yield* waitingIs(barrier, 2)
      yield* TestClock.adjust("49 millis")
      assert.isUndefined(hasty.pollUnsafe())
      assert.isFalse(yield* barrier.broken)
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* barrier.broken)
      assert.strictEqual(yield* reasonOf(patient), "timeout")
      assert.strictEqual(yield* reasonOf(hasty as Fiber.Fiber<number, BrokenBarrierError>), "timeout")
      assert.strictEqual((yield* Effect.flip(barrier.wait)).reason, "timeout")
    }))

  it.effect("waitFor that completes the round in time returns its index", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      const first = yield* Effect.forkChild(barrier.waitFor("1 second"))
      yield* waitingIs(barrier, 1)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* barrier.waitFor(0), 1) // the last party never waits
      assert.strictEqual(yield* Fiber.join(first), 0)
      assert.isFalse(yield* barrier.broken)
    }))

  it.effect("immediate forms: one party never waits; waitFor(0) short of the round breaks it", () =>
    Effect.gen(function*() {
      let actions = 0
      const single = yield* Barrier.make(1, Effect.sync(() => actions++))
      assert.strictEqual(yield* single.wait, 0)
      assert.strictEqual(yield* single.wait, 0)
      assert.strictEqual(actions, 2)
      const pair = yield* Barrier.make(2)
      const error = yield* Effect.flip(pair.waitFor(0))
      assert.strictEqual(error._tag === "BrokenBarrierError" && error.reason, "timeout")
      assert.isTrue(yield* pair.broken)
    }))

  it.effect("interrupting a waiter breaks the barrier for the others", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(3)
      const stays = yield* Effect.forkChild(barrier.wait)
      const leaves = yield* Effect.forkChild(barrier.wait)
      yield* waitingIs(barrier, 2)
      yield* Fiber.interrupt(leaves)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(leaves)))
      assert.isTrue(yield* barrier.broken)
      assert.strictEqual(yield* reasonOf(stays), "interrupted")
    }))

  it.effect("interrupting a party after its round was released changes nothing", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      const first = yield* Effect.forkChild(barrier.wait)
      yield* waitingIs(barrier, 1)
      yield* barrier.wait
      yield* Fiber.interrupt(first)
      assert.isFalse(yield* barrier.broken)
    }))

  it.effect("a failing action breaks the barrier for the whole round", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2, Effect.fail("no quorum"))
      const other = yield* Effect.forkChild(barrier.wait)
      yield* waitingIs(barrier, 1)
      const error = yield* Effect.flip(barrier.wait)
      assert.strictEqual(error.reason, "action failed")
      assert.strictEqual(error.cause, "no quorum")
      assert.strictEqual(yield* reasonOf(other), "action failed")
      assert.isTrue(yield* barrier.broken)
    }))

  it.effect("parties must be an integer >= 1; a bad timeout is refused before arriving", () =>
    Effect.gen(function*() {
      for (const parties of [0, -1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(Barrier.make(parties))
        assert.strictEqual(error._tag, "InvalidArgumentError")
        assert.include(error.message, "Barrier.make: parties")
      }
      const barrier = yield* Barrier.make(2)
      const bad = yield* Effect.flip(barrier.waitFor(-1))
      assert.strictEqual(bad._tag, "InvalidArgumentError")
      assert.strictEqual(yield* barrier.waiting, 0)
      assert.isFalse(yield* barrier.broken)
    }))
})

describe("Barrier as values", () => {
  it.effect("members work passed as values or destructured; module functions data-first and data-last", () =>
    Effect.gen(function*() {
      const barrier = yield* Barrier.make(2)
      const { abort, broken, reset, wait, waitFor, waiting } = barrier
      const [a, b] = yield* Effect.all([wait, Barrier.wait(barrier)], { concurrency: "unbounded" })
      assert.sameMembers([a!, b!], [0, 1])
      const first = yield* Effect.forkChild(waitFor("1 second"))
      yield* Effect.yieldNow
      assert.strictEqual(yield* waiting, 1)
      assert.strictEqual(yield* Barrier.waiting(barrier), 1)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Effect.flip(Fiber.join(first)))._tag, "BrokenBarrierError")
      assert.isTrue(yield* broken)
      yield* reset
      assert.isFalse(yield* Barrier.broken(barrier))
      yield* abort
      assert.isTrue(yield* Barrier.broken(barrier))
      yield* Barrier.reset(barrier)
      yield* Barrier.abort(barrier)
      assert.strictEqual((yield* Effect.flip(Barrier.waitFor(barrier, 0)))._tag, "BrokenBarrierError")
    }))
})
