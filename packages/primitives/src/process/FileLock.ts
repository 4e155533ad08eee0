/**
 * A `Lock` between unrelated processes through a lock file — what
 * `proper-lockfile` or Python's `filelock` do, with the `Lock` interface of
 * every other Weft scope.
 *
 * Scopes: process (this module, and `Manager`'s `lock()`); fiber: `Lock`;
 * worker threads: `SharedLock`. Any process that follows the protocol below
 * takes part, even one Weft did not start; nothing has to exist beforehand
 * except the directory.
 *
 * What Effect gives: `Schedule` for the backoff. What Weft adds: the
 * protocol below, and a FIFO queue (the fiber `Lock`'s permit core) for the
 * fibers of one process.
 *
 * - **Acquire** creates the file atomically (`open(path, "wx")`, i.e.
 *   `O_CREAT | O_EXCL`) and writes a JSON record `{ weft: "FileLock", v: 1,
 *   pid, host, token, since }` into it. A busy lock is polled on a jittered
 *   exponential backoff (`options.schedule`); the fibers of one process queue
 *   FIFO on a fiber `Lock` first, so at most one of them polls.
 * - **Heartbeat**: while held, the owner refreshes the file's mtime every
 *   `heartbeat` (default: a quarter of `stale`).
 * - **Stale lock takeover**: a lock file is stale when its owner is on this
 *   host and its pid is gone, or when its mtime is older than `stale`
 *   (default 10 s: the owner's heartbeat stopped — it hangs, or lives on
 *   another host and died). A waiter that sees a stale file takes it over:
 *   under a short-lived guard file (`path + ".takeover"`, also `O_EXCL`) it
 *   re-reads the file, removes it only if it is still the same stale one,
 *   and competes for the create like everyone else. A polling waiter looks
 *   for a stale owner at most every 50 ms (or `stale / 10`).
 * - **Corrupt or foreign files**: a file whose content is not a Weft record
 *   (empty, truncated, another tool's) is treated as held by an unknown owner:
 *   it is respected while its mtime is fresh and taken over once it is older
 *   than `stale`. `FileLock.inspect` reports it as `FileLockCorruptError`.
 * - **Release** deletes the file only if it still holds this owner's token;
 *   if the lock was taken over meanwhile (this process stalled past `stale`),
 *   the other owner's file is left alone and `release` fails `NotHeldError`.
 *
 * Limits: the pid check assumes one pid namespace per host name (containers
 * sharing a volume should have distinct host names); on network file systems
 * only the mtime rule applies across hosts. A file-system error other than
 * contention (missing directory, no permission) is a defect carrying
 * `FileLockError`: the `Lock` interface has no error channel for I/O.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FileLock } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* FileLock.make("/tmp/tickets.json.lock")
 *   yield* lock.withLock(Effect.log("only one process at a time, on any runtime"))
 * })
 * ```
 *
 * @module
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { hostname } from "node:os"
import { setInterval, clearInterval } from "node:timers"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { FileLockCorruptError, FileLockError, InvalidArgumentError, NotHeldError } from "../errors.ts"
import { bindMethods } from "../internal/bind.ts"
import * as Fiber from "effect/Fiber"
import * as Registry from "../inspect/Registry.ts"
import { Permits } from "../internal/Permits.ts"
import type * as Lock from "../Lock.ts"
import { within } from "../internal/within.ts"
import { millis } from "../validate.ts"

/**
 * Options of `FileLock.make`.
 *
 * @example
 * ```ts
 * const lock = yield* FileLock.make("/tmp/app.lock", { stale: "2 seconds" })
 * ```
 */
export interface Options {
  /** How old (mtime) a lock file must be to count as abandoned. Default `"10 seconds"`. */
  readonly stale?: Duration.Input
  /** How often the owner refreshes the mtime. Default: `stale / 4`. */
  readonly heartbeat?: Duration.Input
  /**
   * The wait between polls of a busy lock. Default: exponential from 1 ms,
   * factor 1.5, capped at 25 ms, jittered.
   */
  readonly schedule?: Schedule.Schedule<unknown, unknown>
  /**
   * Lists the lock in `Inspect.snapshot` under this name: its holder (pid and
   * host, from the lock file, whichever process holds it) and this process's
   * waiting fibers with their ages.
   */
  readonly name?: string | undefined
}

/**
 * A `Lock` backed by a lock file; `path` is the lock file itself.
 *
 * @example
 * ```ts
 * const lock: FileLock.FileLock = yield* FileLock.make("/tmp/app.lock")
 * lock.path // "/tmp/app.lock"
 * ```
 */
export interface FileLock extends Lock.Lock {
  readonly path: string
}

/**
 * What a Weft lock file contains.
 *
 * @example
 * ```ts
 * const owner: FileLock.Owner = { weft: "FileLock", v: 1, pid: 4242, host: "web-1", token: "9f…", since: 1700000000000 }
 * ```
 */
export interface Owner {
  readonly weft: "FileLock"
  readonly v: 1
  readonly pid: number
  readonly host: string
  readonly token: string
  readonly since: number
}

const parse = (content: string): Owner | undefined => {
  try {
    const value = JSON.parse(content)
    return typeof value === "object" && value !== null && value.weft === "FileLock" &&
        typeof value.pid === "number" && typeof value.host === "string" && typeof value.token === "string"
      ? value as Owner
      : undefined
  } catch {
    return undefined
  }
}

/** The error's message, led by its code (`ENOSPC: ...`) on every runtime. */
const describeError = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const errorCode = code(error)
  return errorCode !== undefined && !message.includes(errorCode) ? `${errorCode}: ${message}` : message
}

const code = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return code(error) !== "ESRCH"
  }
}

const readOrUndefined = (path: string): string | undefined => {
  try {
    return fs.readFileSync(path, "utf8")
  } catch (error) {
    if (code(error) === "ENOENT") return undefined
    throw error
  }
}

const host = hostname()

/** Tokens: a random per-process prefix and a counter (unique; cheaper than fresh random bytes per attempt). */
const tokenPrefix = randomBytes(9).toString("base64url")
let tokenCounter = 0

/** A poll found the lock busy. */
const Busy: unique symbol = Symbol("Busy")

const defaultSchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("1 millis", 1.5).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.millis(Math.min(Duration.toMillis(duration), 25)))),
  Schedule.jittered
)

class FileLockImpl implements FileLock {
  readonly path: string
  private readonly guardPath: string
  private readonly staleMs: number
  private readonly heartbeatMs: number
  private readonly schedule: Schedule.Schedule<unknown, unknown>
  /** Orders the fibers of this process (FIFO): at most one of them touches the file. */
  private readonly local = new Permits(1)
  private token: string | undefined = undefined
  private beat: ReturnType<typeof setInterval> | undefined = undefined
  /** When this instance last looked for a stale owner: a busy poll does not repeat it every time. */
  private lastStaleCheck = 0
  /** This process's fibers waiting for the lock, when it is named (listed by `Inspect`). */
  private readonly waiting: Set<Registry.Party> | undefined

  constructor(
    path: string,
    staleMs: number,
    heartbeatMs: number,
    schedule: Schedule.Schedule<unknown, unknown>,
    name: string | undefined
  ) {
    this.path = path
    this.guardPath = `${path}.takeover`
    this.staleMs = staleMs
    this.heartbeatMs = heartbeatMs
    this.schedule = schedule
    bindMethods(this, "acquireFor", "withLock")
    if (name !== undefined) {
      // The describe function must not hold `this` (the registry holds the lock weakly).
      const waiting = this.waiting = new Set<Registry.Party>()
      Registry.register(this, { kind: "FileLock", scope: "process", name }, () => describeFile(path, waiting))
    }
  }

  private fail(operation: string, error: unknown): never {
    throw new FileLockError({ path: this.path, operation, reason: describeError(error) })
  }

  /** Whether the file at `path` with `content` (read just now) is abandoned. */
  private isStale(content: string, mtimeMs: number): boolean {
    const owner = parse(content)
    if (owner !== undefined && owner.host === host && owner.pid !== process.pid && !pidAlive(owner.pid)) return true
    return Date.now() - mtimeMs > this.staleMs
  }

  /** One attempt: create the file, or take over a stale one and create it. Synchronous. */
  private tryFile(polling: boolean): boolean {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = `${tokenPrefix}.${(tokenCounter++).toString(36)}`
      try {
        const fd = fs.openSync(this.path, "wx", 0o644)
        try {
          const record: Owner = { weft: "FileLock", v: 1, pid: process.pid, host, token, since: Date.now() }
          fs.writeSync(fd, JSON.stringify(record))
        } catch (error) {
          // A full disk (or any failed write) must not leave an empty lock
          // file behind: everyone else would wait for it to go stale.
          fs.closeSync(fd)
          fs.rmSync(this.path, { force: true })
          throw error
        }
        fs.closeSync(fd)
        this.token = token
        this.startHeartbeat()
        return true
      } catch (error) {
        if (code(error) !== "EEXIST") this.fail("acquire", error)
      }
      if (!this.takeOverIfStale(polling)) return false
    }
    return false
  }

  /** `true` when the file is gone (removed as stale, or released meanwhile). */
  private takeOverIfStale(polling: boolean): boolean {
    const now = Date.now()
    if (polling && now - this.lastStaleCheck < Math.min(50, this.staleMs / 10)) return false
    this.lastStaleCheck = now
    let stat: fs.Stats
    let content: string | undefined
    try {
      stat = fs.statSync(this.path)
      content = readOrUndefined(this.path)
    } catch (error) {
      if (code(error) === "ENOENT") return true
      return this.fail("acquire", error)
    }
    if (content === undefined) return true
    if (!this.isStale(content, stat.mtimeMs)) return false
    // Only the holder of the guard may remove a stale file, and only the very
    // file it judged stale: a fresh lock created meanwhile is left alone.
    try {
      fs.closeSync(fs.openSync(this.guardPath, "wx", 0o644))
    } catch (error) {
      if (code(error) !== "EEXIST") return this.fail("acquire", error)
      // A guard left by a process that died inside the few syscalls it covers.
      try {
        if (Date.now() - fs.statSync(this.guardPath).mtimeMs > this.staleMs) fs.unlinkSync(this.guardPath)
      } catch {
        // Somebody else cleaned it up.
      }
      return false
    }
    try {
      if (readOrUndefined(this.path) === content) fs.unlinkSync(this.path)
    } catch (error) {
      if (code(error) !== "ENOENT") return this.fail("acquire", error)
    } finally {
      try {
        fs.unlinkSync(this.guardPath)
      } catch {
        // Already removed as stale by another waiter; harmless.
      }
    }
    return true
  }

  private startHeartbeat(): void {
    const token = this.token
    const beat = setInterval(() => {
      try {
        const owner = parse(readOrUndefined(this.path) ?? "")
        if (owner?.token !== token) return this.stopHeartbeat()
        const now = new Date()
        fs.utimesSync(this.path, now, now)
      } catch {
        // The next beat tries again; staleness takes many missed beats.
      }
    }, this.heartbeatMs)
    beat.unref()
    this.beat = beat
  }

  private stopHeartbeat(): void {
    if (this.beat !== undefined) clearInterval(this.beat)
    this.beat = undefined
  }

  /** Deletes the file if it is still ours; `false` if it was taken over. */
  private releaseFile(): boolean {
    const token = this.token
    this.token = undefined
    this.stopHeartbeat()
    try {
      const owner = parse(readOrUndefined(this.path) ?? "")
      if (owner === undefined || owner.token !== token) return false
      fs.unlinkSync(this.path)
      return true
    } catch (error) {
      if (code(error) === "ENOENT") return false
      return this.fail("release", error)
    }
  }

  /** One try at the file while holding `local`; gives `local` back if it throws. */
  private tryFileOwned(polling: boolean): boolean {
    try {
      return this.tryFile(polling)
    } catch (error) {
      this.local.release(1)
      throw error
    }
  }

  private readonly attempt: Effect.Effect<void, typeof Busy> = Effect.suspend(() =>
    this.tryFileOwned(true) ? Effect.void : Effect.fail(Busy)
  )

  private readonly giveUp = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
    exit._tag === "Failure"
      ? Effect.sync(() => {
        if (this.token !== undefined) this.releaseFile()
        this.local.release(1)
      })
      : Effect.void

  /**
   * Takes `local` (the fibers of this process queue FIFO there), then the
   * file: at once when both are free, else polling on the schedule. Whatever
   * ends it early (interruption, a timeout) leaves neither held.
   */
  private take(restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const poll = (): Effect.Effect<void> =>
        this.tryFileOwned(true)
          ? Effect.void
          : Effect.onExit(restore(Effect.retry(this.attempt, this.schedule)), this.giveUp) as Effect.Effect<void>
      const listed = (wait: Effect.Effect<void>) => this.waiting === undefined ? wait : this.listed(this.waiting, wait)
      if (this.local.tryTake(1)) {
        if (this.tryFileOwned(true)) return Effect.void
        return listed(Effect.onExit(restore(Effect.retry(this.attempt, this.schedule)), this.giveUp) as Effect.Effect<void>)
      }
      return listed(Effect.flatMap(restore(this.local.wait(1)), poll))
    })
  }

  /** Runs `wait` listed among the waiters while it lasts. */
  private listed(waiting: Set<Registry.Party>, wait: Effect.Effect<void>): Effect.Effect<void> {
    const fiber = Fiber.getCurrent()
    const party: Registry.Party = {
      who: `pid ${process.pid}${fiber === undefined ? "" : ` fiber #${fiber.id}`}`,
      since: Date.now(),
      pid: process.pid,
      machine: host,
      fiber: fiber?.id
    }
    waiting.add(party)
    return Effect.ensuring(wait, Effect.sync(() => waiting.delete(party)))
  }

  readonly acquire: Effect.Effect<void> = Effect.uninterruptibleMask((restore) => this.take(restore))

  readonly tryAcquire: Effect.Effect<boolean> = Effect.sync(() => {
    if (!this.local.tryTake(1)) return false
    if (this.tryFileOwned(false)) return true
    this.local.release(1)
    return false
  })

  acquireFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return Effect.suspend(() => within("FileLock.acquireFor", timeout, this.acquire))
  }

  readonly release: Effect.Effect<void, NotHeldError> = Effect.suspend(() => {
    if (this.token === undefined) {
      return Effect.fail(new NotHeldError({ primitive: `FileLock(${this.path})`, operation: "release" }))
    }
    const ours = this.releaseFile()
    this.local.release(1)
    return ours
      ? Effect.void
      : Effect.fail(new NotHeldError({ primitive: `FileLock(${this.path})`, operation: "release (taken over as stale)" }))
  })

  private readonly releaseAfter = (): Effect.Effect<void> =>
    Effect.sync(() => {
      if (this.token === undefined) return
      this.releaseFile()
      this.local.release(1)
    })

  withLock<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(this.take(restore), () => Effect.onExit(restore(effect), this.releaseAfter))
    )
  }

  readonly locked: Effect.Effect<boolean> = Effect.sync(() => {
    if (this.token !== undefined) return true
    try {
      const stat = fs.statSync(this.path)
      const content = readOrUndefined(this.path)
      return content !== undefined && !this.isStale(content, stat.mtimeMs)
    } catch (error) {
      if (code(error) === "ENOENT") return false
      return this.fail("locked", error)
    }
  })
}

const finiteMillis = (operation: string, argument: string, input: Duration.Input): number | InvalidArgumentError =>
  millis(operation, argument, input, { min: "positive", finite: true })

/**
 * A `FileLock` on the lock file at `path` (created on acquire, deleted on
 * release; its directory must exist). Two `make` calls on the same path —
 * in one process or in many — exclude each other.
 *
 * @example
 * ```ts
 * const lock = yield* FileLock.make("/tmp/counter.json.lock", { stale: "5 seconds" })
 * const bumped = yield* lock.acquireFor("2 seconds") // false if still busy after 2 s
 * if (bumped) yield* lock.release
 * ```
 */
export const make = (path: string, options: Options = {}): Effect.Effect<FileLock, InvalidArgumentError> =>
  Effect.suspend(() => {
    if (typeof path !== "string" || path.length === 0) {
      return Effect.fail(
        new InvalidArgumentError({ operation: "FileLock.make", argument: "path", value: path, expected: "a non-empty file path" })
      )
    }
    const stale = finiteMillis("FileLock.make", "stale", options.stale ?? "10 seconds")
    if (typeof stale !== "number") return Effect.fail(stale)
    const heartbeat = finiteMillis("FileLock.make", "heartbeat", options.heartbeat ?? stale / 4)
    if (typeof heartbeat !== "number") return Effect.fail(heartbeat)
    if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
      return Effect.fail(
        new InvalidArgumentError({ operation: "FileLock.make", argument: "name", value: options.name, expected: "a non-empty string" })
      )
    }
    return Effect.succeed<FileLock>(new FileLockImpl(path, stale, heartbeat, options.schedule ?? defaultSchedule, options.name))
  })

/** What `Inspect` shows of a named lock: the lock file's owner, and this process's waiters. */
const describeFile = (path: string, waiting: ReadonlySet<Registry.Party>): Registry.State => {
  const content = readOrUndefined(path)
  const owner = content === undefined ? undefined : parse(content)
  const holders: Array<Registry.Party> = content === undefined
    ? []
    : owner === undefined
    ? [{ who: "an unknown owner (the lock file is not a Weft record)", since: Date.now() }]
    : [{ who: `pid ${owner.pid} on ${owner.host}`, since: owner.since, pid: owner.pid, machine: owner.host }]
  return { holders, waiters: [...waiting].sort((a, b) => a.since - b.since) }
}

/**
 * Reads the lock file at `path`: `None` when nobody holds it, the owner's
 * record otherwise. Fails `FileLockCorruptError` when the file is not a Weft
 * record (see the takeover rule in the module doc).
 *
 * @example
 * ```ts
 * const owner = yield* FileLock.inspect("/tmp/app.lock")
 * if (Option.isSome(owner)) yield* Effect.log(`held by pid ${owner.value.pid} on ${owner.value.host}`)
 * ```
 */
export const inspect = (path: string): Effect.Effect<Option.Option<Owner>, FileLockCorruptError | FileLockError> =>
  Effect.suspend((): Effect.Effect<Option.Option<Owner>, FileLockCorruptError | FileLockError> => {
    let content: string | undefined
    try {
      content = readOrUndefined(path)
    } catch (error) {
      return Effect.fail(
        new FileLockError({ path, operation: "inspect", reason: describeError(error) })
      )
    }
    if (content === undefined) return Effect.succeed(Option.none())
    const owner = parse(content)
    return owner === undefined ? Effect.fail(new FileLockCorruptError({ path, content })) : Effect.succeed(Option.some(owner))
  })
