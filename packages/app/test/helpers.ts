// Spawns a fixture on the runtime running the suite and watches its output.
import { type ChildProcess, spawn } from "node:child_process"
import { argv } from "../src/Child.ts"

export interface Running {
  readonly child: ChildProcess
  /** Everything printed so far, stdout then stderr, as text. */
  readonly output: () => { stdout: string; stderr: string }
  /** Resolves when stdout has a line matching `pattern`; rejects after `ms`. */
  readonly line: (pattern: RegExp, ms?: number) => Promise<string>
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export const run = (script: URL, args: ReadonlyArray<string> = []): Running => {
  const [command, ...rest] = argv(script, args)
  const child = spawn(command, rest, { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const waiters = new Set<() => void>()
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8")
    for (const wake of waiters) wake()
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      resolve({ code, signal })
      for (const wake of waiters) wake()
    })
  )
  const line = (pattern: RegExp, ms = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = stdout.split("\n").find((l) => pattern.test(l))
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`exited before printing ${pattern}; stdout: ${stdout}; stderr: ${stderr}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no line ${pattern} within ${ms} ms; stdout: ${stdout}; stderr: ${stderr}`))
      }, ms)
      const done = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  return { child, output: () => ({ stdout, stderr }), line, exited }
}

/** Whether a process with this pid is still there. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
