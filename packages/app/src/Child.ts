/**
 * Runs a script on the runtime running this code: `process.execPath` plus the
 * flags that runtime needs (Deno: `run -A`), then the script. For
 * `child_process.fork` pass `execArgv`; for `spawn` use `argv`; for Effect's
 * `ChildProcess` (scoped: the child's process group is stopped when the scope
 * closes) use `command`, run with `layer`.
 *
 * @example
 * ```ts
 * import { fork } from "node:child_process"
 * import { Effect, Stream } from "effect"
 * import { ChildProcessSpawner } from "effect/process"
 * import { Child } from "@weft/app"
 *
 * // node:child_process
 * const child = fork(new URL("./car.ts", import.meta.url), [], { execArgv: [...Child.execArgv] })
 *
 * // Effect: the child is stopped (SIGTERM, then SIGKILL after 5 s) when the scope closes.
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
 *   const handle = yield* spawner.spawn(Child.command(new URL("./server.ts", import.meta.url), ["--port", "0"]))
 *   yield* Stream.runForEach(Stream.decodeText(handle.stdout), (text) => Effect.log(text))
 * })).pipe(Effect.provide(Child.layer))
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url"
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Layer from "effect/Layer"
import { ChildProcess, type ChildProcessSpawner } from "effect/process"
import { env as parentEnv } from "./Parent.ts"
import * as Runtime from "./Runtime.ts"

/**
 * The runtime flags a child script needs before its path: `["run", "-A"]` on
 * Deno (all permissions, as the parent has), none on Node and Bun.
 *
 * @example
 * ```ts
 * fork(script, args, { execArgv: [...Child.execArgv] })
 * ```
 */
export const execArgv: ReadonlyArray<string> = Runtime.current === "deno" ? ["run", "-A"] : []

const pathOf = (script: string | URL): string => (script instanceof URL ? fileURLToPath(script) : script)

/**
 * The whole command line that runs `script` with `args` on this runtime:
 * `[process.execPath, ...execArgv, script, ...args]`.
 *
 * @example
 * ```ts
 * const [command, ...args] = Child.argv(new URL("./main.ts", import.meta.url), ["--port", "0"])
 * spawn(command, args, { stdio: "inherit" })
 * // node: [".../node", "/repo/src/main.ts", "--port", "0"]
 * // deno: [".../deno", "run", "-A", "/repo/src/main.ts", "--port", "0"]
 * ```
 */
export const argv = (script: string | URL, args: ReadonlyArray<string> = []): [string, ...Array<string>] => [
  process.execPath,
  ...execArgv,
  pathOf(script),
  ...args
]

/**
 * `command`'s options: Effect's, and `exitWithParent`.
 *
 * @example
 * ```ts
 * const options: Child.CommandOptions = { cwd: root, exitWithParent: true }
 * ```
 */
export interface CommandOptions extends ChildProcess.CommandOptions {
  /**
   * The child stops when this process dies, however it dies (SIGKILL too): it
   * gets a stdin pipe whose write end only this process holds, and
   * `WEFT_EXIT_WITH_PARENT=stdin`, on which a program run by `Main.runMain`
   * stops (finalizers run) once that pipe closes. Default false.
   */
  readonly exitWithParent?: boolean | undefined
}

/**
 * Effect's `ChildProcess` command for `script` on this runtime. Defaults:
 * stdin ignored, SIGTERM on release, then SIGKILL after 5 seconds.
 *
 * @example
 * ```ts
 * const handle = yield* spawner.spawn(Child.command("apps/chat-server/src/main.ts", ["--port", "7000"], { cwd: root }))
 * // Gone with this process, even if it is SIGKILLed (a Main.runMain program):
 * Child.command("apps/ticketing/src/main.ts", ["serve"], { cwd: root, exitWithParent: true })
 * ```
 */
export const command = (
  script: string | URL,
  args: ReadonlyArray<string> = [],
  options: CommandOptions = {}
): ChildProcess.StandardCommand => {
  const [program, ...rest] = argv(script, args)
  const { exitWithParent, ...effectOptions } = options
  const watched: ChildProcess.CommandOptions = exitWithParent === true
    ? {
      stdin: "pipe",
      env: { ...effectOptions.env, [parentEnv]: "stdin" },
      // No env given means all of this process's; given without extendEnv, it replaces it.
      extendEnv: effectOptions.env === undefined || effectOptions.extendEnv === true
    }
    : {}
  return ChildProcess.make(program, rest, { stdin: "ignore", forceKillAfter: "5 seconds", ...effectOptions, ...watched })
}

/**
 * The `ChildProcessSpawner` of `@effect/platform-node` with what it needs
 * (file system and paths), for running `command`s.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(Child.layer))
 * ```
 */
export const layer: Layer.Layer<ChildProcessSpawner.ChildProcessSpawner> = NodeChildProcessSpawner.layer.pipe(
  Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
)
