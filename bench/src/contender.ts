/**
 * Both sides of a race between contender processes. The contender's side: the
 * start handshake, the JSON read-modify-write under a lock, and the exit
 * report, shared by `process/rmw.ts`, `cluster/rmw.ts` and
 * `cluster/queue.ts`. The launcher's side: `launch` and `race`, shared
 * by the process and cluster groups. So every group races its contenders the
 * same way.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { Effect } from "effect"
import type { Lock } from "@weft/primitives"
import { argv } from "@weft/testkit"

/** A contender process, seen from the launcher. */
export interface Contender {
  /** Resolves once it has said "ready"; rejects if it exits first. */
  readonly ready: Promise<void>
  /** Resolves with the number it reported with "done" (0 if none); rejects if it exits otherwise. */
  readonly done: Promise<number>
  /** Tells it to start. */
  go(): void
}

/**
 * Runs `file` with `args` as a contender on this runtime (Deno: `run -A`);
 * its stderr shows in the bench's output.
 *
 * @example
 * ```ts
 * const contenders = Array.from({ length: 4 }, () => launch(worker, ["filelock", lockFile, counter, "500"]))
 * const { seconds, reports } = await race(contenders)
 * ```
 */
export const launch = (file: string, args: ReadonlyArray<string>): Contender => {
  const [command, ...rest] = argv(file, args)
  const proc = spawn(command, rest, { stdio: ["pipe", "pipe", "inherit"] })
  let buffer = ""
  let onReady!: () => void
  let onDone!: (report: number) => void
  let onFail!: (error: Error) => void
  const exitedBadly = (reject: (error: Error) => void) =>
    proc.on("exit", (code) => code !== 0 && reject(new Error(`${args[0]} contender exited with ${code}`)))
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve
    exitedBadly(reject)
  })
  const done = new Promise<number>((resolve, reject) => {
    onDone = resolve
    onFail = reject
  })
  exitedBadly(onFail)
  proc.stdout!.setEncoding("utf8")
  proc.stdout!.on("data", (chunk: string) => {
    buffer += chunk
    for (const line of buffer.split("\n").slice(0, -1)) {
      if (line === "ready") onReady()
      if (line.startsWith("done")) onDone(Number(line.slice(5)) || 0)
    }
    buffer = buffer.slice(buffer.lastIndexOf("\n") + 1)
  })
  return { ready, done, go: () => proc.stdin!.write("go\n") }
}

/**
 * Waits until every contender is ready, tells them all "go", and times them to
 * the last "done": the seconds, and what each reported.
 *
 * @example
 * ```ts
 * const { seconds } = await race(contenders)
 * ```
 */
export const race = async (contenders: ReadonlyArray<Contender>): Promise<{ seconds: number; reports: Array<number> }> => {
  await Promise.all(contenders.map((c) => c.ready))
  const t0 = performance.now()
  for (const c of contenders) c.go()
  const reports = await Promise.all(contenders.map((c) => c.done))
  return { seconds: (performance.now() - t0) / 1000, reports }
}

/** Says "ready", then resolves on the first "go" line on stdin (all contenders start together). */
export const ready = (): Promise<void> => {
  process.stdout.write("ready\n")
  return new Promise<void>((resolve) => {
    const rl = readline.createInterface({ input: process.stdin })
    rl.on("line", (line) => {
      if (line.trim() === "go") {
        rl.close()
        resolve()
      }
    })
  })
}

/** One unguarded read-modify-write of `{ count }` in `file`: the race a lock must close. */
export const rmw = (file: string): void => {
  const value = JSON.parse(fs.readFileSync(file, "utf8")) as { count: number }
  fs.writeFileSync(file, JSON.stringify({ count: value.count + 1 }))
}

/** The longest single wait for the lock seen in this process, in ms. */
export const waits = { longest: 0 }

/** Times one acquisition: call before asking for the lock, and call the result once it is held. */
export const timeWait = (): () => void => {
  const start = performance.now()
  return () => {
    waits.longest = Math.max(waits.longest, performance.now() - start)
  }
}

/**
 * Lock-and-release cycles each contender runs before it says "ready"
 * (`WARMUP`, default 0): with it, the race measures processes past their
 * first cycles (JIT-compiled, connections warm), as in a long-running
 * service; without it, fresh processes. The counter is not touched.
 */
export const WARMUP = Number(process.env.WARMUP ?? 0)

/** `ops` read-modify-writes of `file` under a Weft lock (any scope), after the warm-up and the start handshake. */
export const weftRmw = async (lock: Lock.Lock, file: string, ops: number): Promise<void> => {
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < WARMUP; i++) yield* lock.withLock(Effect.void)
  }))
  await ready()
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < ops; i++) {
      const held = timeWait()
      yield* lock.withLock(Effect.sync(() => {
        held()
        rmw(file)
      }))
    }
  }))
}

/** Ends the process once `work` is done: "done <report>" and exit 0, or the error and exit 1. */
export const finish = (work: Promise<void>, report: () => string = () => waits.longest.toFixed(2)): void => {
  work.then(
    () => {
      const text = report()
      process.stdout.write(text === "" ? "done\n" : `done ${text}\n`)
      process.exit(0)
    },
    (error) => {
      process.stderr.write(`${error}\n`)
      process.exit(1)
    }
  )
}

/**
 * One round of the read-modify-write race: `processes` contenders running
 * `worker` (`kind target file ops`) on a fresh counter in a fresh directory
 * under `BENCH_DIR` (default the temp dir), checked for lost updates. Gives
 * ops/s and the longest single wait any contender reported.
 *
 * @example
 * ```ts
 * const { opsPerSecond } = await rmwRound(worker, "filelock", (dir) => path.join(dir, "lock"), { processes: 4, ops: 500, label: "process" })
 * ```
 */
export const rmwRound = async (
  worker: string,
  kind: string,
  target: (dir: string) => string,
  options: { readonly processes: number; readonly ops: number; readonly label: string }
): Promise<{ opsPerSecond: number; longest: number }> => {
  const { label, ops, processes } = options
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), `weft-bench-${label}-`))
  try {
    const file = path.join(dir, "counter.json")
    fs.writeFileSync(file, JSON.stringify({ count: 0 }))
    const { reports, seconds } = await race(Array.from({ length: processes }, () => launch(worker, [kind, target(dir), file, String(ops)])))
    const count = (JSON.parse(fs.readFileSync(file, "utf8")) as { count: number }).count
    if (count !== processes * ops) throw new Error(`${kind}: count ${count}, expected ${processes * ops}`)
    return { opsPerSecond: (processes * ops) / seconds, longest: Math.max(...reports) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
