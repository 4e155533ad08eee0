import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { Manager, PubSub } from "../src/index.ts"

describe("PubSub", () => {
  it.effect("every subscriber gets every message published after it subscribed, in publish order", () =>
    Effect.scoped(Effect.gen(function*() {
      const room = yield* PubSub.make<number>()
      yield* room.publish(0) // nobody listens yet: lost to later subscribers
      const early = yield* room.subscribe
      yield* room.publish(1)
      const late = yield* room.subscribe
      for (let i = 2; i <= 100; i++) yield* room.publish(i)
      const earlyGot = yield* early.takeAll
      const lateGot = yield* late.takeAll
      assert.deepStrictEqual(earlyGot, Array.from({ length: 100 }, (_, i) => i + 1))
      assert.deepStrictEqual(lateGot, Array.from({ length: 99 }, (_, i) => i + 2))
    })))

  it.effect("take waits for the next message; takeAll never waits and may be empty", () =>
    Effect.scoped(Effect.gen(function*() {
      const room = yield* PubSub.make<string>()
      const sub = yield* room.subscribe
      assert.deepStrictEqual(yield* sub.takeAll, [])
      const taker = yield* Effect.forkChild(sub.take)
      yield* Effect.yieldNow
      assert.isUndefined(taker.pollUnsafe())
      yield* room.publish("hi")
      assert.strictEqual(yield* Fiber.join(taker), "hi")
    })))

  it.effect("takeFor returns None when the time runs out, Some when a message comes in time", () =>
    Effect.scoped(Effect.gen(function*() {
      const room = yield* PubSub.make<string>()
      const sub = yield* room.subscribe
      const timed = yield* Effect.forkChild(sub.takeFor("1 second"))
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(timed.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.isTrue(Option.isNone(yield* Fiber.join(timed)))
      const inTime = yield* Effect.forkChild(sub.takeFor(1000))
      yield* TestClock.adjust("500 millis")
      yield* room.publish("late but in time")
      assert.deepStrictEqual(yield* Fiber.join(inTime), Option.some("late but in time"))
    })))

  it.effect("an interrupted take loses no message", () =>
    Effect.scoped(Effect.gen(function*() {
      const room = yield* PubSub.make<number>()
      const sub = yield* room.subscribe
      const taker = yield* Effect.forkChild(sub.take)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(taker)
      yield* room.publish(7)
      assert.strictEqual(yield* sub.take, 7)
    })))

  it.effect("a closed subscription stops receiving; the others go on", () =>
    Effect.scoped(Effect.gen(function*() {
      const room = yield* PubSub.make<number>()
      const stays = yield* room.subscribe
      yield* Effect.scoped(Effect.gen(function*() {
        const leaves = yield* room.subscribe
        yield* room.publish(1)
        assert.deepStrictEqual(yield* leaves.takeAll, [1])
      }))
      yield* room.publish(2)
      assert.deepStrictEqual(yield* stays.takeAll, [1, 2])
    })))

  it.effect("a bad timeout fails with InvalidArgumentError", () =>
    Effect.scoped(Effect.gen(function*() {
      const room = yield* PubSub.make<number>()
      const sub = yield* room.subscribe
      const error = yield* Effect.flip(sub.takeFor(-1))
      assert.strictEqual(error._tag, "InvalidArgumentError")
      assert.include(error.message, "PubSub.takeFor")
    })))

  it.effect("publish and subscribe work when passed as values or destructured", () =>
    Effect.scoped(Effect.gen(function*() {
      const { publish, subscribe } = yield* PubSub.make<number>()
      const { take, takeAll, takeFor } = yield* subscribe
      yield* Effect.forEach([1, 2, 3], publish)
      assert.strictEqual(yield* take, 1)
      assert.deepStrictEqual(yield* takeFor(0), Option.some(2))
      assert.deepStrictEqual(yield* takeAll, [3])
    })))
})

describe("manager.pubsub (process scope)", () => {
  it.live("subscribers in the manager's process and through a handle get every message, in publish order", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const local = yield* manager.pubsub<{ n: number }>()
      const remote = (yield* Manager.attach(local.handle)) as unknown as PubSub.PubSub<{ n: number }>
      const here = yield* local.subscribe
      const there = yield* remote.subscribe
      for (let n = 0; n < 50; n++) yield* (n % 2 === 0 ? local : remote).publish({ n })
      const expected = Array.from({ length: 50 }, (_, n) => ({ n }))
      const got: Array<{ n: number }> = []
      while (got.length < 50) got.push(yield* there.take)
      assert.deepStrictEqual(got, expected)
      const gotHere: Array<{ n: number }> = []
      while (gotHere.length < 50) gotHere.push(yield* here.take)
      assert.deepStrictEqual(gotHere, expected)
      assert.deepStrictEqual(yield* there.takeAll, [])
    })))

  it.live("a remote take waits; takeFor times out with None; an interrupted take loses nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const hub = yield* manager.pubsub<string>()
      const remote = (yield* Manager.attach(hub.handle)) as unknown as PubSub.PubSub<string>
      const sub = yield* remote.subscribe
      assert.isTrue(Option.isNone(yield* sub.takeFor("50 millis")))
      const taker = yield* Effect.forkChild(sub.take, { startImmediately: true })
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(taker)
      yield* hub.publish("kept")
      assert.deepStrictEqual(yield* sub.takeFor("5 seconds"), Option.some("kept"))
    })))

  it.live("a closed subscription stops receiving; a message JSON cannot carry is refused", () =>
    Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const hub = yield* manager.pubsub<unknown>()
      const remote = (yield* Manager.attach(hub.handle)) as unknown as PubSub.PubSub<unknown>
      const stays = yield* remote.subscribe
      yield* Effect.scoped(Effect.gen(function*() {
        const leaves = yield* remote.subscribe
        yield* hub.publish(1)
        assert.deepStrictEqual(yield* leaves.take, 1)
      }))
      yield* hub.publish(2)
      assert.deepStrictEqual([yield* stays.take, yield* stays.take], [1, 2])
      const exit = yield* Effect.exit(remote.publish(() => 1))
      assert.isTrue(Exit.isFailure(exit) && exit.cause.reasons.some(Cause.isDieReason))
    })))
})
