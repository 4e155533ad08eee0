// One PubSub interface at every scope: the same behaviours against the fiber
// PubSub, a manager's pubsub (attached through its handle, as another
// process would) and a cluster pubsub.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber, Option, type Scope } from "effect"
import { Manager, PubSub } from "@weft/primitives"
import { connect, skip, title, unique } from "./helpers.ts"

const pubsubBehaviours = (name: string, make: () => Effect.Effect<PubSub.PubSub<number>, unknown, Scope.Scope>) =>
  describe(name, () => {
    it.live(`${name}: each subscriber gets every message published after it subscribed, in publish order`, () =>
      Effect.scoped(Effect.gen(function*() {
        const hub = yield* make()
        yield* hub.publish(-1)
        const first = yield* hub.subscribe
        yield* hub.publish(0)
        const second = yield* hub.subscribe
        for (let i = 1; i <= 30; i++) yield* hub.publish(i)
        const take = (sub: PubSub.Subscription<number>, n: number) =>
          Effect.gen(function*() {
            const got: Array<number> = []
            while (got.length < n) got.push(Option.getOrThrow(yield* sub.takeFor("5 seconds")))
            return got
          })
        assert.deepStrictEqual(yield* take(first, 31), Array.from({ length: 31 }, (_, i) => i))
        assert.deepStrictEqual(yield* take(second, 30), Array.from({ length: 30 }, (_, i) => i + 1))
        assert.deepStrictEqual(yield* first.takeAll, [])
      })))

    it.live(`${name}: take waits; takeFor gives None in time; an interrupted take loses nothing; a bad timeout fails`, () =>
      Effect.scoped(Effect.gen(function*() {
        const hub = yield* make()
        const { take, takeAll, takeFor } = yield* hub.subscribe
        assert.isTrue(Option.isNone(yield* takeFor("30 millis")))
        const interrupted = yield* Effect.forkChild(take, { startImmediately: true })
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(interrupted)
        const waiting = yield* Effect.forkChild(take, { startImmediately: true })
        const { publish } = hub
        yield* publish(1)
        yield* publish(2)
        assert.strictEqual(yield* Fiber.join(waiting), 1)
        let rest: ReadonlyArray<number> = []
        while (rest.length === 0) rest = yield* takeAll
        assert.deepStrictEqual(rest, [2])
        assert.strictEqual((yield* Effect.flip(takeFor(-1)))._tag, "InvalidArgumentError")
      })))
  })

pubsubBehaviours("PubSub.make", () => PubSub.make<number>())
pubsubBehaviours("manager pubsub, attached by handle", () =>
  Effect.gen(function*() {
    const manager = yield* Manager.serve()
    const hub = yield* manager.pubsub<number>()
    return (yield* Manager.attach(hub.handle)) as unknown as PubSub.PubSub<number>
  }))
if (skip) {
  describe.skip(title("cluster pubsub"), () => it("the PubSub behaviours", () => {}))
} else {
  pubsubBehaviours("cluster.pubsub(name)", () => Effect.flatMap(connect(), (c) => c.pubsub<number>(unique("pubsub"))))

  describe(title("cluster pubsub: large messages"), () => {
    it.live("a message larger than a NOTIFY payload arrives whole and in order, to take and to takeAll; one over 16 MiB dies naming the limit", () =>
      Effect.scoped(Effect.gen(function*() {
        const name = unique("pubsub")
        const hub = yield* (yield* connect()).pubsub<unknown>(name)
        const other = yield* (yield* connect()).pubsub<unknown>(name)
        const sub = yield* hub.subscribe
        const big = { text: "é€😀".repeat(20_000), n: 7 } // ~180 KB of JSON, multi-byte characters
        yield* other.publish(1)
        yield* other.publish(big)
        yield* other.publish(2)
        const got: Array<unknown> = []
        while (got.length < 3) got.push(Option.getOrThrow(yield* sub.takeFor("10 seconds")))
        assert.deepStrictEqual(got, [1, big, 2])
        yield* other.publish(big)
        let all: ReadonlyArray<unknown> = []
        for (let i = 0; i < 500 && all.length === 0; i++) {
          all = yield* sub.takeAll
          if (all.length === 0) yield* Effect.sleep("10 millis")
        }
        assert.deepStrictEqual(all, [big])
        const tooBig = yield* Effect.exit(hub.publish("x".repeat(16 * 1024 * 1024)))
        assert.isTrue(tooBig._tag === "Failure" && String(Cause.squash(tooBig.cause)).includes("16 MiB"))
      })), 60_000)
  })
}
