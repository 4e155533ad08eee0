/**
 * The 12306 ticket rush of the seed tutorial, with real processes: a ticket
 * file, N buyer processes (`buyer.ts`, started with the current runtime) that
 * all start at one "go", each searching then buying. With the FileLock the
 * file is exact; with `lock: false` buyers read the same count and each write
 * `count - 1`, so more tickets are sold than exist.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Scope } from "effect"
import * as Store from "./store.ts"

export const buyerScript = fileURLToPath(new URL("./buyer.ts", import.meta.url))

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"

/** How to run a `.ts` file with the runtime running this one (Deno needs `run -A`). */
export const runTs = (file: string, args: ReadonlyArray<string>): [string, Array<string>] => [
  process.execPath,
  isDeno ? ["run", "-A", file, ...args] : [file, ...args]
]

export interface RushOptions {
  /** The ticket file (its directory must exist). */
  readonly file: string
  /** Writes `{ "count": tickets }` first; leave it out to rush an existing file. */
  readonly tickets?: number
  readonly buyers: number
  /** Buy under the FileLock (default `true`). */
  readonly lock?: boolean
  /** Each buyer waits a random 0..think ms after "go" before searching. Default 20. */
  readonly think?: number
  /** Each buy holds its read a random 0..hold ms before writing. Default 20. */
  readonly hold?: number
  /** How long a buyer may take to answer before it is killed and reported. Default 30 s. */
  readonly timeoutMs?: number
  /** Called with each line the rush prints while it runs. */
  readonly onEvent?: (line: string) => void
}

export type Answer =
  | { readonly buyer: number; readonly outcome: "ticket"; readonly seen: number; readonly left: number }
  | { readonly buyer: number; readonly outcome: "sold out"; readonly seen: number }
  | { readonly buyer: number; readonly outcome: "error"; readonly message: string }

export interface RushReport {
  /** Tickets in the file when the rush started. */
  readonly tickets: number
  readonly buyers: number
  readonly lock: boolean
  /** One per buyer, in the order they answered. */
  readonly answers: ReadonlyArray<Answer>
  /** Buyers told they got a ticket. */
  readonly sold: number
  /** The count in the file afterwards (or the error reading it). */
  readonly left: number | string
  readonly oversold: boolean
}

interface Buyer {
  readonly number: number
  readonly proc: ChildProcess
  /** Resolves on the first JSON line of this type (or a crash). */
  next(type: string): Effect.Effect<Record<string, unknown>, string>
  go(): void
}

const startBuyer = (
  number: number,
  args: ReadonlyArray<string>
): Effect.Effect<Buyer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync((): Buyer => {
      const [exe, argv] = runTs(buyerScript, args)
      const proc = spawn(exe, argv, { stdio: ["pipe", "pipe", "pipe"] })
      const messages: Array<Record<string, unknown>> = []
      const listeners = new Set<() => void>()
      let stderr = ""
      let buffer = ""
      let exit: string | undefined = undefined
      const notify = () => {
        for (const f of [...listeners]) f()
      }
      proc.stdout!.setEncoding("utf8")
      proc.stdout!.on("data", (chunk: string) => {
        buffer += chunk
        for (let i = buffer.indexOf("\n"); i !== -1; i = buffer.indexOf("\n")) {
          const line = buffer.slice(0, i)
          buffer = buffer.slice(i + 1)
          try {
            const message = JSON.parse(line) as Record<string, unknown>
            messages.push(message)
          } catch {
            stderr += line + "\n"
          }
        }
        notify()
      })
      proc.stderr!.setEncoding("utf8")
      proc.stderr!.on("data", (chunk: string) => void (stderr += chunk))
      proc.stdin!.on("error", () => {})
      proc.on("error", (error) => {
        exit = `could not start: ${error.message}`
        notify()
      })
      proc.on("exit", (code, signal) => {
        exit = signal !== null ? `killed by ${signal}` : `exited with code ${code}`
        notify()
      })
      return {
        number,
        proc,
        go: () => void proc.stdin!.write("go\n"),
        next: (type) =>
          Effect.callback<Record<string, unknown>, string>((resume) => {
            const check = () => {
              const found = messages.find((m) => m.type === type || m.type === "error")
              if (found !== undefined) {
                listeners.delete(check)
                return resume(Effect.succeed(found))
              }
              if (exit !== undefined) {
                listeners.delete(check)
                const said = stderr.trim().split("\n").slice(-3).join(" | ")
                resume(Effect.fail(`crashed before answering (${exit})${said ? `: ${said}` : ""}`))
              }
            }
            listeners.add(check)
            check()
            return Effect.sync(() => listeners.delete(check))
          })
      }
    }),
    (buyer) =>
      Effect.suspend(() => {
        if (buyer.proc.exitCode !== null || buyer.proc.signalCode !== null) return Effect.void
        buyer.proc.kill("SIGKILL")
        return Effect.callback<void>((resume) => {
          if (buyer.proc.exitCode !== null || buyer.proc.signalCode !== null) return resume(Effect.void)
          buyer.proc.once("exit", () => resume(Effect.void))
        }).pipe(Effect.timeoutOption("5 seconds"), Effect.asVoid)
      })
  )

const describe = (answer: Answer): string => {
  switch (answer.outcome) {
    case "ticket":
      return `buyer ${answer.buyer}: saw ${answer.seen} left, got a ticket (${answer.left} left)`
    case "sold out":
      return answer.seen === 0
        ? `buyer ${answer.buyer}: saw 0 left, sold out`
        : `buyer ${answer.buyer}: saw ${answer.seen} left, but sold out by the time it bought`
    case "error":
      return `buyer ${answer.buyer}: no ticket: ${answer.message}`
  }
}

/** Runs one rush and reports every buyer's answer; every buyer process is gone when it returns. */
export const rush = (options: RushOptions): Effect.Effect<RushReport, Store.TicketFileError | Store.InvalidCountError> =>
  Effect.scoped(Effect.gen(function*() {
    const lock = options.lock !== false
    const say = (line: string) => options.onEvent?.(line)
    if (!Number.isSafeInteger(options.buyers) || options.buyers < 1) {
      return yield* new Store.InvalidCountError({ value: options.buyers })
    }
    if (options.tickets !== undefined) {
      if (!Store.isCount(options.tickets)) return yield* new Store.InvalidCountError({ value: options.tickets })
      yield* Store.writeCount(options.file, options.tickets)
    }
    const tickets = yield* Store.readCount(options.file)
    say(`12306 rush: ${tickets} tickets, ${options.buyers} buyer processes, ${lock ? "buying under the FileLock" : "NO LOCK"} (${options.file})`)
    const args = (n: number) => [options.file, String(n), lock ? "lock" : "no-lock", String(options.think ?? 20), String(options.hold ?? 20)]
    const buyers = yield* Effect.forEach(
      Array.from({ length: options.buyers }, (_, i) => i + 1),
      (n) => startBuyer(n, args(n))
    )
    const answers: Array<Answer> = []
    // Everyone ready, then one "go": the rush starts at the same moment for all.
    const ready = yield* Effect.forEach(buyers, (b) => Effect.result(b.next("ready")), { concurrency: "unbounded" })
    for (const b of buyers) b.go()
    const timeoutMs = options.timeoutMs ?? 30_000
    yield* Effect.forEach(buyers, (b, i) =>
      Effect.gen(function*() {
        const r = ready[i]!
        const answer: Answer = yield* (r._tag === "Failure" ? Effect.fail(r.failure) : b.next("result")).pipe(
          Effect.timeoutOrElse({
            duration: timeoutMs,
            orElse: () => Effect.fail(`no answer within ${timeoutMs} ms (killed)`)
          }),
          Effect.map((m): Answer =>
            m.type === "error"
              ? { buyer: b.number, outcome: "error", message: String(m.message) }
              : m.ok === true
              ? { buyer: b.number, outcome: "ticket", seen: Number(m.seen ?? m.left), left: Number(m.left) }
              : { buyer: b.number, outcome: "sold out", seen: Number(m.seen ?? 0) }
          ),
          Effect.catch((message: string) => Effect.succeed<Answer>({ buyer: b.number, outcome: "error", message }))
        )
        answers.push(answer)
        say(describe(answer))
      }), { concurrency: "unbounded", discard: true })
    const sold = answers.filter((a) => a.outcome === "ticket").length
    const left = yield* Store.readCount(options.file).pipe(Effect.catch((e) => Effect.succeed(e.message)))
    const oversold = sold > tickets
    const refused = answers.filter((a) => a.outcome === "sold out").length
    const failed = answers.length - sold - refused
    say(
      `sold ${sold} of ${tickets} tickets to ${options.buyers} buyers; ${refused} told sold out` +
        (failed > 0 ? `, ${failed} failed` : "") + `; the file says ${left} left`
    )
    if (oversold) {
      say(
        `OVERSOLD by ${sold - tickets}: without the lock, buyers read the same count and each wrote count - 1. ` +
          `That race is what this demo shows; run without --no-lock and the FileLock keeps it exact.`
      )
    } else if (lock) {
      say(`exact: the FileLock let one buyer at a time read and write the file.`)
    } else {
      say(`no oversell this time (the race is a matter of timing); try more buyers or a longer --hold.`)
    }
    return { tickets, buyers: options.buyers, lock, answers, sold, left, oversold }
  }))
