/**
 * A script run as a child process on the current runtime, its output
 * watched line by line: wait for a line that matches, with a timeout, and for
 * the exit. `start` is the Promise face (the caller stops the process);
 * `child` the Effect face, whose process is stopped when the scope closes.
 *
 * @example
 * ```ts
 * import { child } from "@weft/testkit"
 * const server = yield* child(mainScript, ["serve", "--port", "0"])
 * const line = yield* server.line("serving http://127.0.0.1:", 30_000)
 * process.kill(server.proc.pid!, "SIGTERM")
 * assert.strictEqual(yield* server.exited, 0)
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process"
import { Effect, type Scope } from "effect"
import { argv } from "./runtime.ts"
import { type Subscribe, waitUntil, watchFor } from "./waitUntil.ts"

/** What a line must be: containing this text, matching this pattern, or passing this test. */
export type Match = string | RegExp | ((line: string) => boolean)

/** How a process ended: its code, or the signal that ended it. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** How to run the script, and which output to watch. */
export interface Options {
  /** The whole command line, instead of running the script on this runtime (`argv`). */
  readonly command?: readonly [string, ...Array<string>]
  readonly cwd?: string | undefined
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** In its own process group. */
  readonly detached?: boolean
  /** "pipe" (the default) lets `send` write lines to it. */
  readonly stdin?: "pipe" | "ignore"
  /** "pipe" (the default) collects it; "inherit" shows it in the test's output. */
  readonly stderr?: "pipe" | "inherit"
  /** Where `line` looks: stdout only (the default), or stdout and stderr. */
  readonly lines?: "stdout" | "both"
  /** What errors call it ("server exited (2) before printing ..."); default "the child". */
  readonly name?: string
}

/** A running script (the Promise face). */
export interface Running {
  readonly proc: ChildProcess
  /** Everything printed so far on stdout. */
  readonly stdout: () => string
  /** Everything printed so far on stderr (when piped). */
  readonly stderr: () => string
  /** Everything printed so far, stdout and stderr as they came. */
  readonly output: () => string
  /** The complete lines printed so far on the watched streams, and not taken. */
  readonly lines: () => Array<string>
  /**
   * Resolves with the first line that matches `match`; rejects if the output
   * ends first or after `timeoutMs`. `take`: that line is not found again.
   */
  readonly line: (match: Match, timeoutMs?: number, options?: { readonly take?: boolean }) => Promise<string>
  /** Writes `line` and a newline to its stdin. */
  readonly send: (line: string) => void
  /** How it ended, once it has; undefined while it runs. */
  readonly exit: () => Exit | undefined
  /** Resolves when it has exited (its output may still be arriving). */
  readonly exited: Promise<Exit>
  /** Resolves when it has exited and all its output is read. */
  readonly closed: Promise<Exit>
  /** The first line now that matches `match` (`take`: not to be found again), or undefined; throws once the output has ended without one. */
  readonly find: (match: Match, take?: boolean) => string | undefined
  /** Runs `check` on each change (output, exit); returns how to stop. */
  readonly subscribe: Subscribe
  /** What it printed, for an error message. */
  readonly report: () => string
}

const matcher = (match: Match): (line: string) => boolean =>
  typeof match === "string" ? (line) => line.includes(match) : match instanceof RegExp ? (line) => match.test(line) : match

const describeMatch = (match: Match): string => typeof match === "function" ? "the line wanted" : typeof match === "string" ? JSON.stringify(match) : String(match)

/**
 * Runs `script` with `args` on this runtime (or `options.command`) and
 * watches its output. The caller stops it.
 *
 * @example
 * ```ts
 * const running = start(new URL("./fixtures/main.ts", import.meta.url), ["--port", "0"])
 * const line = await running.line(/listening on (\d+)/, 15_000)
 * running.proc.kill("SIGTERM")
 * const { code } = await running.closed
 * ```
 */
export const start = (script: string | URL, args: ReadonlyArray<string> = [], options: Options = {}): Running => {
  const [command, ...rest] = options.command ?? argv(script, args)
  const proc = spawn(command, rest, {
    cwd: options.cwd,
    env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    detached: options.detached === true,
    stdio: [options.stdin ?? "pipe", "pipe", options.stderr ?? "pipe"]
  })
  const watchBoth = options.lines === "both"
  let stdout = ""
  let stderr = ""
  let output = ""
  const lines: Array<string> = []
  const taken = new Set<number>()
  let exit: Exit | undefined
  let closed: Exit | undefined
  let failed: Error | undefined
  const listeners = new Set<() => void>()
  const notify = () => {
    for (const f of [...listeners]) f()
  }
  const subscribe: Subscribe = (check) => {
    listeners.add(check)
    return () => void listeners.delete(check)
  }
  const collect = (stream: NodeJS.ReadableStream | null, append: (chunk: string) => void, watched: boolean) => {
    if (stream === null) return
    let buffer = ""
    stream.setEncoding("utf8")
    stream.on("data", (chunk: string) => {
      append(chunk)
      output += chunk
      if (watched) {
        buffer += chunk
        let nl: number
        while ((nl = buffer.indexOf("\n")) !== -1) {
          lines.push(buffer.slice(0, nl))
          buffer = buffer.slice(nl + 1)
        }
      }
      notify()
    })
    stream.on("end", () => {
      // A last line without its newline still counts.
      if (buffer !== "") lines.push(buffer)
      buffer = ""
      notify()
    })
  }
  collect(proc.stdout, (chunk) => void (stdout += chunk), true)
  collect(proc.stderr, (chunk) => void (stderr += chunk), watchBoth)
  proc.stdin?.on("error", () => {}) // it may exit before reading what it was sent
  const exited = new Promise<Exit>((resolve) =>
    proc.once("exit", (code, signal) => {
      exit = { code, signal }
      resolve(exit)
      notify()
    })
  )
  const closedPromise = new Promise<Exit>((resolve) => {
    const onClose = (code: number | null, signal: NodeJS.Signals | null) => {
      exit ??= { code, signal }
      closed = exit
      resolve(closed)
      notify()
    }
    proc.once("close", onClose)
    proc.once("error", (error) => {
      // It could not start (or be signalled): nothing more will come.
      failed = error
      if (proc.pid === undefined) onClose(null, null)
    })
  })
  const showOutput = () => `stdout:\n${stdout}\nstderr:\n${options.stderr === "inherit" ? "(inherited)" : stderr}`
  const noLine = (match: Match) => () => `no line ${describeMatch(match)}\n${showOutput()}`
  const find = (match: Match, take = false): string | undefined => {
    const test = matcher(match)
    for (let i = 0; i < lines.length; i++) {
      if (taken.has(i) || !test(lines[i]!)) continue
      if (take) taken.add(i)
      return lines[i]
    }
    if (closed !== undefined) {
      const how = closed.signal ?? closed.code ?? failed?.message ?? "unknown"
      throw new Error(`${options.name ?? "the child"} exited (${how}) before printing ${describeMatch(match)}\n${showOutput()}`)
    }
    return undefined
  }
  return {
    proc,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    lines: () => lines.filter((_, i) => !taken.has(i)),
    line: (match, timeoutMs = 15_000, lineOptions = {}) =>
      new Promise<string>((resolve, reject) => {
        watchFor(subscribe, () => find(match, lineOptions.take === true), timeoutMs, noLine(match), (result) =>
          result.ok ? resolve(result.value) : reject(result.error))
      }),
    send: (line) => void proc.stdin?.write(line + "\n"),
    exit: () => exit,
    exited,
    closed: closedPromise,
    find,
    subscribe,
    report: showOutput
  }
}

/** A running script (the Effect face), stopped when its scope closes. */
export interface Child {
  readonly proc: ChildProcess
  readonly running: Running
  /** Everything printed so far, stdout and stderr as they came. */
  readonly output: () => string
  /**
   * The first line that matches `match`; fails if the output ends first or
   * after `timeoutMs` (default 15 s). `take`: that line is not found again.
   */
  line(match: Match, timeoutMs?: number, options?: { readonly take?: boolean }): Effect.Effect<string, Error>
  /** Writes `line` and a newline to its stdin. */
  send(line: string): Effect.Effect<void>
  /** Waits for the exit: the exit code, or the signal's name. */
  readonly exited: Effect.Effect<number | string>
}

/** `child`'s options: `start`'s, and how the scope's end stops it. */
export interface ChildOptions extends Options {
  /**
   * The signal sent when the scope closes (default SIGKILL), and how long to
   * wait for the exit before SIGKILL follows (default 5 s).
   */
  readonly stop?: { readonly signal?: NodeJS.Signals; readonly graceMs?: number }
}

const exitOf = (exit: Exit): number | string => exit.code ?? exit.signal ?? "unknown"

/**
 * Runs `script` with `args` on this runtime as `start` does; stopped when the
 * scope closes (SIGKILL unless `stop` says otherwise), and awaited.
 *
 * @example
 * ```ts
 * const holder = yield* child(fixtureScript, ["hold", file])
 * yield* holder.line("holding")
 * holder.proc.kill("SIGKILL")
 * yield* holder.exited
 * ```
 */
export const child = (
  script: string | URL,
  args: ReadonlyArray<string> = [],
  options: ChildOptions = {}
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const running = start(script, args, options)
      const exited = Effect.map(
        Effect.callback<Exit>((resume) => {
          const done = running.exit()
          if (done !== undefined) return resume(Effect.succeed(done))
          void running.exited.then((exit) => resume(Effect.succeed(exit)))
        }),
        exitOf
      )
      return {
        proc: running.proc,
        running,
        output: running.output,
        line: (match, timeoutMs = 15_000, lineOptions = {}) =>
          waitUntil(running.subscribe, () => running.find(match, lineOptions.take === true), timeoutMs, () =>
            `no line ${describeMatch(match)}\n${running.report()}`),
        send: (line) => Effect.sync(() => running.send(line)),
        exited
      }
    }),
    (c) =>
      Effect.gen(function*() {
        if (c.running.exit() !== undefined || c.proc.pid === undefined) return
        const signal = options.stop?.signal ?? "SIGKILL"
        // process.kill, not proc.kill: Deno's ChildProcess would report the signal it sent as the cause of exit.
        const send = (s: NodeJS.Signals) => Effect.sync(() => {
          try {
            process.kill(c.proc.pid!, s)
          } catch {
            // gone meanwhile
          }
        })
        yield* send(signal)
        const stopped = yield* Effect.timeoutOption(c.exited, options.stop?.graceMs ?? 5_000)
        if (stopped._tag === "Some" || signal === "SIGKILL") return
        yield* send("SIGKILL")
        yield* Effect.timeoutOption(c.exited, 5_000)
      })
  )
