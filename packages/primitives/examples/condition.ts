// threading.Condition: consumers wait under the lock until there is an item;
// the producer adds items and wakes exactly as many consumers with notify(n).
import { Effect, Fiber } from "effect"
import { Condition } from "@weft/primitives"

const program = Effect.gen(function*() {
  const cond = yield* Condition.make()
  const items: Array<string> = []
  const consumer = (name: string) =>
    cond.withLock(Effect.gen(function*() {
      yield* cond.waitUntil(() => items.length > 0)
      return `${name} got ${items.shift()}`
    }))
  const consumers = yield* Effect.forkChild(
    Effect.all(["c1", "c2", "c3"].map(consumer), { concurrency: "unbounded" })
  )
  yield* Effect.sleep("5 millis") // every consumer is waiting now
  yield* cond.withLock(Effect.gen(function*() {
    items.push("apple", "pear", "plum")
    yield* cond.notify(3)
  }))
  console.log((yield* Fiber.join(consumers)).join("\n"))
  // Waiting without the lock is a mistake, and says so.
  console.log((yield* Effect.flip(cond.wait)).message)
})

Effect.runPromise(program)
