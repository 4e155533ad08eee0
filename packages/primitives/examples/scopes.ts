// One piece of code, four scopes. `deposit` is written once against the
// `Lock` interface; it runs unchanged between fibers (Lock), worker threads
// (SharedLock), processes (a Manager's lock) and unrelated processes
// (FileLock). Every scope ends with the exact count.
//
// Run: node examples/scopes.ts (also works with bun and deno run -A)
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Worker, isMainThread, workerData } from "node:worker_threads"
import { Effect } from "effect"
import { FileLock, Lock, Manager, SharedLock } from "@weft/primitives"

// The code that does not care where it runs: read, think, write, under a lock.
const deposit = (lock: Lock.Lock, read: () => number, write: (n: number) => void, times: number) =>
  Effect.forEach(Array.from({ length: times }), () =>
    lock.withLock(Effect.gen(function*() {
      const balance = read()
      yield* Effect.yieldNow // a window for a race, were there no lock
      write(balance + 1)
    })), { discard: true })

const file = (p: string) => ({
  read: () => JSON.parse(fs.readFileSync(p, "utf8")).balance as number,
  write: (n: number) => fs.writeFileSync(p, JSON.stringify({ balance: n }))
})

const times = 100
const role = process.argv[2]

if (!isMainThread) {
  // A worker thread: the lock arrives as a handle, the counter as shared memory.
  const { counter, handle } = workerData as { handle: SharedLock.Handle; counter: Int32Array }
  await Effect.runPromise(Effect.flatMap(SharedLock.attach(handle), (lock) =>
    deposit(lock, () => counter[0]!, (n) => { counter[0] = n }, times)))
} else if (role === "manager") {
  const { read, write } = file(process.argv[4]!)
  await Effect.runPromise(Effect.flatMap(Manager.attach(JSON.parse(process.argv[3]!) as Manager.Handle<"lock">), (lock) =>
    deposit(lock, read, write, times)))
} else if (role === "file") {
  const { read, write } = file(process.argv[4]!)
  await Effect.runPromise(Effect.flatMap(FileLock.make(process.argv[3]!), (lock) => deposit(lock, read, write, times)))
} else {
  const self = new URL(import.meta.url)
  const child = (...args: Array<string>) =>
    new Promise<void>((resolve, reject) => {
      const execArgv = "Deno" in globalThis ? ["run", "-A"] : []
      const p = fork(self, args, { execArgv, stdio: "inherit" })
      p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`child exited with ${code}`))))
    })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-scopes-"))
  const fresh = (name: string) => {
    const p = path.join(dir, name)
    fs.writeFileSync(p, JSON.stringify({ balance: 0 }))
    return p
  }

  const program = Effect.gen(function*() {
    // Fibers.
    let balance = 0
    const lock = yield* Lock.make
    yield* Effect.all([1, 2].map(() => deposit(lock, () => balance, (n) => { balance = n }, times)), { concurrency: "unbounded" })
    console.log(`fibers (Lock): ${balance}`)

    // Worker threads.
    const shared = yield* SharedLock.make
    const counter = new Int32Array(new SharedArrayBuffer(4))
    yield* Effect.promise(() => Promise.all([1, 2].map(() => new Promise((resolve, reject) => {
      const w = new Worker(self, { workerData: { handle: shared.handle, counter } })
      w.on("exit", resolve)
      w.on("error", reject)
    }))))
    console.log(`threads (SharedLock): ${counter[0]}`)

    // Processes, through a manager this process hosts.
    yield* Effect.scoped(Effect.gen(function*() {
      const manager = yield* Manager.serve()
      const managed = yield* manager.lock()
      const ledger = fresh("manager.json")
      yield* Effect.promise(() => Promise.all([1, 2].map(() => child("manager", JSON.stringify(managed.handle), ledger))))
      console.log(`processes (manager.lock()): ${file(ledger).read()}`)
    }))

    // Unrelated processes, through a lock file.
    const ledger = fresh("file.json")
    yield* Effect.promise(() => Promise.all([1, 2].map(() => child("file", path.join(dir, "ledger.lock"), ledger))))
    console.log(`processes (FileLock): ${file(ledger).read()}`)
  })
  await Effect.runPromise(Effect.ensuring(program, Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
}
