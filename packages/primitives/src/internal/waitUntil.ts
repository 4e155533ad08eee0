/**
 * Python's `Condition.wait_for` loop, shared by the fiber `Condition` and a
 * manager's `condition()` view: check the predicate, and while it is false
 * wait for a notification (for at most the time left) and check again, all
 * under the lock. The caller supplies how to tell that it holds the lock and
 * how to wait once.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type InvalidArgumentError, NotHeldError } from "../errors.ts"
import { timeout as parseTimeout } from "../validate.ts"

/** @internal */
export const waitUntil = <E, R, E2>(
  predicate: (() => boolean) | Effect.Effect<boolean, E, R>,
  timeout: Duration.Input | undefined,
  owned: Effect.Effect<boolean>,
  /** Waits once, for at most `left` (`undefined`: no limit). */
  waitOnce: (left: Duration.Duration | undefined) => Effect.Effect<unknown, E2>
): Effect.Effect<boolean, E | E2 | NotHeldError | InvalidArgumentError, R> => {
  const check: Effect.Effect<boolean, E, R> = Effect.isEffect(predicate)
    ? predicate
    : Effect.sync(predicate as () => boolean)
  return Effect.gen(function*() {
    const duration = timeout === undefined
      ? undefined
      : yield* Effect.map(parseTimeout("Condition.waitUntil", timeout), (d) => Duration.isFinite(d) ? d : undefined)
    if (!(yield* owned)) return yield* Effect.fail(new NotHeldError({ primitive: "Condition", operation: "waitUntil" }))
    let result = yield* check
    if (duration === undefined) {
      while (!result) {
        yield* waitOnce(undefined)
        result = yield* check
      }
      return result
    }
    const end = (yield* Clock.currentTimeMillis) + Duration.toMillis(duration)
    while (!result) {
      const left = end - (yield* Clock.currentTimeMillis)
      if (left <= 0) break
      yield* waitOnce(Duration.millis(left))
      result = yield* check
    }
    return result
  })
}
