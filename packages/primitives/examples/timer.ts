// threading.Timer: run something later, or cancel it first.
import { Effect, Option } from "effect"
import { Timer } from "@weft/primitives"

const program = Effect.gen(function*() {
  const hello = yield* Timer.start("10 millis", Effect.succeed("hello, world"))
  const never = yield* Timer.start("1 hour", Effect.succeed("too late"))
  yield* never.cancel
  console.log(Option.getOrUndefined(yield* hello.await)) // "hello, world"
  console.log(Option.isNone(yield* never.await) ? "cancelled" : "ran") // "cancelled"
})

Effect.runPromise(program)
