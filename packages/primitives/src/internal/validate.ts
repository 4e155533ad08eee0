/**
 * Argument checks shared by the constructors and methods: each fails with an
 * `InvalidArgumentError` that names the operation, the argument and the value.
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import { InvalidArgumentError } from "../errors.ts"

/** @internal */
export const isCount = (value: unknown, min: number): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min

/** @internal */
export const count = (operation: string, argument: string, value: unknown, min: number): InvalidArgumentError | undefined =>
  isCount(value, min)
    ? undefined
    : new InvalidArgumentError({ operation, argument, value, expected: `an integer >= ${min}` })

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
 * A timeout as a Duration; negative or unparsable ones are refused. `Infinity`
 * is allowed and means "wait forever".
 *
 * @internal
 */
export const timeout = (
  operation: string,
  input: Duration.Input
): Effect.Effect<Duration.Duration, InvalidArgumentError> => {
  const parsed = Duration.fromInput(input)
  if (Option.isSome(parsed) && Duration.toMillis(parsed.value) >= 0) return Effect.succeed(parsed.value)
  return Effect.fail(
    new InvalidArgumentError({
      operation,
      argument: "timeout",
      value: input,
      expected: "a Duration.Input >= 0 (milliseconds, \"50 millis\", \"Infinity\")"
    })
  )
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
