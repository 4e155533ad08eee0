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
 * Runs `wait` for at most `input`; `true` if it completed in time. A zero
 * timeout still lets `wait` complete synchronously (the non-blocking form).
 *
 * @internal
 */
export const within = <E, R>(
  operation: string,
  input: Duration.Input,
  wait: Effect.Effect<void, E, R>
): Effect.Effect<boolean, E | InvalidArgumentError, R> =>
  Effect.flatMap(timeout(operation, input), (duration) =>
    Duration.isFinite(duration)
      ? Effect.map(Effect.timeoutOption(wait, duration), Option.isSome)
      : Effect.as(wait, true))
