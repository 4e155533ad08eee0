/**
 * Checks only the primitives need: a permit request against a semaphore's
 * bound, and the timed form of a wait. Counts and durations are checked by
 * the public `validate.ts`, which every package shares.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidArgumentError } from "../errors.ts"
import { count, isCount, timeout } from "../validate.ts"

/**
 * A request for `k` permits of a semaphore named `name`: an integer >= 1, and
 * for a bounded semaphore at most its size (a larger request could never be
 * served).
 *
 * @internal
 */
export const permitRequest = (
  name: string,
  operation: string,
  k: unknown,
  bound: number | undefined
): InvalidArgumentError | undefined => {
  if (bound !== undefined && isCount(k, 1) && k > bound) {
    return new InvalidArgumentError({
      operation: `${name}.${operation}`,
      argument: "k",
      value: k,
      expected: `at most the semaphore's ${bound} permits`
    })
  }
  return count(`${name}.${operation}`, "k", k, 1)
}

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

/**
 * The priority of a wait: any finite number (higher is served first; the
 * default 0 keeps plain FIFO).
 *
 * @internal
 */
export const priority = (operation: string, value: unknown): InvalidArgumentError | undefined =>
  value === undefined || (typeof value === "number" && Number.isFinite(value))
    ? undefined
    : new InvalidArgumentError({ operation, argument: "priority", value, expected: "a finite number" })
