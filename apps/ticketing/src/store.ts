/**
 * The ticket store: the 12306 "database" of the classic Python `multiprocessing` lesson (`{"count": N}` in a file), made durable.
 * Every purchase is an order (`id`, `seat`, `buyer`, `at`); any number of
 * processes share one store, and a cross-process lock (a `FileLock` on
 * `<file>.lock` by default) makes each read-modify-write one step.
 *
 * ## On disk
 *
 * `<file>` is the **snapshot**, two lines:
 *
 * ```
 * {"weft":"tickets","v":2,"bytes":123,"crc32":3735928559}
 * {"generation":"5f2a9c01d3e4","total":100,"journal":"tickets.json.5f2a9c01d3e4.journal","orders":[...]}
 * ```
 *
 * The first line checks the second (its length and CRC-32). Beside it,
 * `<file>.<generation>.journal` is the **journal**: append-only frames (see
 * `journal.ts`: magic, length, CRC-32, JSON payload). Its first record
 * `{"t":"journal","generation":...}` ties it to the snapshot; each further
 * record is one order `{"t":"order","id","seat","buyer","at","key"?,"req"?}`.
 * The state is the snapshot's orders plus the journal's.
 *
 * - **A purchase** appends its order to the journal and `fsync`s it: O(1) in
 *   the orders sold. Purchases that queue while one is being written are
 *   written together (**group commit**): one `write` and one `fsync` for the
 *   whole batch, each buyer answered only after that `fsync`.
 * - **A new generation** (`reset`, the first purchase on a seed
 *   `{"count": N}` file, and compaction once the journal holds
 *   `compactAfter` orders and as many as the snapshot): the new journal is created and `fsync`ed, the
 *   snapshot is written to a temporary file, `fsync`ed, renamed over
 *   `<file>`, and the directory is `fsync`ed. The old journal is removed
 *   after. A crash at any step leaves either the old pair or the new one.
 * - **A torn tail** (a crash inside a journal write) is recognised by its
 *   frame: it is ignored by readers and cut off by the next writer, under
 *   the lock. A damaged frame followed by valid ones, a bad snapshot, or a
 *   journal of another generation is a `StoreCorruptError`: the store is
 *   refused and never written to.
 * - A seed file `{"count": N}` opens as N tickets, none sold.
 *
 * Readers (`tickets`, `order`) take no lock: each process keeps the state in
 * memory and catches up by reading only the journal bytes it has not seen.
 *
 * @example
 * ```ts
 * const store = yield* Store.make("/var/lib/tickets.json")
 * yield* store.reset(100)
 * const purchase = yield* store.buy({ buyer: "ada", key: "k-1" })
 * // { ok: true, order: { id, seat: 1, buyer: "ada", at }, left: 99, replayed: false }
 * ```
 *
 * @module
 */
import { randomBytes, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Data, Deferred, Effect } from "effect"
import { FileLock, type Lock } from "@weft/primitives"
import * as Journal from "./journal.ts"

/**
 * There is no store at the path.
 *
 * @example
 * ```ts
 * Effect.catchTag("StoreMissingError", (e) => Effect.log(e.message))
 * ```
 */
export class StoreMissingError extends Data.TaggedError("StoreMissingError")<{ readonly file: string }> {
  override get message(): string {
    return `ticket store ${this.file}: missing (create it with --tickets N, or a file {"count": N})`
  }
}

/**
 * The store's files are damaged: refused, and never written to.
 *
 * @example
 * ```ts
 * Effect.catchTag("StoreCorruptError", (e) => Effect.log(e.problem))
 * ```
 */
export class StoreCorruptError extends Data.TaggedError("StoreCorruptError")<{
  readonly file: string
  readonly problem: string
}> {
  override get message(): string {
    return `ticket store ${this.file}: corrupt: ${this.problem} (refused; it is left as it is)`
  }
}

/**
 * The store could not be read or written (full disk, permissions). Nothing
 * from the failed write was confirmed.
 *
 * @example
 * ```ts
 * Effect.catchTag("StoreIOError", (e) => Effect.log(e.code)) // "ENOSPC"
 * ```
 */
export class StoreIOError extends Data.TaggedError("StoreIOError")<{
  readonly file: string
  readonly code: string | undefined
  readonly problem: string
}> {
  override get message(): string {
    const full = this.code === "ENOSPC" || /ENOSPC/.test(this.problem)
    return `ticket store ${this.file}: ${this.problem}${full && !this.problem.includes("disk is full") ? " (the disk is full)" : ""}`
  }
}

/**
 * A count that is not a non-negative integer (`reset`, `--tickets`).
 *
 * @example
 * ```ts
 * yield* store.reset(-1) // fails InvalidCountError: count must be a non-negative integer, got -1
 * ```
 */
export class InvalidCountError extends Data.TaggedError("InvalidCountError")<{ readonly value: unknown }> {
  override get message(): string {
    return `count must be a non-negative integer, got ${show(this.value)}`
  }
}

/**
 * An idempotency key already bought a ticket with a different request.
 *
 * @example
 * ```ts
 * yield* store.buy({ buyer: "ada", key: "k" })
 * yield* store.buy({ buyer: "bob", key: "k" }) // fails IdempotencyKeyReusedError
 * ```
 */
export class IdempotencyKeyReusedError extends Data.TaggedError("IdempotencyKeyReusedError")<{
  readonly key: string
  readonly order: Order
}> {
  override get message(): string {
    return `Idempotency-Key ${show(this.key)} was already used with a different body (for order ${this.order.id})`
  }
}

/**
 * Any failure of the store's files.
 *
 * @example
 * ```ts
 * const onError = (e: Store.StoreError) => e._tag // "StoreMissingError" | "StoreCorruptError" | "StoreIOError"
 * ```
 */
export type StoreError = StoreMissingError | StoreCorruptError | StoreIOError

/**
 * One sold ticket.
 *
 * @example
 * ```ts
 * const order: Store.Order = { id: "0b1e…", seat: 7, buyer: "ada", at: "2026-11-29T08:00:00.000Z" }
 * ```
 */
export interface Order {
  readonly id: string
  readonly seat: number
  readonly buyer: string
  readonly at: string
}

/** An order as stored: with the idempotency key and request that bought it. */
interface Stored extends Order {
  readonly key?: string
  readonly req?: string
}

/**
 * What a buyer asks for: a name, and an idempotency key (the same key again
 * answers the same order).
 *
 * @example
 * ```ts
 * const request: Store.BuyRequest = { buyer: "ada", key: "3f9c-retry-safe" }
 * ```
 */
export interface BuyRequest {
  readonly buyer?: string | undefined
  readonly key?: string | undefined
}

/**
 * What `buy` answers: an order (`replayed`: an earlier purchase with the same
 * key), or sold out.
 *
 * @example
 * ```ts
 * const p: Store.Purchase = yield* store.buy()
 * if (p.ok) p.order.seat
 * ```
 */
export type Purchase =
  | { readonly ok: true; readonly order: Order; readonly left: number; readonly replayed: boolean }
  | { readonly ok: false; readonly left: 0 }

/**
 * The counts: `count` tickets left, `sold`, of `total`.
 *
 * @example
 * ```ts
 * const { count, sold, total } = yield* store.tickets
 * ```
 */
export interface Counts {
  readonly count: number
  readonly sold: number
  readonly total: number
}

/**
 * Options of `make`.
 *
 * @example
 * ```ts
 * const store = yield* Store.make(file, { lock: "none" }) // the oversell demo
 * ```
 */
export interface Options {
  /**
   * `"file"` (default): a `FileLock` on `<file>.lock`. A `Lock` (e.g. a
   * `Manager` lock): that lock. `"none"`: no lock at all — the oversell demo
   * (orders are appended, never cut off, so the oversell is on record).
   */
  readonly lock?: "file" | "none" | Lock.Lock
  /** Runs under the lock between the read and the write: the seed's "database round trip". */
  readonly hold?: Effect.Effect<void>
  /** Runs once a purchase holds the lock and has read (tickets left): a hook for demos and tests. */
  readonly onHold?: (left: number) => Effect.Effect<void>
  /** Passed to `FileLock.make` (default 10 s; a dead holder's pid frees it at once). */
  readonly stale?: FileLock.Options["stale"]
  /** Most purchases written in one group commit. Default 512. */
  readonly maxBatch?: number
  /**
   * Fold the journal into a new snapshot once it holds this many orders, and
   * at least as many as the snapshot. Default 20,000.
   */
  readonly compactAfter?: number
}

/**
 * A ticket store on one file, shared with every other process that opens it.
 *
 * @example
 * ```ts
 * const store: Store.TicketStore = yield* Store.make("tickets.json")
 * ```
 */
export interface TicketStore {
  readonly file: string
  readonly lockFile: string
  /** The counts, read without the lock. */
  readonly tickets: Effect.Effect<Counts, StoreError>
  /** Buys one ticket (group-committed; answered after the `fsync`). */
  buy(request?: BuyRequest): Effect.Effect<Purchase, StoreError | IdempotencyKeyReusedError>
  /** An order by id, read without the lock. */
  order(id: string): Effect.Effect<Order | undefined, StoreError>
  /** Every order, in seat order of sale. */
  readonly orders: Effect.Effect<ReadonlyArray<Order>, StoreError>
  /** A fresh sale of `total` tickets, none sold (a new generation), under the lock. */
  reset(total: unknown): Effect.Effect<void, StoreError | InvalidCountError>
}

const show = (value: unknown): string => {
  const text = value === undefined ? "undefined" : JSON.stringify(value) ?? String(value)
  // Cut by characters (code points): never half of one.
  const chars = Array.from(text)
  return chars.length > 60 ? `${chars.slice(0, 60).join("")}…` : text
}

/**
 * Whether `value` is a non-negative safe integer.
 *
 * @example
 * ```ts
 * Store.isCount(3) // true
 * Store.isCount(-1) // false
 * ```
 */
export const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

const describe = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  const c = codeOf(error)
  return c !== undefined && !message.includes(c) ? `${c}: ${message}` : message
}

// ---------------------------------------------------------------------------
// The in-memory state of one process, and reading it from disk

interface State {
  /** Which snapshot file this is (inode, size, mtime): a new generation changes it. */
  identity: string
  /** A seed `{"count": N}` file: no journal yet. */
  legacy: boolean
  generation: string
  total: number
  journal: string
  /** Journal bytes read (the end of its last valid frame). */
  offset: number
  /** Orders in the journal (not the snapshot): compaction's trigger. */
  journaled: number
  orders: Array<Stored>
  byId: Map<string, Stored>
  byKey: Map<string, Stored>
}

const SNAPSHOT_MAGIC = `{"weft":"tickets"`

const identityOf = (stat: fs.Stats): string => `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`

const isStored = (r: unknown): r is Stored & { t: "order" } => {
  const o = r as Record<string, unknown>
  return typeof r === "object" && r !== null && o.t === "order" && typeof o.id === "string" &&
    isCount(o.seat) && typeof o.buyer === "string" && typeof o.at === "string" &&
    (o.key === undefined || typeof o.key === "string") && (o.req === undefined || typeof o.req === "string")
}

const addOrder = (state: State, order: Stored) => {
  state.orders.push(order)
  state.byId.set(order.id, order)
  if (order.key !== undefined) state.byKey.set(order.key, order)
}

const strip = (o: Stored): Order => ({ id: o.id, seat: o.seat, buyer: o.buyer, at: o.at })

/** Parses the snapshot's text into a state without its journal (throws StoreCorruptError). */
const parseSnapshot = (file: string, text: string, identity: string): State => {
  const corrupt = (problem: string) => new StoreCorruptError({ file, problem })
  const fresh = (total: number, generation: string, journal: string, legacy: boolean): State => ({
    identity,
    legacy,
    generation,
    total,
    journal,
    offset: 0,
    journaled: 0,
    orders: [],
    byId: new Map(),
    byKey: new Map()
  })
  if (!text.startsWith(SNAPSHOT_MAGIC)) {
    // The seed's format: {"count": N}.
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw corrupt(`neither a Weft snapshot nor the seed's {"count": N}: ${show(text)}`)
    }
    const count = typeof value === "object" && value !== null ? (value as { count?: unknown }).count : undefined
    if (!isCount(count)) throw corrupt(`expected {"count": <non-negative integer>}, found ${show(value)}`)
    return fresh(count, "", "", true)
  }
  const newline = text.indexOf("\n")
  let header: { v?: unknown; bytes?: unknown; crc32?: unknown }
  try {
    header = JSON.parse(newline === -1 ? text : text.slice(0, newline))
  } catch {
    throw corrupt(`the snapshot's header line is not JSON: ${show(text.slice(0, 80))}`)
  }
  if (header.v !== 2) throw corrupt(`unknown snapshot version ${show(header.v)}`)
  const body = Buffer.from(text.slice(newline + 1).replace(/\n$/, ""), "utf8")
  if (body.length !== header.bytes) throw corrupt(`the snapshot's body has ${body.length} bytes, its header says ${show(header.bytes)}`)
  if (Journal.crc32(body) !== header.crc32) throw corrupt(`the snapshot's checksum does not match its body`)
  const data = JSON.parse(body.toString("utf8")) as { generation: string; total: number; journal: string; orders: Array<unknown> }
  if (!isCount(data.total) || typeof data.generation !== "string" || typeof data.journal !== "string" || !Array.isArray(data.orders)) {
    throw corrupt(`the snapshot's body is not {generation, total, journal, orders}`)
  }
  const state = fresh(data.total, data.generation, path.join(path.dirname(file), data.journal), false)
  for (const order of data.orders) {
    if (!isStored({ t: "order", ...(order as object) })) throw corrupt(`a snapshot order is malformed: ${show(order)}`)
    addOrder(state, order as Stored)
  }
  return state
}

/** Reads the journal from `state.offset` on and applies its orders (throws). Returns the torn tail's size. */
const catchUp = (file: string, state: State): number => {
  if (state.legacy) return 0
  const fd = fs.openSync(state.journal, "r")
  try {
    const size = fs.fstatSync(fd).size
    // Shorter than what we read: a batch that failed its fsync was taken back. Read it all again.
    if (size < state.offset) throw new JournalShrank()
    if (size === state.offset) return 0
    const bytes = Buffer.allocUnsafe(size - state.offset)
    let read = 0
    while (read < bytes.length) {
      const n = fs.readSync(fd, bytes, read, bytes.length - read, state.offset + read)
      if (n === 0) break
      read += n
    }
    let decoded: Journal.Decoded
    try {
      decoded = Journal.decode(bytes.subarray(0, read), state.offset)
    } catch (error) {
      if (error instanceof Journal.CorruptJournal) {
        throw new StoreCorruptError({ file, problem: `journal ${path.basename(state.journal)}: ${error.message}` })
      }
      throw error
    }
    if (state.offset === 0 && (decoded.records.length === 0 || (decoded.records[0] as { t?: unknown }).t !== "journal")) {
      // The header is fsynced before the snapshot names the journal: it is never legitimately torn.
      throw new StoreCorruptError({ file, problem: `journal ${path.basename(state.journal)} does not start with its header record` })
    }
    // Check every record first, then apply them: a corrupt journal leaves the state as it was.
    const orders: Array<Stored> = []
    for (const record of decoded.records) {
      if (isStored(record)) {
        const { t: _, ...order } = record as Stored & { t: string }
        orders.push(order)
      } else if ((record as { t?: unknown }).t === "journal") {
        if ((record as { generation?: unknown }).generation !== state.generation) {
          throw new StoreCorruptError({
            file,
            problem: `journal ${path.basename(state.journal)} belongs to generation ${show((record as { generation?: unknown }).generation)}, the snapshot to ${show(state.generation)}`
          })
        }
      } else {
        throw new StoreCorruptError({ file, problem: `journal ${path.basename(state.journal)}: an unknown record ${show(record)}` })
      }
    }
    for (const order of orders) addOrder(state, order)
    state.journaled += orders.length
    state.offset = decoded.end
    return decoded.torn
  } finally {
    fs.closeSync(fd)
  }
}

/** The journal is shorter than what this process read (see `catchUp`). */
class JournalShrank extends Error {}

/**
 * Brings `cached` up to date with the files (or loads them afresh): reads
 * only new journal bytes unless the snapshot was replaced. Throws the
 * store's tagged errors.
 */
const refresh = (file: string, cached: State | undefined): { state: State; torn: number } => {
  for (let attempt = 0;; attempt++) {
    try {
      let stat: fs.Stats
      try {
        stat = fs.statSync(file)
      } catch (error) {
        if (codeOf(error) === "ENOENT") throw new StoreMissingError({ file })
        throw error
      }
      if (cached !== undefined && identityOf(stat) === cached.identity) {
        return { state: cached, torn: catchUp(file, cached) }
      }
      const fd = fs.openSync(file, "r")
      let state: State
      try {
        const identity = identityOf(fs.fstatSync(fd))
        state = parseSnapshot(file, fs.readFileSync(fd, "utf8"), identity)
      } finally {
        fs.closeSync(fd)
      }
      return { state, torn: catchUp(file, state) }
    } catch (error) {
      // A new generation replaced the files between our reads, or a failed batch was taken back: read again.
      if ((codeOf(error) === "ENOENT" || error instanceof JournalShrank) && attempt < 5) {
        cached = undefined
        continue
      }
      if (codeOf(error) === "ENOENT" && !(error instanceof StoreMissingError)) {
        throw new StoreCorruptError({ file, problem: `its journal is missing (${describe(error)})` })
      }
      throw error
    }
  }
}

// ---------------------------------------------------------------------------
// Writing

let tmpCounter = 0

const fsyncDirectory = (dir: string) => {
  const fd = fs.openSync(dir, "r")
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

const writeAllSync = (fd: number, bytes: Uint8Array, position?: number) => {
  let done = 0
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position === undefined ? null : position + done)
  }
}

/**
 * Writes a new generation: journal (header only), then snapshot by rename,
 * each `fsync`ed, then the directory. Returns nothing; the caller reloads.
 */
const writeGeneration = (file: string, total: number, orders: ReadonlyArray<Stored>, oldJournal: string | undefined) => {
  const dir = path.dirname(file)
  const generation = randomBytes(6).toString("hex")
  const journal = `${file}.${generation}.journal`
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${tmpCounter++}.tmp`)
  let renamed = false
  try {
    const jfd = fs.openSync(journal, "wx")
    try {
      writeAllSync(jfd, Journal.encode([{ t: "journal", generation }]))
      fs.fsyncSync(jfd)
    } finally {
      fs.closeSync(jfd)
    }
    const body = Buffer.from(JSON.stringify({ generation, total, journal: path.basename(journal), orders }), "utf8")
    const header = JSON.stringify({ weft: "tickets", v: 2, bytes: body.length, crc32: Journal.crc32(body) })
    const sfd = fs.openSync(tmp, "wx")
    try {
      writeAllSync(sfd, Buffer.concat([Buffer.from(header + "\n"), body, Buffer.from("\n")]))
      fs.fsyncSync(sfd)
    } finally {
      fs.closeSync(sfd)
    }
    fsyncDirectory(dir) // the new journal's name is on disk before the snapshot points at it
    fs.renameSync(tmp, file)
    renamed = true
    fsyncDirectory(dir)
  } catch (error) {
    fs.rmSync(tmp, { force: true })
    if (!renamed) fs.rmSync(journal, { force: true })
    throw new StoreIOError({ file, code: codeOf(error), problem: `cannot be written: ${describe(error)}` })
  }
  if (oldJournal !== undefined && oldJournal !== "") fs.rmSync(oldJournal, { force: true })
}

/** Runs an fs callback API as an Effect. */
const io = <A>(f: (done: (error: Error | null, value: A) => void) => void): Effect.Effect<A, NodeJS.ErrnoException> =>
  Effect.callback<A, NodeJS.ErrnoException>((resume) => {
    f((error, value) => resume(error ? Effect.fail(error) : Effect.succeed(value)))
  })

/** Appends `bytes` at `position` (or at the end: `append`), then `fsync`s. */
const appendDurably = (journal: string, bytes: Uint8Array, position: number, append: boolean) =>
  Effect.acquireUseRelease(
    io<number>((done) => fs.open(journal, append ? "a" : "r+", done)),
    (fd) =>
      Effect.gen(function*() {
        if (!append) {
          // Cut off a torn tail left by a writer that crashed.
          const size = (yield* io<fs.Stats>((done) => fs.fstat(fd, done))).size
          if (size > position) {
            // What lies past our read is a torn tail only if it holds no whole frame: whole frames there
            // would mean another writer appended while we held the lock (it was taken over from us).
            const extra = Buffer.alloc(size - position)
            yield* io<number>((done) => fs.read(fd, extra, 0, extra.length, position, done))
            const whole = (() => {
              try {
                return Journal.decode(extra, position).records.length
              } catch {
                return 1
              }
            })()
            if (whole > 0) {
              return yield* Effect.fail(
                Object.assign(new Error(`the journal grew under our lock (it was taken over); nothing written`), { code: "ELOCKLOST" })
              )
            }
            yield* io<void>((done) => fs.ftruncate(fd, position, (e) => done(e, undefined)))
          }
        }
        let written = 0
        while (written < bytes.length) {
          written += yield* io<number>((done) =>
            fs.write(fd, bytes, written, bytes.length - written, append ? null : position + written, done)
          )
        }
        yield* io<void>((done) => fs.fsync(fd, (e) => done(e, undefined)))
      }).pipe(
        Effect.tapError((error) =>
          // A half-written batch was never confirmed: take it back (best effort). Never another writer's frames.
          append || error.code === "ELOCKLOST"
            ? Effect.void
            : io<void>((done) => fs.ftruncate(fd, position, (e) => done(e, undefined))).pipe(Effect.ignore)
        )
      ),
    (fd) => io<void>((done) => fs.close(fd, (e) => done(e, undefined))).pipe(Effect.ignore)
  )

// ---------------------------------------------------------------------------

interface Pending {
  readonly request: BuyRequest
  readonly deferred: Deferred.Deferred<Purchase, StoreError | IdempotencyKeyReusedError>
}

const requestOf = (request: BuyRequest): string => JSON.stringify({ buyer: request.buyer ?? null })

/**
 * Opens a store on `file` (which need not exist yet: `reset` creates it).
 * Nothing is read until the first call.
 *
 * @example
 * ```ts
 * const store = yield* Store.make("tickets.json")
 * const { count } = yield* store.tickets
 * ```
 */
export const make = (file: string, options: Options = {}): Effect.Effect<TicketStore> =>
  Effect.gen(function*() {
    const absolute = path.resolve(file)
    const lockFile = `${absolute}.lock`
    const lockOption = options.lock ?? "file"
    const lock: Lock.Lock | undefined = lockOption === "none"
      ? undefined
      : lockOption === "file"
      ? yield* Effect.orDie(FileLock.make(lockFile, options.stale === undefined ? {} : { stale: options.stale }))
      : lockOption
    const hold = options.hold ?? Effect.void
    const onHold = options.onHold ?? (() => Effect.void)
    const maxBatch = options.maxBatch ?? 512
    const compactAfter = options.compactAfter ?? 20_000

    let cached: State | undefined

    /** Runs a sync step over the files, turning throws into the store's errors. */
    const attempt = <A>(f: () => A): Effect.Effect<A, StoreError> =>
      Effect.try({
        try: f,
        catch: (error) =>
          error instanceof StoreMissingError || error instanceof StoreCorruptError || error instanceof StoreIOError
            ? error
            : new StoreIOError({ file: absolute, code: codeOf(error), problem: `cannot be read: ${describe(error)}` })
      })

    /** A batch of ours is being written: until its fsync is done, our frames are not read back as orders. */
    let writing = false

    const load = attempt(() => {
      if (writing && cached !== undefined) return { state: cached, torn: 0 }
      const { state, torn } = refresh(absolute, cached)
      cached = state
      return { state, torn }
    })

    /** A lock I/O failure (say, the directory vanished) is a defect of the lock; here it names the store. */
    const locked = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | StoreIOError> =>
      lock === undefined ? effect : lock.withLock(effect).pipe(
        Effect.catchDefect((defect) =>
          Effect.fail(new StoreIOError({ file: absolute, code: codeOf(defect), problem: `lock ${lockFile}: ${describe(defect)}` }))
        )
      )

    const countsOf = (state: State): Counts => ({
      count: Math.max(0, state.total - state.orders.length),
      sold: state.orders.length,
      total: state.total
    })

    const tickets = Effect.map(load, ({ state }) => countsOf(state))

    /** One group commit: under the lock, read, decide every pending purchase, write once, fsync once. */
    const commit = (batch: ReadonlyArray<Pending>) =>
      locked(Effect.gen(function*() {
        let { state } = yield* load
        if (state.legacy) {
          // The seed's {"count": N}: becomes a Weft snapshot (N tickets, none sold) before the first order.
          yield* attempt(() => writeGeneration(absolute, state.total, [], undefined))
          state = (yield* load).state
        }
        const left = state.total - state.orders.length
        yield* onHold(Math.max(0, left))
        yield* hold
        const answers: Array<Purchase | IdempotencyKeyReusedError> = []
        const fresh: Array<Stored> = []
        const keys = new Map<string, Stored>()
        let seat = state.orders.length
        for (const { request } of batch) {
          const req = requestOf(request)
          const earlier = request.key === undefined ? undefined : state.byKey.get(request.key) ?? keys.get(request.key)
          if (earlier !== undefined) {
            answers.push(
              earlier.req === req
                ? { ok: true, order: strip(earlier), left: 0, replayed: true }
                : new IdempotencyKeyReusedError({ key: request.key!, order: strip(earlier) })
            )
            continue
          }
          if (seat >= state.total) {
            answers.push({ ok: false, left: 0 })
            continue
          }
          seat++
          const order: Stored = {
            id: randomUUID(),
            seat,
            buyer: request.buyer ?? "anonymous",
            at: new Date().toISOString(),
            ...(request.key === undefined ? {} : { key: request.key, req })
          }
          fresh.push(order)
          if (order.key !== undefined) keys.set(order.key, order)
          answers.push({ ok: true, order: strip(order), left: state.total - seat, replayed: false })
        }
        if (fresh.length > 0) {
          const bytes = Journal.encode(fresh.map((o) => ({ t: "order", ...o })))
          writing = true
          yield* Effect.uninterruptible(
            appendDurably(state.journal, bytes, state.offset, lock === undefined).pipe(
              Effect.mapError((error) =>
                new StoreIOError({
                  file: absolute,
                  code: codeOf(error),
                  problem: `cannot write the journal: ${describe(error)}`
                })
              ),
              Effect.onError(() => Effect.sync(() => void (writing = false))),
              // Durable: now it is ours, in the same step that lets readers back in. (Unlocked, the next
              // read picks it up with everyone else's.)
              Effect.andThen(Effect.sync(() => {
                if (lock !== undefined) {
                  for (const order of fresh) addOrder(state, order)
                  state.offset += bytes.length
                  state.journaled += fresh.length
                }
                writing = false
              }))
            )
          )
        }
        if (lock !== undefined && state.journaled >= Math.max(compactAfter, state.orders.length - state.journaled)) {
          // Fold the journal into a new snapshot once it holds as many orders as the snapshot (and at
          // least compactAfter): each order is rewritten a bounded number of times, amortised O(1).
          // A failure here loses nothing.
          yield* attempt(() => writeGeneration(absolute, state.total, state.orders, state.journal)).pipe(Effect.ignore)
        }
        const soldNow = state.orders.length
        return answers.map((a) =>
          a instanceof IdempotencyKeyReusedError || !a.ok || !a.replayed ? a : { ...a, left: Math.max(0, state.total - soldNow) }
        )
      }))

    const pending: Array<Pending> = []
    let draining = false

    // One drainer at a time; `draining` turns false in the same step that finds the queue empty.
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      if (pending.length === 0) {
        draining = false
        return Effect.void
      }
      const batch = pending.splice(0, maxBatch)
      return Effect.exit(commit(batch)).pipe(Effect.flatMap((exit) => {
        batch.forEach((p, i) => {
          if (exit._tag === "Failure") return void Deferred.doneUnsafe(p.deferred, Effect.failCause(exit.cause))
          const answer = exit.value[i]!
          Deferred.doneUnsafe(p.deferred, answer instanceof IdempotencyKeyReusedError ? Effect.fail(answer) : Effect.succeed(answer))
        })
        return drain
      }))
    })

    const buy = (request: BuyRequest = {}): Effect.Effect<Purchase, StoreError | IdempotencyKeyReusedError> =>
      Effect.suspend(() => {
        const deferred = Deferred.makeUnsafe<Purchase, StoreError | IdempotencyKeyReusedError>()
        pending.push({ request, deferred })
        if (draining) return Deferred.await(deferred)
        draining = true
        return Effect.forkDetach(drain).pipe(Effect.andThen(Deferred.await(deferred)))
      })

    const order = (id: string) => Effect.map(load, ({ state }) => {
      const found = state.byId.get(id)
      return found === undefined ? undefined : strip(found)
    })

    const orders = Effect.map(load, ({ state }) => state.orders.map(strip))

    const reset = (total: unknown): Effect.Effect<void, StoreError | InvalidCountError> =>
      isCount(total)
        ? locked(Effect.gen(function*() {
          // A corrupt store is refused, even by reset: it is never overwritten.
          const old = yield* load.pipe(
            Effect.map(({ state }) => state.journal),
            Effect.catchTag("StoreMissingError", () => Effect.succeed(undefined))
          )
          yield* attempt(() => writeGeneration(absolute, total, [], old))
          yield* load
        }))
        : Effect.fail(new InvalidCountError({ value: total }))

    return { file: absolute, lockFile, tickets, buy, order, orders, reset }
  })
