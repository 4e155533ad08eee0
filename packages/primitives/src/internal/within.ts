/**
 * The timed form of a wait (`acquireFor`, `waitFor`): the timeout checked,
 * then a try, then the wait for at most that long.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidArgumentError } from "../errors.ts"
import { timeout } from "../validate.ts"

/**
 * The timed form of a wait: checks the timeout first (a bad one fails even
 * when the wait would not block), then runs `tryNow` — the non-blocking attempt
 * — and only if that fails runs `wait` for at most `input`. `true` if the wait
 * completed in time. An interrupted or timed-out `wait` must leave nothing
 * held; every `wait` in this package is built that way.
 *
 * @internal
 */
export const within = <E, R>(
  operation: string,
  input: Duration.Input,
  wait: Effect.Effect<void, E, R>,
  tryNow?: () => boolean
): Effect.Effect<boolean, E | InvalidArgumentError, R> =>
  Effect.flatMap(timeout(operation, input), (duration) => {
    if (tryNow !== undefined && tryNow()) return Effect.succeed(true)
    return Duration.isFinite(duration)
      ? Effect.map(Effect.timeoutOption(wait, duration), Option.isSome)
      : Effect.as(wait, true)
  })
