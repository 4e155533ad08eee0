// A recursive function that takes the same lock at every level. With a Lock
// it would wait for itself forever; an RLock lets its owner nest.
import { Effect, Fiber } from "effect"
import { RLock } from "@weft/primitives"

const program = Effect.gen(function*() {
  const lock = yield* RLock.make
  const countdown = (n: number): Effect.Effect<number> =>
    lock.withLock(n === 0 ? Effect.succeed(0) : Effect.map(countdown(n - 1), (m) => m + 1))
  console.log(`nested ${yield* countdown(5)} levels deep`)
  // Another fiber cannot release it.
  yield* lock.acquire
  const error = yield* Effect.flip(Effect.flatMap(Effect.forkChild(lock.release), Fiber.join))
  console.log(error._tag)
  yield* lock.release
})

Effect.runPromise(program)
