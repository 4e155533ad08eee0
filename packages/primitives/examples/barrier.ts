// threading.Barrier: three runners start each lap together; the action runs
// once per lap, by the last one to arrive.
import { Effect } from "effect"
import { Barrier } from "@weft/primitives"

const program = Effect.gen(function*() {
  let laps = 0
  const start = yield* Barrier.make(3, Effect.sync(() => console.log(`lap ${++laps}: all 3 ready`)))
  const runner = Effect.forEach([1, 2], () => Effect.andThen(Effect.sleep(`${Math.floor(Math.random() * 5)} millis`), start.wait))
  yield* Effect.all([runner, runner, runner], { concurrency: "unbounded" })
  // A party that gives up breaks the barrier for everyone waiting.
  const alone = yield* Effect.flip(start.waitFor("5 millis"))
  console.log(alone._tag === "BrokenBarrierError" ? `${alone._tag}: ${alone.reason}` : alone.message)
})

Effect.runPromise(program)
