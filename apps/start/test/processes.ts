// Test helpers: a launcher as a child process, and the process tree from /proc.
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { Child } from "@weft/app"

export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves when stdout has a line matching `pattern`; rejects if the process exits first or after `ms`. */
  readonly waitFor: (pattern: RegExp, ms: number) => Promise<string>
  readonly exited: Promise<number | null>
}

/** Runs `script` on this runtime (`Child.argv`), or, given `npm`, `npm start -- args` (Node only); `detached`: in its own process group. */
export const launch = (
  script: string,
  args: ReadonlyArray<string>,
  cwd: string,
  via: "runtime" | "npm" = "runtime",
  env: Record<string, string> = {},
  options: { readonly detached?: boolean } = {}
): Running => {
  const [command, ...rest] = via === "npm" ? ["npm", "start", "--", ...args] : Child.argv(script, args)
  const child = spawn(command, rest, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env }, detached: options.detached === true })
  let out = ""
  let err = ""
  const wake = new Set<() => void>()
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8")
    for (const f of wake) f()
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      resolve(code)
      for (const f of wake) f()
    })
  )
  const waitFor = (pattern: RegExp, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        done()
        reject(new Error(`no ${pattern} within ${ms} ms\nstdout:\n${out}\nstderr:\n${err}`))
      }, ms)
      const check = () => {
        const line = out.split("\n").find((l) => pattern.test(l))
        if (line !== undefined) {
          done()
          resolve(line)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${pattern}\nstdout:\n${out}\nstderr:\n${err}`))
        }
      }
      const done = () => {
        clearTimeout(timer)
        wake.delete(check)
      }
      wake.add(check)
      check()
    })
  return { child, stdout: () => out, stderr: () => err, waitFor, exited }
}

/** Every process's parent, from /proc (Linux). */
const parents = (): Map<number, number> => {
  const map = new Map<number, number>()
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      map.set(Number(name), ppid)
    } catch {
      // gone meanwhile
    }
  }
  return map
}

/** The pids of every descendant of `pid`, now. */
export const descendants = (pid: number): Array<number> => {
  const map = parents()
  const found: Array<number> = []
  const queue = [pid]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const [child, ppid] of map) {
      if (ppid === parent) {
        found.push(child)
        queue.push(child)
      }
    }
  }
  return found
}

/** Whether the process exists and is not a zombie. */
export const alive = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

export const procAvailable = fs.existsSync("/proc/self/stat")

/** The processes whose environment holds `name=value` (children inherit it): what a launcher left running. */
export const marked = (name: string, value: string): Array<number> => {
  const needle = `${name}=${value}`
  const found: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(needle) && alive(Number(entry))) found.push(Number(entry))
    } catch {
      // gone, or not ours to read
    }
  }
  return found
}

/** The command line of a process (its arguments joined by spaces), or "" if it is gone. */
export const commandLine = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ")
  } catch {
    return ""
  }
}
