// Test helpers: a launcher as a child process (through the test kit's watcher), and what it left running, from /proc.
import * as fs from "node:fs"
import { alive, start } from "@weft/testkit"
import type { ChildProcess } from "node:child_process"

export { alive, descendants, procAvailable } from "@weft/testkit"

export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves when stdout has a line matching `pattern`; rejects if the process ends first or after `ms`. */
  readonly waitFor: (pattern: RegExp, ms: number) => Promise<string>
  /** The exit code once it has exited and its output is read. */
  readonly exited: Promise<number | null>
}

/** Runs `script` on this runtime (the kit's `argv`), or, given `npm`, `npm start -- args` (Node only); `detached`: in its own process group. */
export const launch = (
  script: string,
  args: ReadonlyArray<string>,
  cwd: string,
  via: "runtime" | "npm" = "runtime",
  env: Record<string, string> = {},
  options: { readonly detached?: boolean } = {}
): Running => {
  const running = start(script, args, {
    cwd,
    env,
    stdin: "ignore",
    detached: options.detached === true,
    ...(via === "npm" ? { command: ["npm", "start", "--", ...args] as const } : {})
  })
  return {
    child: running.proc,
    stdout: running.stdout,
    stderr: running.stderr,
    waitFor: (pattern, ms) => running.line(pattern, ms),
    exited: running.closed.then((exit) => exit.code)
  }
}

/**
 * `launch`, then wait (up to 100 s: a cold start builds and starts three apps) for the banner;
 * resolves with the launcher and the banner's text from "Weft is running:" on.
 */
export const launchToBanner = async (...args: Parameters<typeof launch>): Promise<{ running: Running; banner: string }> => {
  const running = launch(...args)
  await running.waitFor(/^Ctrl-C stops everything\.$/, 100_000)
  return { running, banner: running.stdout().slice(running.stdout().indexOf("Weft is running:")) }
}

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
