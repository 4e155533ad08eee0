/**
 * The side of a benchmark that runs in a contender process: the start
 * handshake, the JSON read-modify-write under a lock, and the exit report.
 * Shared by `process-workers/rmw.ts`, `cluster-workers/rmw.ts` and
 * `cluster-workers/queue.ts`, so every group races its contenders the same way.
 */
import * as fs from "node:fs"
import * as readline from "node:readline"
import { Effect } from "effect"
import type { Lock } from "@weft/primitives"

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
