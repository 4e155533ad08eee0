// The KTV from the tutorial: 4 rooms, 8 groups. Never more than 4 sing at once.
import { Effect } from "effect"
import { Semaphore } from "@weft/primitives"

const program = Effect.gen(function*() {
  const rooms = yield* Semaphore.bounded(4)
  let singing = 0
  let most = 0
  const group = (_group: number) =>
    rooms.withPermits(1)(Effect.gen(function*() {
      most = Math.max(most, ++singing)
      yield* Effect.sleep("10 millis")
      singing--
    }))
  yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), group, { concurrency: "unbounded" })
  console.log(`at most ${most} groups sang at once`)
  // A bounded semaphore refuses a release without an acquire.
  const error = yield* Effect.flip(rooms.release())
  console.log(error.message)
})

Effect.runPromise(program)
