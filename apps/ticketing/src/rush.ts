/**
 * The 12306 ticket rush of the classic Python `multiprocessing` lesson, with real processes: a store,
 * N buyers that are the tasks of a `ProcessPool` (one process each), started
 * together by a `Manager` barrier, each looking at the count and then
 * buying. Under a lock (the store's `FileLock`, or a `Manager` lock) the
 * store is exact; with none, buyers read the same count and each takes the
 * same next seat, so more tickets are sold than exist.
 *
 * @example
 * ```ts
 * const report = yield* Rush.rush({ file: "/tmp/t.json", tickets: 3, buyers: 10, lock: "file" })
 * report.seats // [{ seat: 1, buyer: 4 }, ...]
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url"
import { ProcessPool } from "@weft/pools"
import { Manager } from "@weft/primitives"
import { Effect, Fiber } from "effect"
import type { BuyerAnswer } from "./buyer.ts"
import * as Store from "./store.ts"
import * as PgStore from "./store/postgres.ts"

/**
 * The pool's worker module (`buyer.ts`).
 *
 * @example
 * ```ts
 * ProcessPool.make({ module: Rush.buyerModule, size: 4 })
 * ```
 */
export const buyerModule = fileURLToPath(new URL("./buyer.ts", import.meta.url))

/**
 * Which lock the buyers buy under.
 *
 * @example
 * ```ts
 * const kind: Rush.LockKind = "manager"
 * ```
 */
export type LockKind = "file" | "manager" | "none"

/**
 * Options of `rush`.
 *
 * @example
 * ```ts
 * const options: Rush.RushOptions = { file: "/tmp/t.json", tickets: 3, buyers: 10, lock: "none", hold: 300 }
 * ```
 */
export interface RushOptions {
  /** The store: a file (its directory must exist), or a `postgres://` URL (the lock does not apply: each purchase is one conditional statement). */
  readonly file: string
  /** Starts a fresh sale of this many tickets first; leave it out to rush an existing store. */
  readonly tickets?: number
  readonly buyers: number
  /** Default `"file"`. */
  readonly lock?: LockKind
  /** Each buyer waits a random 0..think ms after the start before looking. Default 20. */
  readonly think?: number
  /** Each buy holds its read a random 0..hold ms before writing. Default 20. */
  readonly hold?: number
  /** How long the whole rush may take before the buyers are stopped. Default 60 s. */
  readonly timeoutMs?: number
  /** Called with each line the rush prints while it runs. */
  readonly onEvent?: (line: string) => void
}

/**
 * One buyer's outcome.
 *
 * @example
 * ```ts
 * const a: Rush.Answer = { buyer: 2, outcome: "ticket", seen: 3, seat: 1, left: 2 }
 * ```
 */
export type Answer =
  | { readonly buyer: number; readonly outcome: "ticket"; readonly seen: number; readonly seat: number; readonly left: number }
  | { readonly buyer: number; readonly outcome: "sold out"; readonly seen: number }
  | { readonly buyer: number; readonly outcome: "error"; readonly message: string }

/**
 * What a rush did.
 *
 * @example
 * ```ts
 * if (report.oversold) console.log(`sold ${report.sold} of ${report.tickets}`)
 * ```
 */
export interface RushReport {
  /** Tickets left in the store when the rush started. */
  readonly tickets: number
  readonly buyers: number
  readonly lock: LockKind
  /** One per buyer, in the order they answered. */
  readonly answers: ReadonlyArray<Answer>
  /** Buyers told they got a ticket. */
  readonly sold: number
  /** Who got which seat, by seat (a seat twice: oversold). */
  readonly seats: ReadonlyArray<{ readonly seat: number; readonly buyer: number }>
  /** The store's count afterwards (or the error reading it). */
  readonly left: number | string
  readonly oversold: boolean
}

const lockName = (lock: LockKind) =>
  lock === "file" ? "the FileLock" : lock === "manager" ? "a Manager lock" : "NO LOCK"

const describe = (answer: Answer): string => {
  switch (answer.outcome) {
    case "ticket":
      return `buyer ${answer.buyer}: saw ${answer.seen} left, got a ticket, seat ${answer.seat} (${answer.left} left)`
    case "sold out":
      return answer.seen === 0
        ? `buyer ${answer.buyer}: saw 0 left, sold out`
        : `buyer ${answer.buyer}: saw ${answer.seen} left, but sold out by the time it bought`
    case "error":
      return `buyer ${answer.buyer}: no ticket: ${answer.message}`
  }
}

const toAnswer = (buyer: number, a: BuyerAnswer): Answer =>
  "error" in a
    ? { buyer, outcome: "error", message: a.error }
    : a.ok
    ? { buyer, outcome: "ticket", seen: a.seen, seat: a.seat, left: a.left }
    : { buyer, outcome: "sold out", seen: a.seen }

/**
 * Runs one rush and reports every buyer's answer; every buyer process is
 * gone when it returns.
 *
 * @example
 * ```ts
 * const report = yield* Rush.rush({ file, tickets: 5, buyers: 12, onEvent: console.log })
 * ```
 */
export const rush = (options: RushOptions): Effect.Effect<RushReport, Store.StoreError | Store.InvalidCountError | Error> =>
  Effect.scoped(Effect.gen(function*() {
    const lock = options.lock ?? "file"
    const say = (line: string) => options.onEvent?.(line)
    if (!Number.isSafeInteger(options.buyers) || options.buyers < 1) {
      return yield* new Store.InvalidCountError({ value: options.buyers })
    }
    const store = yield* Store.open(options.file)
    const onPostgres = PgStore.isUrl(options.file)
    if (options.tickets !== undefined) yield* store.reset(options.tickets)
    const tickets = (yield* store.tickets).count
    const how = onPostgres ? "each buying with one conditional statement in PostgreSQL" : lock === "none" ? "NO LOCK" : `buying under ${lockName(lock)}`
    say(`12306 rush: ${tickets} tickets, ${options.buyers} buyer processes, ${how} (${store.file})`)

    const manager = yield* Manager.serve().pipe(Effect.mapError((e) => new Error(e.message)))
    // Every buyer and this process: the last to arrive starts them all at once.
    const start = yield* manager.barrier(options.buyers + 1).pipe(Effect.orDie)
    const buyerLock = lock === "manager" ? yield* manager.lock() : lock
    const pool = yield* ProcessPool.make<typeof import("./buyer.ts").default>({
      module: buyerModule,
      size: options.buyers,
      minSize: options.buyers
    }).pipe(Effect.mapError((e) => new Error(e.message)))

    const answers: Array<Answer> = []
    const task = (buyer: number) =>
      pool.submit("buy", { file: options.file, buyer, think: options.think ?? 20, hold: options.hold ?? 20 }, buyerLock, start).pipe(
        Effect.map((a) => toAnswer(buyer, a)),
        Effect.catch((e) => Effect.succeed<Answer>({ buyer, outcome: "error", message: e.message })),
        Effect.tap((answer) =>
          Effect.sync(() => {
            answers.push(answer)
            say(describe(answer))
          })
        )
      )
    const timeoutMs = options.timeoutMs ?? 60_000
    const all = yield* Effect.forkChild(
      Effect.forEach(Array.from({ length: options.buyers }, (_, i) => i + 1), task, { concurrency: "unbounded", discard: true })
    )
    // Starting every buyer process takes a while (each loads a runtime); nobody buys before all are there.
    const started = yield* Effect.result(start.waitFor(timeoutMs))
    if (started._tag === "Failure") {
      return yield* Effect.fail(new Error(`the buyers did not all start within ${timeoutMs} ms`))
    }
    yield* Fiber.join(all).pipe(
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.fail(new Error(`the buyers did not all answer within ${timeoutMs} ms`))
      })
    )

    const sold = answers.filter((a) => a.outcome === "ticket").length
    const seats = answers.flatMap((a) => a.outcome === "ticket" ? [{ seat: a.seat, buyer: a.buyer }] : [])
      .sort((a, b) => a.seat - b.seat || a.buyer - b.buyer)
    const left = yield* store.tickets.pipe(
      Effect.map((c) => c.count),
      Effect.catch((e) => Effect.succeed(e.message))
    )
    const oversold = sold > tickets
    const refused = answers.filter((a) => a.outcome === "sold out").length
    const failed = answers.length - sold - refused
    say(
      `sold ${sold} of ${tickets} tickets to ${options.buyers} buyers; ${refused} told sold out` +
        (failed > 0 ? `, ${failed} failed` : "") + `; the file says ${left} left`
    )
    say(`seats: ${seats.length === 0 ? "none" : seats.map((s) => `${s.seat} → buyer ${s.buyer}`).join(", ")}`)
    if (oversold) {
      say(
        `OVERSOLD by ${sold - tickets}: without the lock, buyers read the same count and each took the same next seat. ` +
          `That race is what this demo shows; run without --no-lock and the lock keeps it exact.`
      )
    } else if (onPostgres) {
      say(`exact: each purchase took the next seat and wrote its order in one statement, in one transaction.`)
    } else if (lock !== "none") {
      say(`exact: ${lockName(lock)} let one buyer at a time read and write the store.`)
    } else {
      say(`no oversell this time (the race is a matter of timing); try more buyers or a longer --hold.`)
    }
    return { tickets, buyers: options.buyers, lock, answers, sold, seats, left, oversold }
  }))
