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
 * The pieces: `store/errors.ts` (the tagged errors), `store/state.ts`
 * (reading the files into memory), `store/durable.ts` (durable writes), and
 * this module, the store's interface and its group commit.
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
import { randomUUID } from "node:crypto"
import * as path from "node:path"
import { Deferred, Effect, Exit, Queue, type Scope } from "effect"
import { FileLock, type Lock } from "@weft/primitives"
import * as Journal from "./journal.ts"
import { appendDurably, writeGeneration } from "./store/durable.ts"
import {
  codeOf,
  describe,
  IdempotencyKeyReusedError,
  InvalidCountError,
  type StoreError,
  StoreIOError,
  StoreMissingError,
  StoreCorruptError
} from "./store/errors.ts"
import * as PgStore from "./store/postgres.ts"
import { addOrder, isCount, refresh, requestOf, type State, type Stored, strip } from "./store/state.ts"

export {
  IdempotencyKeyReusedError,
  InvalidCountError,
  StoreCorruptError,
  type StoreError,
  StoreIOError,
  StoreMissingError
} from "./store/errors.ts"
export { isCount } from "./store/state.ts"


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
  /** The store's file (a PostgreSQL store: its URL without the password). */
  readonly file: string
  /** The lock file (a PostgreSQL store has none: ""). */
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
  /**
   * Calls `f` with the counts after every change by any process (a store
   * whose server pushes them: PostgreSQL); returns the unsubscribe. Without
   * it, the page looks at the store while anyone watches.
   */
  readonly changes?: ((f: (counts: Counts) => void) => () => void) | undefined
}

interface Pending {
  readonly request: BuyRequest
  readonly deferred: Deferred.Deferred<Purchase, StoreError | IdempotencyKeyReusedError>
}

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
      ? yield* Effect.orDie(FileLock.make(lockFile, options.stale === undefined ? { name: "tickets" } : { name: "tickets", stale: options.stale }))
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

    // Group commit: one consumer fiber takes whatever purchases have queued
    // (at most maxBatch) and commits them as one batch, so one write and one
    // fsync answer them all. It idles on the queue, which holds no handle
    // open, so an idle store keeps no process alive.
    const requests = yield* Queue.unbounded<Pending>()
    const answer = (batch: ReadonlyArray<Pending>, exit: Exit.Exit<ReadonlyArray<Purchase | IdempotencyKeyReusedError>, StoreError>) =>
      batch.forEach((p, i) => {
        if (Exit.isFailure(exit)) return void Deferred.doneUnsafe(p.deferred, Effect.failCause(exit.cause))
        const a = exit.value[i]!
        Deferred.doneUnsafe(p.deferred, a instanceof IdempotencyKeyReusedError ? Effect.fail(a) : Effect.succeed(a))
      })
    yield* Effect.forkDetach(Effect.forever(
      Effect.flatMap(Queue.takeBetween(requests, 1, maxBatch), (batch) =>
        Effect.flatMap(Effect.exit(commit(batch)), (exit) => Effect.sync(() => answer(batch, exit))))
    ))

    const buy = (request: BuyRequest = {}): Effect.Effect<Purchase, StoreError | IdempotencyKeyReusedError> =>
      Effect.suspend(() => {
        const deferred = Deferred.makeUnsafe<Purchase, StoreError | IdempotencyKeyReusedError>()
        Queue.offerUnsafe(requests, { request, deferred })
        return Deferred.await(deferred)
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

/**
 * Opens the store at `location`: a `postgres://` URL is a PostgreSQL store
 * (shared by every instance with that URL, on any machine; `options` other
 * than `hold` do not apply to it), anything else a file. Its connections
 * close with the scope.
 *
 * @example
 * ```ts
 * const store = yield* Store.open("postgres://tickets@db.internal/tickets")
 * const local = yield* Store.open("data/tickets.json", { lock: "file" })
 * ```
 */
export const open = (location: string, options: Options = {}): Effect.Effect<TicketStore, StoreError, Scope.Scope> =>
  PgStore.isUrl(location) ? PgStore.make(location) : make(location, options)
