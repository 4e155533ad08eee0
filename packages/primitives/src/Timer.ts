/**
 * Runs an effect once after a delay, unless cancelled first — Python's
 * `threading.Timer`.
 *
 * What Effect gives: `Effect.delay` plus a forked fiber. What Weft adds: the
 * Python shape — a handle with `cancel` and `await` — on the Effect `Clock`,
 * so a `TestClock` drives it in tests. The timer's fiber is detached from the
 * fiber that started it (like a Python thread, it outlives its starter); it
 * ends when the effect ends or on `cancel`. `cancel` after the delay has run
 * out interrupts the running effect, since no thread is left to stop in Python
 * but a fiber can be.
 *
 * Scopes: fiber.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Timer } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const timer = yield* Timer.start("1 second", Effect.succeed("hello, world"))
 *   const result = yield* timer.await // Option.some("hello, world") after 1s
 * })
 * ```
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { InvalidArgumentError } from "./errors.ts"
import { duration } from "./validate.ts"

/**
 * A started timer.
 *
 * @example
 * ```ts
 * const cancelled = (timer: Timer.Timer<void>) => timer.cancel
 * ```
 */
export interface Timer<A, E = never> {
  /**
   * Stops the timer: if the effect has not started it never will; if it is
   * running it is interrupted. `true` if the effect had not finished yet.
   */
  readonly cancel: Effect.Effect<boolean>
  /** The effect's result, or `Option.none()` if the timer was cancelled. Fails as the effect failed. */
  readonly await: Effect.Effect<Option.Option<A>, E>
  /** Whether the timer is over: run, failed, or cancelled. */
  readonly done: Effect.Effect<boolean>
}

/**
 * Starts a timer that runs `effect` after `delay`.
 *
 * @example
 * ```ts
 * const timer = yield* Timer.start(500, Effect.log("half a second later"))
 * yield* timer.cancel // too late for nothing: the log never happens
 * ```
 */
export const start = <A, E, R>(
  delay: Duration.Input,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Timer<A, E>, InvalidArgumentError, R> =>
  Effect.suspend(() => {
    const checked = duration("Timer.start", "delay", delay, { finite: true })
    if (checked instanceof InvalidArgumentError) return Effect.fail(checked)
    return Effect.map(Effect.forkDetach(Effect.delay(effect, checked)), (fiber): Timer<A, E> => ({
      cancel: Effect.suspend(() => {
        if (fiber.pollUnsafe() !== undefined) return Effect.succeed(false)
        return Effect.as(Fiber.interrupt(fiber), true)
      }),
      await: Effect.flatMap(Fiber.await(fiber), (exit) =>
        Exit.isSuccess(exit)
          ? Effect.succeed(Option.some(exit.value))
          : Exit.hasInterrupts(exit)
          ? Effect.succeed(Option.none())
          : Effect.failCause(exit.cause)),
      done: Effect.sync(() => fiber.pollUnsafe() !== undefined)
    }))
  })
