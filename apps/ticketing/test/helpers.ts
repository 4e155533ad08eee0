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
import * as AppChild from "@weft/app/Child"
import * as Store from "../src/store.ts"

export const mainScript = fileURLToPath(new URL("../src/main.ts", import.meta.url))
export const fixtureScript = fileURLToPath(new URL("./fixtures/buyer.ts", import.meta.url))

/** How to run a `.ts` file with the runtime running this one (Deno needs `run -A`). */
export const runTs = (file: string, args: ReadonlyArray<string>): [string, Array<string>] => {
  const [exe, ...rest] = AppChild.argv(file, args)
  return [exe, rest]
}

const makeTempDir = (base: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(base, "weft-ticketing-test-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** A temporary directory on the real disk (fsync costs what it costs). */
export const tempDir = makeTempDir(os.tmpdir())

/** A temporary directory in memory where there is one (/dev/shm): for many cheap runs. */
export const memoryDir = makeTempDir(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir())

/**
 * Opens the store afresh (a new process's view) and checks the invariants:
 * sold + left = total, no seat twice, seats within 1..total. Returns the orders.
 */
export const reopen = (file: string) =>
  Effect.gen(function*() {
    const store = yield* Store.make(file, { lock: "none" })
    const counts = yield* store.tickets
    const orders = yield* store.orders
    const seats = orders.map((o) => o.seat)
    if (counts.sold + counts.count !== counts.total) throw new Error(`sold ${counts.sold} + left ${counts.count} != total ${counts.total}`)
    if (new Set(seats).size !== seats.length) throw new Error(`a seat sold twice: ${seats.join(",")}`)
    if (seats.some((s) => s < 1 || s > counts.total)) throw new Error(`a seat outside 1..${counts.total}: ${seats.join(",")}`)
    if (new Set(orders.map((o) => o.id)).size !== orders.length) throw new Error("an order id twice")
    return { counts, orders, byId: new Map(orders.map((o) => [o.id, o])) }
  })

/** Checks that every confirmed order is in the store, with the same seat and buyer. */
export const assertConfirmedPresent = (
  byId: ReadonlyMap<string, Store.Order>,
  confirmed: ReadonlyArray<Store.Order>
) => {
  for (const order of confirmed) {
    const found = byId.get(order.id)
    if (found === undefined) throw new Error(`confirmed order ${order.id} (seat ${order.seat}) is missing`)
    if (found.seat !== order.seat || found.buyer !== order.buyer) {
      throw new Error(`order ${order.id} changed: ${JSON.stringify(found)} vs confirmed ${JSON.stringify(order)}`)
    }
  }
}

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
