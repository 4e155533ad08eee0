/**
 * The ticket store: `{ "count": N }` in a JSON file, the 12306 "database" of
 * the seed tutorial, shared by any number of processes.
 *
 * - `search` reads the count without the lock (a stale answer is fine: it is
 *   only a look).
 * - `buy` looks first without the lock (sold out: done, no lock taken), then
 *   takes the cross-process `FileLock` (`<file>.lock`), re-reads the count,
 *   waits out the "database round trip" (`options.hold`), and writes
 *   `count - 1`. Under the lock the read-modify-write is exact across
 *   processes; with `lock: false` (the demo's `--no-lock`) two buyers can read
 *   the same count and both write `count - 1`: tickets are oversold.
 * - `reset(count)` writes a new count under the lock.
 *
 * Writes go to a temporary file renamed over the ticket file, so a reader
 * (locked or not) never sees half a file. A missing or corrupt file is a
 * `TicketFileError` naming the file and what was wrong; nothing is written.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Data, Effect } from "effect"
import { FileLock } from "@weft/primitives"

/** The ticket file is missing, unreadable, or not `{ "count": <non-negative integer> }`. */
export class TicketFileError extends Data.TaggedError("TicketFileError")<{
  readonly file: string
  readonly problem: string
}> {
  override get message(): string {
    return `ticket file ${this.file}: ${this.problem}`
  }
}

/** A count that is not a non-negative integer (`reset`, `--tickets`). */
export class InvalidCountError extends Data.TaggedError("InvalidCountError")<{
  readonly value: unknown
}> {
  override get message(): string {
    return `count must be a non-negative integer, got ${show(this.value)}`
  }
}

/** What `buy` answers: a ticket and how many are left, or sold out. */
export type Purchase =
  | { readonly ok: true; readonly left: number }
  | { readonly ok: false; readonly left: 0 }

export interface Options {
  /** Buy under the `FileLock` (default `true`). `false` is the oversell demo. */
  readonly lock?: boolean
  /**
   * Runs between the locked read and the write: the database round trip of
   * the seed (`time.sleep(random.random())`). It widens the race window
   * that the lock closes. Default: none.
   */
  readonly hold?: Effect.Effect<void>
  /** Runs once the buy holds the lock (or, unlocked, has read): a hook for demos and tests. */
  readonly onHold?: (count: number) => Effect.Effect<void>
  /** Passed to `FileLock.make` (default 10 s; a dead holder's pid frees it at once). */
  readonly stale?: FileLock.Options["stale"]
}

export interface TicketStore {
  readonly file: string
  readonly lockFile: string
  /** The count, read without the lock. */
  readonly search: Effect.Effect<number, TicketFileError>
  /** One ticket, or sold out. */
  readonly buy: Effect.Effect<Purchase, TicketFileError>
  /** Sets the count (validated), under the lock. */
  reset(count: unknown): Effect.Effect<void, TicketFileError | InvalidCountError>
}

const show = (value: unknown): string => {
  const text = value === undefined ? "undefined" : JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 60)}…` : text
}

export const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const code = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

const describe = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const c = code(error)
  return c !== undefined && !message.includes(c) ? `${c}: ${message}` : message
}

/** Reads and checks the ticket file. */
export const readCount = (file: string): Effect.Effect<number, TicketFileError> =>
  Effect.suspend(() => {
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (error) {
      return Effect.fail(
        new TicketFileError({
          file,
          problem: code(error) === "ENOENT"
            ? `missing (create it with {"count": N}, e.g. with --tickets N)`
            : `cannot be read: ${describe(error)}`
        })
      )
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return Effect.fail(new TicketFileError({ file, problem: `corrupt: not valid JSON: ${show(text)}` }))
    }
    const count = typeof value === "object" && value !== null ? (value as { count?: unknown }).count : undefined
    return isCount(count)
      ? Effect.succeed(count)
      : Effect.fail(
        new TicketFileError({
          file,
          problem: `corrupt: expected {"count": <non-negative integer>}, found ${show(value)}`
        })
      )
  })

let tmpCounter = 0

/** Writes `{ "count": count }` atomically (temporary file + rename). */
export const writeCount = (file: string, count: number): Effect.Effect<void, TicketFileError> =>
  Effect.try({
    try: () => {
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${tmpCounter++}.tmp`)
      try {
        fs.writeFileSync(tmp, JSON.stringify({ count }) + "\n")
        fs.renameSync(tmp, file)
      } catch (error) {
        fs.rmSync(tmp, { force: true })
        throw error
      }
    },
    catch: (error) => new TicketFileError({ file, problem: `cannot be written: ${describe(error)}` })
  })

/** A store on `file` (which need not exist yet: `reset` creates it). */
export const make = (file: string, options: Options = {}): Effect.Effect<TicketStore> =>
  Effect.gen(function*() {
    const absolute = path.resolve(file)
    const lockFile = `${absolute}.lock`
    const lock = options.lock === false
      ? undefined
      : yield* Effect.orDie(FileLock.make(lockFile, options.stale === undefined ? {} : { stale: options.stale }))
    const hold = options.hold ?? Effect.void
    const onHold = options.onHold ?? (() => Effect.void)

    /** A FileLock I/O failure (say, the directory vanished) is a defect there; here it names the file. */
    const locked = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | TicketFileError> =>
      lock === undefined ? effect : lock.withLock(effect).pipe(
        Effect.catchDefect((defect) =>
          Effect.fail(new TicketFileError({ file: absolute, problem: `lock ${lockFile}: ${describe(defect)}` }))
        )
      )

    const search = readCount(absolute)

    const buyNow: Effect.Effect<Purchase, TicketFileError> = Effect.gen(function*() {
      const count = yield* readCount(absolute)
      yield* onHold(count)
      yield* hold
      if (count === 0) return { ok: false, left: 0 } as const
      yield* writeCount(absolute, count - 1)
      return { ok: true, left: count - 1 } as const
    })

    const buy: Effect.Effect<Purchase, TicketFileError> = Effect.flatMap(
      search,
      (seen) => seen === 0 ? Effect.succeed({ ok: false, left: 0 } as const) : locked(buyNow)
    )

    const reset = (count: unknown): Effect.Effect<void, TicketFileError | InvalidCountError> =>
      isCount(count) ? locked(writeCount(absolute, count)) : Effect.fail(new InvalidCountError({ value: count }))

    return { file: absolute, lockFile, search, buy, reset }
  })
