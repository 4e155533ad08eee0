/**
 * Processes as the tests see them, from /proc (Linux): whether one runs, which
 * process a pid names (pid plus start time: on a busy machine a pid is soon
 * reused), and a process's descendants.
 *
 * @example
 * ```ts
 * import { aliveSame, processIdentity } from "@weft/testkit"
 * const worker = processIdentity(pid)! // while it surely runs
 * process.kill(primary, "SIGKILL")
 * // later: false once that very process is gone, whoever has the pid now
 * aliveSame(worker)
 * ```
 */
import * as fs from "node:fs"

/**
 * Whether /proc is there to read (Linux); tests that need it skip elsewhere.
 *
 * @example
 * ```ts
 * it.skipIf(!procAvailable)("every worker exits (skipped: no /proc)", () => {})
 * ```
 */
export const procAvailable: boolean = fs.existsSync("/proc/self/stat")

/** The fields of /proc/PID/stat after "(comm) ", from the state on; undefined if the process is gone. */
const statFields = (pid: number): Array<string> | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

/**
 * Whether a process with this pid exists, a zombie not yet reaped included
 * (`kill(pid, 0)`): "reaped" is what a test of a parent's cleanup checks.
 *
 * @example
 * ```ts
 * assert.isFalse(exists(pid), `child ${pid} is still there`)
 * ```
 */
export const exists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Whether the process exists and is not a zombie (a zombie has ended; an
 * orphan's may wait long for a reaper). Without /proc: `kill(pid, 0)`.
 *
 * @example
 * ```ts
 * proc.kill("SIGKILL")
 * await waitUntil(() => !alive(proc.pid!))
 * ```
 */
export const alive = (pid: number): boolean => {
  if (!procAvailable) return exists(pid)
  const fields = statFields(pid)
  return fields !== undefined && fields[0] !== "Z"
}

/** One process: its pid and when it started (clock ticks since boot), which together never name another. */
export interface Identity {
  readonly pid: number
  readonly start: string
}

/**
 * The identity of the running process `pid` (field 22 of /proc/PID/stat), or
 * undefined if it is gone or a zombie. Take it while the process surely runs.
 *
 * @example
 * ```ts
 * const ids = pids.map(processIdentity)
 * ```
 */
export const processIdentity = (pid: number): Identity | undefined => {
  const fields = statFields(pid)
  return fields === undefined || fields[0] === "Z" ? undefined : { pid, start: fields[19]! }
}

/**
 * Whether the process `identity` names still runs: same pid, same start time,
 * not a zombie. A pid reused by a newer process does not count.
 *
 * @example
 * ```ts
 * yield* Effect.addFinalizer(() => Effect.sync(() => ids.filter(aliveSame).forEach((id) => process.kill(id.pid, "SIGKILL"))))
 * ```
 */
export const aliveSame = (identity: Identity | undefined): boolean =>
  identity !== undefined && processIdentity(identity.pid)?.start === identity.start

/**
 * Every process's parent pid, now.
 *
 * @example
 * ```ts
 * parents().get(process.pid) // this process's parent
 * ```
 */
export const parents = (): Map<number, number> => {
  const map = new Map<number, number>()
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const fields = statFields(Number(name))
    if (fields !== undefined) map.set(Number(name), Number(fields[1]))
  }
  return map
}

/**
 * The running (not zombie) children of `ppid`, now.
 *
 * @example
 * ```ts
 * assert.strictEqual(childrenOf(owner.pid!).length, 2, "two pool processes")
 * ```
 */
export const childrenOf = (ppid: number): Array<number> =>
  [...parents()].flatMap(([pid, parent]) => parent === ppid && alive(pid) ? [pid] : [])

/**
 * The pids of every descendant of `pid`, now, nearest first.
 *
 * @example
 * ```ts
 * const tree = descendants(launcher.pid!)
 * ```
 */
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
