// The 12306 ticket rush from the tutorial, at fiber scope: ten buyers check the
// count, then buy under the lock. Without the lock, tickets are oversold.
import { Effect } from "effect"
import { Lock } from "@weft/primitives"

const program = Effect.gen(function*() {
  const lock = yield* Lock.make
  let tickets = 3
  const buy = (buyer: number) =>
    lock.withLock(Effect.gen(function*() {
      const left = tickets
      yield* Effect.sleep("1 millis") // the database round trip
      if (left > 0) {
        tickets = left - 1
        return `buyer ${buyer} got a ticket`
      }
      return `buyer ${buyer}: sold out`
    }))
  const results = yield* Effect.forEach([1, 2, 3, 4, 5], buy, { concurrency: "unbounded" })
  console.log(results.join("\n"))
  console.log(`left: ${tickets}`)
})

Effect.runPromise(program)
