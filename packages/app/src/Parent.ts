/**
 * Whether the parent that started this process is gone, noticed without
 * polling. A parent that wants its child to stop when it dies, however it
 * dies (SIGKILL included), gives it a stdin pipe and sets
 * `WEFT_EXIT_WITH_PARENT=stdin` (`Child.command`'s `exitWithParent` does
 * both). Only the parent holds the pipe's write end, and the kernel closes it
 * when the parent dies: the child reads end-of-file. `Main.runMain` stops the
 * program then (finalizers run, so its own workers stop too). A program run
 * by hand, without the variable, keeps its terminal's stdin to itself.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Parent } from "@weft/app"
 *
 * // Stop the server when the parent is gone (read the variable first, before anything forks).
 * const parentGone = Parent.watch()
 * Effect.runFork(Effect.raceFirst(serveForever, parentGone))
 * ```
 *
 * @module
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/**
 * The environment variable by which a parent asks its child to stop when the
 * parent is gone; its value says how the child notices (`stdin`: its stdin
 * pipe reaches end-of-file). `Child.command`'s `exitWithParent` sets it.
 *
 * @example
 * ```ts
 * spawn(node, ["app.ts"], { stdio: ["pipe", "inherit", "inherit"], env: { ...process.env, [Parent.env]: "stdin" } })
 * ```
 */
export const env = "WEFT_EXIT_WITH_PARENT"

/**
 * The parent that started this process is gone: the program is stopped like
 * on SIGTERM (finalizers run), and the process exits 0.
 *
 * @example
 * ```ts
 * new Parent.ParentGone({ how: "stdin closed" }).message // "the parent process is gone (stdin closed)"
 * ```
 */
export class ParentGone extends Data.TaggedError("ParentGone")<{ readonly how: string }> {
  override get message(): string {
    return `the parent process is gone (${this.how})`
  }
}

/**
 * An effect that fails with `ParentGone` when the parent is gone, if the
 * parent asked for it (`WEFT_EXIT_WITH_PARENT=stdin`); otherwise one that
 * never ends. The variable is read and removed from this process's
 * environment when `watch` is called, so call it before starting children:
 * it was meant for this process only, and a child's stdin is not this
 * process's parent's pipe.
 *
 * @example
 * ```ts
 * const parentGone = Parent.watch()
 * Effect.runFork(Effect.raceFirst(program, parentGone))
 * ```
 */
export const watch = (): Effect.Effect<never, ParentGone> => {
  const how = process.env[env]
  delete process.env[env]
  if (how !== "stdin") return Effect.never
  return Effect.callback<never, ParentGone>((resume) => {
    const stdin = process.stdin
    const onEnd = () => {
      // A write to a pipe the parent read now fails (EPIPE): that must not kill this process
      // before its finalizers have stopped what it started.
      process.stdout.on("error", () => {})
      process.stderr.on("error", () => {})
      resume(Effect.fail(new ParentGone({ how: "stdin closed" })))
    }
    // Nothing is read: the parent never writes. Data is dropped; end-of-file or an error is the sign.
    const drop = () => {}
    stdin.on("data", drop)
    stdin.once("end", onEnd)
    stdin.once("close", onEnd)
    stdin.once("error", onEnd)
    stdin.resume()
    return Effect.sync(() => {
      stdin.off("data", drop)
      stdin.off("end", onEnd)
      stdin.off("close", onEnd)
      stdin.off("error", onEnd)
      stdin.pause()
    })
  })
}
