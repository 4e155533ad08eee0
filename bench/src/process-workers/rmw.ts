/**
 * One contender of the process bench: `rmw.ts <weft-manager|weft-filelock|proper-lockfile> <target> <json file> <n>`.
 * Prints "ready", waits for "go" on stdin, does n read-modify-writes of
 * `{ count }` under the lock, and prints "done <longest wait for the lock, ms>".
 */
import * as fs from "node:fs"
import * as readline from "node:readline"
import { Effect } from "effect"
import { FileLock, type Lock, Manager } from "@weft/primitives"
import lockfile from "proper-lockfile"

const [kind, target, file, n] = process.argv.slice(2)
const ops = Number(n)

const go = () =>
  new Promise<void>((resolve) => {
    const rl = readline.createInterface({ input: process.stdin })
    rl.on("line", (line) => {
      if (line.trim() === "go") {
        rl.close()
        resolve()
      }
    })
  })

const rmw = () => {
  const value = JSON.parse(fs.readFileSync(file!, "utf8")) as { count: number }
  fs.writeFileSync(file!, JSON.stringify({ count: value.count + 1 }))
}

let longest = 0

const weft = async (make: Effect.Effect<Lock.Lock, unknown>) => {
  const lock = await Effect.runPromise(make)
  process.stdout.write("ready\n")
  await go()
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < ops; i++) {
      const start = performance.now()
      yield* lock.withLock(Effect.sync(() => {
        longest = Math.max(longest, performance.now() - start)
        rmw()
      }))
    }
  }))
}

const proper = async () => {
  // The same backoff as FileLock's default: 1 ms, x1.5, capped at 25 ms, jittered.
  const options = {
    realpath: false,
    stale: 10_000,
    retries: { retries: 2_000, factor: 1.5, minTimeout: 1, maxTimeout: 25, randomize: true }
  }
  process.stdout.write("ready\n")
  await go()
  for (let i = 0; i < ops; i++) {
    const start = performance.now()
    const release = await lockfile.lock(target!, options)
    longest = Math.max(longest, performance.now() - start)
    rmw()
    await release()
  }
}

const main = kind === "weft-manager"
  ? weft(Manager.attach(JSON.parse(target!) as Manager.Handle<"lock">))
  : kind === "weft-filelock"
  ? weft(FileLock.make(target!))
  : proper()

main.then(
  () => {
    process.stdout.write(`done ${longest.toFixed(2)}\n`)
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`${error}\n`)
    process.exit(1)
  }
)
