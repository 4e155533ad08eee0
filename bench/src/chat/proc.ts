/**
 * Process helpers for the chat bench: start a chat server as a child process
 * and wait for its `chat: tcp 127.0.0.1:PORT` line, read the memory and CPU
 * of its whole process tree from /proc, and stop it with nothing left behind.
 */
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import { alive, start } from "@weft/testkit"

/** Every pid in the tree rooted at `root` (root first), from /proc/<pid>/stat's ppid. */
export const processTree = (root: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    } catch {
      continue // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    const list = children.get(ppid)
    if (list === undefined) children.set(ppid, [pid])
    else list.push(pid)
  }
  const tree: Array<number> = []
  const visit = (pid: number) => {
    tree.push(pid)
    for (const child of children.get(pid) ?? []) visit(child)
  }
  visit(root)
  return tree
}

/** VmRSS of one process in bytes (0 if it is gone). */
const rssOf = (pid: number): number => {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? 0 : Number(match[1]) * 1024
  } catch {
    return 0
  }
}

/** CPU time (user + system) of one process in seconds (0 if it is gone). */
const cpuOf = (pid: number): number => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // After "(comm) ": state(0) ppid(1) ... utime(11) stime(12), in clock ticks (100 Hz on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** The sum of VmRSS over the process tree in bytes, how many processes that is, and each one's (root first). */
export const treeRss = (root: number): { readonly bytes: number; readonly processes: number; readonly each: Array<number> } => {
  const each = processTree(root).map(rssOf)
  return { bytes: each.reduce((sum, rss) => sum + rss, 0), processes: each.length, each }
}

/** CPU seconds used so far by the process tree (processes that already exited are not counted). */
export const treeCpu = (root: number): number => processTree(root).reduce((sum, pid) => sum + cpuOf(pid), 0)

export interface Server {
  readonly name: string
  readonly port: number
  readonly pid: number
  /** Every line the server printed (stdout and stderr), for the report when something goes wrong. */
  readonly output: Array<string>
  readonly stop: () => Promise<void>
}

/**
 * Starts `command args` and resolves once it prints `chat: tcp 127.0.0.1:PORT`.
 * Fails (after killing the tree) if it exits first or is not listening within `timeoutMs`.
 */
export const startServer = async (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly timeoutMs?: number; readonly portPattern?: RegExp } = {}
): Promise<Server> => {
  const running = start(command, [], { command: [command, ...args], cwd: options.cwd, stdin: "ignore", lines: "both", name })
  const pattern = options.portPattern ?? /chat: tcp 127\.0\.0\.1:(\d+)/
  let line: string
  try {
    line = await running.line(pattern, options.timeoutMs ?? 30_000)
  } catch (error) {
    await stopTree(running.proc)
    throw new Error(`${name}: ${(error as Error).message}`)
  }
  return {
    name,
    port: Number(pattern.exec(line)![1]),
    pid: running.proc.pid!,
    get output() {
      return running.lines().slice(0, 200)
    },
    stop: () => stopTree(running.proc)
  }
}

/**
 * SIGTERM to the root (a server drains its workers itself), then, after 5 s,
 * SIGKILL to every process of the tree still there. Resolves when all are gone.
 */
export const stopTree = async (child: ChildProcess): Promise<void> => {
  if (child.pid === undefined) return
  const pids = processTree(child.pid)
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once("exit", () => resolve()))
  child.kill("SIGTERM")
  const deadline = Date.now() + 5_000
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))])
  while (Date.now() < deadline && pids.some(alive)) await new Promise((r) => setTimeout(r, 50))
  for (const pid of pids) {
    if (alive(pid)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone meanwhile
      }
    }
  }
  while (pids.some(alive) && Date.now() < deadline + 2_000) await new Promise((r) => setTimeout(r, 50))
}
