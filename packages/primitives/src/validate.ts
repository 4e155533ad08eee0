/**
 * Argument checks for counts and durations, shared by every Weft package:
 * each returns the checked value, or an `InvalidArgumentError` that names the
 * operation, the argument, the value and what was expected. One place decides
 * what a valid count or duration is, so every constructor and method words
 * its refusal the same way.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { InvalidArgumentError } from "@weft/primitives"
 * import { count, duration } from "@weft/primitives/validate"
 *
 * const checked = duration("Pool.make", "idleTimeout", "5 seconds", { min: "zero", finite: true })
 * if (checked instanceof InvalidArgumentError) throw checked
 * const bad = count("Pool.make", "size", 0, 1) // InvalidArgumentError: size must be an integer >= 1
 * ```
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidArgumentError } from "./errors.ts"

/**
 * Whether `value` is a safe integer >= `min`.
 *
 * @example
 * ```ts
 * import { isCount } from "@weft/primitives/validate"
 *
 * isCount(3, 1) // true
 * isCount(1.5, 1) // false
 * ```
 */
export const isCount = (value: unknown, min: number): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min

/**
 * `undefined` when `value` is an integer >= `min`, else the error that says so.
 *
 * @example
 * ```ts
 * import { count } from "@weft/primitives/validate"
 *
 * count("Semaphore.make", "permits", -1, 0)?.message
 * // "Semaphore.make: permits must be an integer >= 0, got -1"
 * ```
 */
export const count = (operation: string, argument: string, value: unknown, min: number): InvalidArgumentError | undefined =>
  isCount(value, min)
    ? undefined
    : new InvalidArgumentError({ operation, argument, value, expected: `an integer >= ${min}` })

/**
 * What a duration may be: at least zero (`"zero"`, the default) or strictly
 * positive (`"positive"`); `finite: true` refuses `Infinity`.
 *
 * @example
 * ```ts
 * import type { DurationBounds } from "@weft/primitives/validate"
 *
 * const heartbeat: DurationBounds = { min: "positive", finite: true }
 * ```
 */
export interface DurationBounds {
  readonly min?: "zero" | "positive" | undefined
  readonly finite?: boolean | undefined
}

const expectedDuration = (bounds: DurationBounds | undefined): string =>
  `a ${bounds?.finite === true ? "finite " : ""}Duration.Input ${bounds?.min === "positive" ? "> 0" : ">= 0"}` +
  ` (milliseconds or a string like "50 millis"${bounds?.finite === true ? "" : " or \"Infinity\""})`

/**
 * The `Duration` that `input` names, or an `InvalidArgumentError` when it
 * cannot be parsed or lies outside `bounds` (by default: any duration >= 0,
 * `Infinity` included).
 *
 * @example
 * ```ts
 * import { duration } from "@weft/primitives/validate"
 *
 * duration("FileLock.make", "stale", "10 seconds", { min: "positive", finite: true }) // Duration 10s
 * duration("FileLock.make", "stale", -1, { min: "positive" }) // InvalidArgumentError
 * ```
 */
export const duration = (
  operation: string,
  argument: string,
  input: unknown,
  bounds?: DurationBounds
): Duration.Duration | InvalidArgumentError => {
  const parsed = Duration.fromInput(input as Duration.Input)
  if (Option.isSome(parsed)) {
    const millis = Duration.toMillis(parsed.value)
    const aboveMin = bounds?.min === "positive" ? millis > 0 : millis >= 0
    if (aboveMin && (bounds?.finite !== true || Duration.isFinite(parsed.value))) return parsed.value
  }
  return new InvalidArgumentError({ operation, argument, value: input, expected: expectedDuration(bounds) })
}

/**
 * A timeout argument as an effect: a `Duration` >= 0 (`Infinity` means "wait
 * forever"), or a failure with the `InvalidArgumentError` that names it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { timeout } from "@weft/primitives/validate"
 *
 * const program = Effect.flatMap(timeout("Lock.acquireFor", "50 millis"), (d) => Effect.sleep(d))
 * ```
 */
export const timeout = (operation: string, input: Duration.Input): Effect.Effect<Duration.Duration, InvalidArgumentError> => {
  const checked = duration(operation, "timeout", input)
  return checked instanceof InvalidArgumentError ? Effect.fail(checked) : Effect.succeed(checked)
}

/**
 * A request for `k` permits of a semaphore named `name`: an integer >= 1, and
 * for a bounded semaphore at most its size (a larger request could never be
 * served). `undefined` when it is good.
 *
 * @example
 * ```ts
 * import { permitRequest } from "@weft/primitives/validate"
 *
 * permitRequest("Semaphore", "acquire", 2, 4) // undefined
 * permitRequest("Semaphore", "acquire", 5, 4) // InvalidArgumentError: k must be at most the semaphore's 4 permits
 * ```
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
 * The priority of a wait (`acquireWith({ priority })`): any finite number,
 * higher served first; absent is the default 0.
 *
 * @example
 * ```ts
 * import { priority } from "@weft/primitives/validate"
 *
 * priority("Lock.acquireWith", 5) // undefined
 * priority("Lock.acquireWith", Number.NaN) // InvalidArgumentError: priority must be a finite number
 * ```
 */
export const priority = (operation: string, value: unknown): InvalidArgumentError | undefined =>
  value === undefined || (typeof value === "number" && Number.isFinite(value))
    ? undefined
    : new InvalidArgumentError({ operation, argument: "priority", value, expected: "a finite number" })

/**
 * A duration argument as milliseconds (`Infinity` stays `Infinity`), or the
 * `InvalidArgumentError` that names it: `duration`, for the APIs that keep
 * milliseconds (timers, pool options).
 *
 * @example
 * ```ts
 * import { millis } from "@weft/primitives/validate"
 *
 * millis("Pool.make", "idleTimeout", "5 seconds", { min: "zero" }) // 5000
 * millis("FileLock.make", "stale", "0 millis", { min: "positive" }) // InvalidArgumentError
 * ```
 */
export const millis = (
  operation: string,
  argument: string,
  input: unknown,
  bounds?: DurationBounds
): number | InvalidArgumentError => {
  const checked = duration(operation, argument, input, bounds)
  return checked instanceof InvalidArgumentError ? checked : Duration.toMillis(checked)
}
