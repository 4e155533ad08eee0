/**
 * Runs an Effect as the process's main program, on Node, Bun and Deno, with
 * `NodeRuntime.runMain` from `@effect/platform-node`: SIGINT and SIGTERM
 * interrupt the program, so every finalizer runs (servers close, workers and
 * child processes stop) before the process exits.
 *
 * Exit codes:
 * - 0: the program succeeded, or a SIGINT/SIGTERM stopped it and its
 *   finalizers ran cleanly (a stop that was asked for is not a failure);
 * - the failure's `[Runtime.errorExitCode]` if it has one (e.g. 2 for a usage
 *   error), else 1; the failure is printed as one line, `name: message`;
 * - 130: interrupted from inside, with no signal.
 *
 * SIGHUP (the terminal closed) stops the program like SIGTERM. A process
 * started by `Child.command(..., { exitWithParent: true })` also stops when its
 * parent dies, however it dies (SIGKILL included): see `Parent.watch`.
 *
 * @example
 * ```ts
 * import { Data, Effect, Runtime } from "effect"
 * import { Main } from "@weft/app"
 *
 * class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {
 *   override readonly [Runtime.errorExitCode] = 2
 * }
 *
 * Main.runMain(
 *   Effect.gen(function*() {
 *     if (process.argv.length > 3) return yield* new UsageError({ message: "one argument at most" })
 *     yield* Effect.addFinalizer(() => Effect.sync(() => console.log("bye")))
 *     return yield* Effect.never // until Ctrl-C: prints "bye", exits 0
 *   }).pipe(Effect.scoped),
 *   { name: "my-app" }
 * )
 * ```
 *
 * @module
 */
import { runMain as nodeRunMain } from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import { ParentGone, watch as watchParent } from "./Parent.ts"

/**
 * How `runMain` reports a failure.
 *
 * @example
 * ```ts
 * const options: Main.Options = { name: "ticketing" } // failures print as "ticketing: ..."
 * ```
 */
export interface Options {
  /** Printed before a failure's message on stderr; default: no prefix. */
  readonly name?: string | undefined
  /** Where a failure is printed; default `console.error`. */
  readonly report?: ((line: string) => void) | undefined
}

/**
 * The one line a failure prints: the squashed error's `message` when it has
 * one, else `Cause.pretty`.
 *
 * @example
 * ```ts
 * Main.describe(Cause.fail(new Error("port taken"))) // "port taken"
 * ```
 */
export const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    const message = (error as { message: string }).message
    if (message.length > 0) return message
  }
  return Cause.pretty(cause)
}

const isParentGone = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && Cause.squash(exit.cause) instanceof ParentGone

/**
 * The exit code of a finished main program (see the module's table).
 *
 * @example
 * ```ts
 * Main.exitCode(Exit.succeed(1), false) // 0
 * Main.exitCode(Exit.interrupt(1), true) // 0: stopped by a signal
 * Main.exitCode(Exit.fail(new Error("x")), false) // 1
 * ```
 */
export const exitCode = (exit: Exit.Exit<unknown, unknown>, signalled: boolean): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.hasInterruptsOnly(exit.cause)) return signalled ? 0 : 130
  if (isParentGone(exit)) return 0
  return Runtime.getErrorExitCode(Cause.squash(exit.cause))
}

/**
 * Runs `effect` as the main program (see the module's doc for signals and
 * exit codes). Call it once, at the top level of the entry script.
 *
 * @example
 * ```ts
 * Main.runMain(Effect.scoped(serveEverything), { name: "weft" })
 * ```
 */
export const runMain = <A, E>(effect: Effect.Effect<A, E>, options: Options = {}): void => {
  let signalled = false
  // Kept for the life of the process: besides recording the signal, it keeps the
  // runtime's default action (exit at once) from coming back while finalizers run.
  const onSignal = () => {
    signalled = true
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  // SIGHUP (the terminal closed) stops the program as SIGTERM does; its default action would
  // kill this process at once and orphan whatever it started. Listened to from here on, before
  // the program runs, so that no SIGHUP finds the default action.
  let hungUp = false
  let onHangup: (() => void) | undefined
  try {
    process.on("SIGHUP", () => {
      signalled = true
      hungUp = true
      onHangup?.()
    })
  } catch {
    // a runtime without SIGHUP (Windows)
  }
  const hangup = Effect.callback<never, ParentGone>((resume) => {
    const stop = () => resume(Effect.fail(new ParentGone({ how: "SIGHUP" })))
    if (hungUp) return stop()
    onHangup = stop
    return Effect.sync(() => void (onHangup = undefined))
  })
  const report = options.report ?? ((line: string) => console.error(line))
  // Read now, before the program can start children that would inherit the request.
  const parentGone = watchParent()
  nodeRunMain(Effect.raceFirst(effect, Effect.raceFirst(parentGone, hangup)), {
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      const code = exitCode(exit, signalled)
      if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) && !isParentGone(exit)) {
        report(options.name ? `${options.name}: ${describe(exit.cause)}` : describe(exit.cause))
      }
      onExit(code)
    }
  })
}
