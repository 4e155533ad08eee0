// The traffic light from the tutorial: cars wait while the light is red and
// all drive when it turns green.
import { Effect, Fiber } from "effect"
import { Event } from "@weft/primitives"

const program = Effect.gen(function*() {
  const green = yield* Event.make
  const car = (n: number) => Effect.andThen(green.wait, Effect.sync(() => console.log(`car ${n} drives`)))
  const cars = yield* Effect.forkChild(Effect.forEach([1, 2, 3], car, { concurrency: "unbounded" }))
  console.log(`red: waiting for green? ${!(yield* green.waitFor("20 millis"))}`)
  yield* green.set
  yield* Fiber.join(cars)
})

Effect.runPromise(program)
