/**
 * Test helpers: a temporary directory, and real child processes (the CLI,
 * a buyer) run with the current runtime, killed and awaited when the test's
 * scope closes.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import { runTs } from "../src/rush.ts"

export const mainScript = fileURLToPath(new URL("../src/main.ts", import.meta.url))
export const buyerScript = fileURLToPath(new URL("../src/buyer.ts", import.meta.url))

export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "weft-ticketing-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

export const count = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8")).count

export interface Child {
  readonly proc: ChildProcess
  /** Everything printed so far on stdout and stderr. */
  readonly output: () => string
  /** Waits for a stdout line containing `text`; returns the line. */
  line(text: string, timeoutMs?: number): Effect.Effect<string, Error>
  send(line: string): Effect.Effect<void>
  /** Waits for the exit; the exit code (or the signal's name). */
  readonly exited: Effect.Effect<number | string>
}

export const child = (file: string, args: ReadonlyArray<string>): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const [exe, argv] = runTs(file, args)
      const proc = spawn(exe, argv, { stdio: ["pipe", "pipe", "pipe"] })
      let out = ""
      let exit: number | string | undefined = undefined
      const listeners = new Set<() => void>()
      const notify = () => {
        for (const f of [...listeners]) f()
      }
      proc.stdout!.setEncoding("utf8")
      proc.stderr!.setEncoding("utf8")
      proc.stdout!.on("data", (chunk: string) => {
        out += chunk
        notify()
      })
      proc.stderr!.on("data", (chunk: string) => void (out += chunk))
      proc.stdin!.on("error", () => {})
      proc.on("exit", (code, signal) => {
        exit = code ?? signal ?? "unknown"
        notify()
      })
      const waitFor = <A>(find: () => A | undefined, timeoutMs: number, what: string) =>
        Effect.callback<A, Error>((resume) => {
          const check = () => {
            const found = find()
            if (found !== undefined) {
              cleanup()
              return resume(Effect.succeed(found))
            }
            if (exit !== undefined) {
              cleanup()
              resume(Effect.fail(new Error(`child exited (${exit}) before ${what}; output:\n${out}`)))
            }
          }
          const timer = setTimeout(() => {
            cleanup()
            resume(Effect.fail(new Error(`no ${what} within ${timeoutMs} ms; output:\n${out}`)))
          }, timeoutMs)
          const cleanup = () => {
            clearTimeout(timer)
            listeners.delete(check)
          }
          listeners.add(check)
          check()
          return Effect.sync(cleanup)
        })
      return {
        proc,
        output: () => out,
        line: (text, timeoutMs = 15_000) =>
          waitFor(() => out.split("\n").find((l) => l.includes(text)), timeoutMs, JSON.stringify(text)),
        send: (line) => Effect.sync(() => void proc.stdin!.write(line + "\n")),
        exited: Effect.callback<number | string>((resume) => {
          if (exit !== undefined) return resume(Effect.succeed(exit))
          proc.once("exit", (code, signal) => resume(Effect.succeed(code ?? signal ?? "unknown")))
        })
      }
    }),
    (c) =>
      Effect.suspend(() => {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) return Effect.void
        c.proc.kill("SIGKILL")
        return Effect.asVoid(Effect.timeoutOption(c.exited, "5 seconds"))
      })
  )
