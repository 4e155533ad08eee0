/**
 * The ticket store on PostgreSQL: every instance (any process, any machine)
 * given the same URL sells from one stock, behind the same `TicketStore`
 * interface as the file store.
 *
 * Two tables in the schema `weft_tickets`: `sale` (one row: `total`,
 * `sold`) and `orders` (`seat` primary key, `id` unique, `key` unique: the
 * idempotency key, `req`: the request it bought). A purchase is one
 * statement (`PURCHASE`), one round trip, in its own implicit transaction:
 *
 * - `UPDATE sale SET sold = sold + 1 WHERE sold < total` takes the next seat.
 *   The row lock it takes orders every purchase: a second one waits for the
 *   first to commit and then re-reads the row, so seats are `1..total`, each
 *   once, never more than `total`.
 * - The order is inserted in the same statement: the seat and its order
 *   commit together or not at all.
 * - A key already used is answered with its order (a replay) instead. Two
 *   purchases with one new key at once: the second's insert meets the
 *   first's key (the unique index waits for the first to commit) and fails,
 *   which takes its seat back with it; it then reads the first's order.
 * - `pg_notify` in the same statement tells every instance's page the new
 *   counts, on commit only, in commit order (no polling).
 *
 * Nothing is held across a network round trip: the row lock lives from the
 * `UPDATE` to the commit, inside the server. Each connection asks, in its
 * startup packet, for TCP keepalives and `tcp_user_timeout` (the server ends
 * a session whose client went silent within `partitionTimeout`, default 6
 * s; see `@weft/cluster`'s `Connection.options`), `statement_timeout`,
 * `lock_timeout` and `idle_in_transaction_session_timeout`. A statement not
 * answered within `answerWithin` (default 10 s) fails with `StoreIOError`
 * (HTTP 503), and the connections are started afresh: a buyer is told 200
 * only for an order the server committed.
 *
 * @example
 * ```ts
 * const store = yield* PgStore.make("postgres://tickets@db.internal/tickets")
 * yield* store.create(100) // a new sale, unless there is one
 * const purchase = yield* store.buy({ buyer: "ada", key: "k-1" })
 * ```
 *
 * @module
 */
import { randomUUID } from "node:crypto"
import { Connection } from "@weft/cluster"
import { Cause, Deferred, type Duration, Effect, Option, Queue, type Scope } from "effect"
import postgres from "postgres"
import type { BuyRequest, Counts, Order, Purchase, TicketStore } from "../store.ts"
import { IdempotencyKeyReusedError, InvalidCountError, type StoreError, StoreIOError } from "./errors.ts"
import { isCount, requestOf } from "./state.ts"

/**
 * Whether `location` names a PostgreSQL store (`postgres://` or `postgresql://`).
 *
 * @example
 * ```ts
 * PgStore.isUrl("postgres://db/tickets") // true
 * PgStore.isUrl("/var/lib/tickets.json") // false
 * ```
 */
export const isUrl = (location: string): boolean => /^postgres(ql)?:\/\//.test(location)

/**
 * A URL without its password, for messages.
 *
 * @example
 * ```ts
 * PgStore.redact("postgres://app:s3cret@db/app") // "postgres://app:***@db/app"
 * ```
 */
export const redact = (url: string): string => url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, "$1:***@")

/** The notification channel of the counts. */
const CHANNEL = "weft_tickets"

/**
 * The purchase: one statement. Parameters: `$1` order id, `$2` buyer, `$3`
 * time, `$4` idempotency key (or null), `$5` the request it is tied to.
 * Answers one row (`replayed` false: a new order; true: the key's earlier
 * order), or none: sold out.
 *
 * @example
 * ```ts
 * const [row] = await sql.unsafe(PgStore.PURCHASE, [randomUUID(), "ada", new Date().toISOString(), null, '{"buyer":"ada"}'])
 * ```
 */
export const PURCHASE = `WITH prior AS (
  SELECT id, seat, buyer, at, req FROM weft_tickets.orders WHERE key = $4::text
), sale AS (
  UPDATE weft_tickets.sale SET sold = sold + 1
  WHERE sold < total AND NOT EXISTS (SELECT 1 FROM prior)
  RETURNING sold, total
), placed AS (
  INSERT INTO weft_tickets.orders (seat, id, buyer, at, key, req)
  SELECT sold, $1::text, $2::text, $3::text, $4::text, $5::text FROM sale
  RETURNING seat
), told AS (
  SELECT pg_notify('${CHANNEL}', sold || ' ' || total) FROM sale
)
SELECT false AS replayed, p.seat, s.total - s.sold AS left, $1::text AS id, $2::text AS buyer, $3::text AS at, $5::text AS req
  FROM sale s CROSS JOIN placed p CROSS JOIN told
UNION ALL
SELECT true, seat, (SELECT total - sold FROM weft_tickets.sale), id, buyer, at, req FROM prior`

/**
 * Group commit: the purchases that queued in one process while its last
 * statement ran, as one statement (the same steps as `PURCHASE`, for many).
 * Parameter: a JSON array of `{ n, id, buyer, at, key, req }`, one per
 * purchase (`n`: 1, 2, ...), no key twice. `SET ... base = sold` keeps the count before
 * the update, so the k-th new purchase gets seat `base + k`, while seats
 * last. Answers one row per purchase with an order (`n`: its place in the
 * batch); a purchase without a row is sold out.
 *
 * @example
 * ```ts
 * const rows = await sql.unsafe(PgStore.PURCHASE_BATCH, [JSON.stringify([{ n: 1, id, buyer: "ada", at, key: null, req }])])
 * ```
 */
export const PURCHASE_BATCH = `WITH req AS (
  SELECT * FROM json_to_recordset($1::text::json) AS r(n int, id text, buyer text, at text, key text, req text)
), prior AS (
  SELECT r.n, o.id, o.seat, o.buyer, o.at, o.req FROM req r JOIN weft_tickets.orders o ON o.key = r.key
), fresh AS (
  SELECT r.*, row_number() OVER (ORDER BY r.n) AS k FROM req r WHERE NOT EXISTS (SELECT 1 FROM prior p WHERE p.n = r.n)
), sale AS (
  UPDATE weft_tickets.sale SET sold = LEAST(total, sold + (SELECT count(*) FROM fresh)), base = sold
  WHERE sold < total AND EXISTS (SELECT 1 FROM fresh)
  RETURNING base, sold, total
), placed AS (
  INSERT INTO weft_tickets.orders (seat, id, buyer, at, key, req)
  SELECT s.base + f.k, f.id, f.buyer, f.at, f.key, f.req FROM fresh f CROSS JOIN sale s WHERE s.base + f.k <= s.sold
  RETURNING seat, id
), told AS (
  SELECT pg_notify('${CHANNEL}', sold || ' ' || total) FROM sale
)
SELECT f.n, false AS replayed, p.seat, s.total - p.seat AS left, f.id, f.buyer, f.at, f.req
  FROM placed p JOIN fresh f ON f.id = p.id CROSS JOIN sale s CROSS JOIN told
UNION ALL
SELECT n, true, seat, (SELECT total - sold FROM weft_tickets.sale), id, buyer, at, req FROM prior`

/**
 * Creates the schema and tables if they are missing. Instances starting at
 * the same moment on an empty database take turns (a transaction-scoped
 * advisory lock), so none fails. Then `ANALYZE`: on tables never analyzed
 * the planner's guess makes the purchase hundreds of times slower.
 *
 * @example
 * ```ts
 * await sql.unsafe(PgStore.SCHEMA)
 * ```
 */
export const SCHEMA = `SELECT pg_advisory_xact_lock(1465144148);
CREATE SCHEMA IF NOT EXISTS weft_tickets;
CREATE TABLE IF NOT EXISTS weft_tickets.sale (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  total int NOT NULL CHECK (total >= 0),
  sold int NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= total),
  base int NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS weft_tickets.orders (
  seat int PRIMARY KEY CHECK (seat >= 1),
  id text NOT NULL UNIQUE,
  buyer text NOT NULL,
  at text NOT NULL,
  key text UNIQUE,
  req text
);
ANALYZE weft_tickets.sale, weft_tickets.orders;`

/** Prepared once per connection (the extended protocol). */
const prepared = { prepare: true } as postgres.UnsafeQueryOptions

/**
 * Options of `make`.
 *
 * @example
 * ```ts
 * const store = yield* PgStore.make(url, { connections: 4, answerWithin: 5_000 })
 * ```
 */
export interface Options {
  /** Connections in this process's pool. Default 8. */
  readonly connections?: number
  /** Milliseconds a statement may go unanswered before it fails with `StoreIOError` and the connections start afresh. Default 10,000. */
  readonly answerWithin?: number
  /** Most purchases bought by one statement (group commit). Default 256. */
  readonly maxBatch?: number
  /** The server ends the session of a client cut off by the network within this (default `"6 seconds"`, at least 6). */
  readonly partitionTimeout?: Duration.Input
}

/**
 * A ticket store on PostgreSQL: the `TicketStore` interface, `create`, and
 * `changes` (the counts pushed by the server on every change).
 *
 * @example
 * ```ts
 * const store: PgStore.PgStore = yield* PgStore.make(url)
 * ```
 */
export interface PgStore extends TicketStore {
  /** Starts a sale of `total` tickets if the store has none; answers whether it did. */
  create(total: number): Effect.Effect<boolean, StoreError | InvalidCountError>
  /** Calls `f` with the counts after every sale or reset on any instance; returns the unsubscribe. */
  changes(f: (counts: Counts) => void): () => void
}

type Sql = postgres.Sql<{}>

interface Row {
  readonly replayed: boolean
  readonly seat: number
  readonly left: number | null
  readonly id: string
  readonly buyer: string
  readonly at: string
  readonly req: string | null
}

interface Pending {
  readonly request: BuyRequest
  readonly deferred: Deferred.Deferred<Purchase, StoreError | IdempotencyKeyReusedError>
}

const strip = (row: Row): Order => ({ id: row.id, seat: row.seat, buyer: row.buyer, at: row.at })

/**
 * Opens the store at `url` (creating its tables if missing); its connections
 * close with the scope. Fails with `StoreIOError` when the server cannot be
 * reached.
 *
 * @example
 * ```ts
 * const store = yield* PgStore.make("postgres://postgres@localhost/tickets?host=/run/postgresql")
 * const { count } = yield* store.tickets
 * ```
 */
export const make = (url: string, options: Options = {}): Effect.Effect<PgStore, StoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const shown = redact(url)
    const answerWithin = options.answerWithin ?? 10_000
    const failure = (problem: string, error?: unknown) =>
      new StoreIOError({
        file: shown,
        code: typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined,
        problem: error === undefined ? problem : `${problem}: ${error instanceof Error ? error.message : String(error)}`
      })
    const resolved = yield* Connection.options(url, { partitionTimeout: options.partitionTimeout ?? "6 seconds" }).pipe(
      Effect.mapError((e) => failure(`not a usable PostgreSQL URL (${e.message})`))
    )
    const settings: postgres.Options<{}> = {
      ...resolved.options,
      connect_timeout: Math.max(1, Math.ceil(answerWithin / 2000)),
      idle_timeout: 0,
      max_lifetime: 0,
      fetch_types: false,
      onnotice: () => {},
      connection: {
        ...resolved.options.connection,
        application_name: "weft-ticketing",
        // Whatever a statement or a transaction holds is let go of in the server within seconds.
        statement_timeout: answerWithin,
        lock_timeout: Math.floor(answerWithin / 2),
        idle_in_transaction_session_timeout: Math.floor(answerWithin / 2)
      }
    }
    const connections = options.connections ?? 8
    const maxBatch = options.maxBatch ?? 256
    const newPool = () => postgres({ ...settings, max: connections })
    let pool: Sql = newPool()
    let closed = false
    // The counts pushed by the server: one connection LISTENs while anyone watches.
    const watchers = new Set<(counts: Counts) => void>()
    let listener: Sql | undefined
    let retry: ReturnType<typeof setTimeout> | undefined

    /** The link may be gone: start the connections afresh (statements in flight on the old ones fail). */
    const restart = (broken: Sql) => {
      if (closed || broken !== pool) return
      pool = newPool()
      void broken.end({ timeout: 0 }).catch(() => {})
      restartListener()
    }

    /** One statement (or transaction) on the pool, answered within `answerWithin`, or a `StoreIOError`. */
    const run = <A>(what: string, f: (sql: Sql) => Promise<A>): Effect.Effect<A, StoreIOError> =>
      Effect.suspend(() => {
        const sql = pool
        return Effect.tryPromise({ try: () => f(sql), catch: (error) => error }).pipe(
          Effect.timeoutOrElse({
            duration: answerWithin,
            orElse: () => {
              restart(sql)
              return Effect.fail(failure(`${what}: no answer from the database within ${answerWithin} ms (whether it was done is unknown; a retry with the same Idempotency-Key is safe)`))
            }
          }),
          Effect.mapError((error) => error instanceof StoreIOError ? error : failure(what, error))
        )
      })

    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        closed = true
        clearTimeout(retry)
        void listener?.end({ timeout: 0 }).catch(() => {})
        return pool.end({ timeout: 1 }).catch(() => {})
      })
    )

    const tell = (counts: Counts) => watchers.forEach((f) => f(counts))
    const countsOf = (sold: number, total: number): Counts => ({ count: Math.max(0, total - sold), sold, total })
    const stopListener = () => {
      clearTimeout(retry)
      retry = undefined
      const old = listener
      listener = undefined
      void old?.end({ timeout: 0 }).catch(() => {})
    }
    const startListener = () => {
      if (closed || listener !== undefined || watchers.size === 0) return
      const sql = postgres({ ...settings, max: 1 })
      listener = sql
      sql.listen(
        CHANNEL,
        (payload) => {
          const [sold, total] = payload.split(" ").map(Number)
          if (isCount(sold) && isCount(total)) tell(countsOf(sold, total))
        },
        // (Re)listening: what changed meanwhile was not heard; read it now.
        () => void Effect.runPromise(Effect.result(tickets)).then((r) => r._tag === "Success" && listener === sql && tell(r.success))
      ).catch(() => {
        // The server is out of reach: try again in a second while anyone watches.
        if (listener !== sql) return
        stopListener()
        retry = setTimeout(startListener, 1000)
        ;(retry as { unref?: () => void }).unref?.()
      })
    }
    const restartListener = () => {
      if (listener === undefined && retry === undefined) return
      stopListener()
      startListener()
    }

    yield* run("cannot create the tables", (sql) => sql.begin((tx) => tx.unsafe(SCHEMA)))

    const tickets: Effect.Effect<Counts, StoreError> = run(
      "cannot read the counts",
      (sql) => sql.unsafe<Array<{ sold: number; total: number }>>("SELECT sold, total FROM weft_tickets.sale", [], prepared)
    ).pipe(Effect.map((rows) => rows.length === 0 ? countsOf(0, 0) : countsOf(rows[0]!.sold, rows[0]!.total)))

    const answer = (request: BuyRequest, req: string, row: Row): Purchase | IdempotencyKeyReusedError =>
      !row.replayed
        ? { ok: true, order: strip(row), left: row.left ?? 0, replayed: false }
        : row.req === req
        ? { ok: true, order: strip(row), left: row.left ?? 0, replayed: true }
        : new IdempotencyKeyReusedError({ key: request.key!, order: strip(row) })

    const byKey = (key: string) =>
      run("cannot read an order", (sql) =>
        sql.unsafe<Array<Row>>(
          `SELECT true AS replayed, seat, (SELECT total - sold FROM weft_tickets.sale) AS left, id, buyer, at, req
           FROM weft_tickets.orders WHERE key = $1::text`,
          [key],
          prepared
        ))

    /** One purchase, one statement (`PURCHASE`): the way back when a batch met a key bought elsewhere meanwhile. */
    const buyOne = (request: BuyRequest): Effect.Effect<Purchase, StoreError | IdempotencyKeyReusedError> =>
      Effect.gen(function*() {
        const req = requestOf(request)
        const params = [randomUUID(), request.buyer ?? "anonymous", new Date().toISOString(), request.key ?? null, req]
        for (let attempt = 0;; attempt++) {
          let raced = false
          const rows = yield* run("cannot buy", (sql) => sql.unsafe<Array<Row>>(PURCHASE, params, prepared)).pipe(
            // The same new key bought at this moment elsewhere: its insert failed, taking the seat back. Read theirs.
            Effect.catchIf(
              (e) => e.code === "23505" && request.key !== undefined && attempt < 3,
              () => Effect.andThen(Effect.sync(() => void (raced = true)), byKey(request.key!))
            )
          )
          // Raced, and the other order is gone already (a reset between): buy again.
          if (rows.length === 0 && raced) continue
          if (rows.length === 0) return { ok: false, left: 0 } as const
          const a = answer(request, req, rows[0]!)
          return a instanceof IdempotencyKeyReusedError ? yield* a : a
        }
      })

    /**
     * One batch: a key twice in it is bought once (the second is answered
     * from the first, as a replay or a 422). If the statement meets a key
     * bought elsewhere at this moment, nothing of it was committed: each
     * purchase is then bought alone.
     */
    const commit = (batch: ReadonlyArray<Pending>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const firsts: Array<Pending> = []
        const firstOfKey = new Map<string, Pending>()
        const later: Array<[Pending, Pending]> = []
        for (const p of batch) {
          const first = p.request.key === undefined ? undefined : firstOfKey.get(p.request.key)
          if (first !== undefined) later.push([p, first])
          else {
            firsts.push(p)
            if (p.request.key !== undefined) firstOfKey.set(p.request.key, p)
          }
        }
        const at = new Date().toISOString()
        const reqs = firsts.map((p) => requestOf(p.request))
        const ids = firsts.map(() => randomUUID())
        const exit = yield* Effect.exit(run("cannot buy", (sql) =>
          sql.unsafe<Array<Row & { n: string }>>(PURCHASE_BATCH, [
            JSON.stringify(firsts.map((p, i) => ({ n: i + 1, id: ids[i], buyer: p.request.buyer ?? "anonymous", at, key: p.request.key ?? null, req: reqs[i] })))
          ], prepared)))
        if (exit._tag === "Failure") {
          const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
          if (error?.code === "23505") {
            // A key of the batch was bought elsewhere meanwhile: one at a time, each reads or buys.
            yield* Effect.forEach(batch, (p) => Effect.exit(buyOne(p.request)).pipe(Effect.map((e) => Deferred.doneUnsafe(p.deferred, e))), { discard: true })
            return
          }
          for (const p of batch) Deferred.doneUnsafe(p.deferred, Effect.failCause(exit.cause))
          return
        }
        const rows = new Map(exit.value.map((row) => [Number(row.n), row]))
        const answers = new Map<Pending, Purchase | IdempotencyKeyReusedError>()
        firsts.forEach((p, i) => {
          const row = rows.get(i + 1)
          answers.set(p, row === undefined ? { ok: false, left: 0 } : answer(p.request, reqs[i]!, row))
        })
        for (const [p, first] of later) {
          const a = answers.get(first)!
          const order = a instanceof IdempotencyKeyReusedError ? a.order : a.ok ? a.order : undefined
          answers.set(
            p,
            order === undefined
              ? { ok: false, left: 0 }
              : requestOf(p.request) === requestOf(first.request)
              ? { ok: true, order, left: a instanceof IdempotencyKeyReusedError || !a.ok ? 0 : a.left, replayed: true }
              : new IdempotencyKeyReusedError({ key: p.request.key!, order })
          )
        }
        for (const p of batch) {
          const a = answers.get(p)!
          Deferred.doneUnsafe(p.deferred, a instanceof IdempotencyKeyReusedError ? Effect.fail(a) : Effect.succeed(a))
        }
      })

    // Group commit, as in the file store: consumer fibers take what has queued (at most `maxBatch`) and
    // buy it with one statement. Two of them, so one batch is built while the other is in the server.
    const requests = yield* Queue.unbounded<Pending>()
    const consumer = Effect.forever(Effect.flatMap(Queue.takeBetween(requests, 1, maxBatch), commit))
    yield* Effect.forkScoped(consumer)
    yield* Effect.forkScoped(consumer)

    const buy = (request: BuyRequest = {}): Effect.Effect<Purchase, StoreError | IdempotencyKeyReusedError> =>
      Effect.suspend(() => {
        const deferred = Deferred.makeUnsafe<Purchase, StoreError | IdempotencyKeyReusedError>()
        Queue.offerUnsafe(requests, { request, deferred })
        return Deferred.await(deferred)
      })

    const order = (id: string) =>
      run("cannot read an order", (sql) =>
        sql.unsafe<Array<Row>>("SELECT id, seat, buyer, at FROM weft_tickets.orders WHERE id = $1::text", [id], prepared)).pipe(
          Effect.map((rows) => rows.length === 0 ? undefined : strip(rows[0]!))
        )

    const orders = run("cannot read the orders", (sql) =>
      sql.unsafe<Array<Row>>("SELECT id, seat, buyer, at FROM weft_tickets.orders ORDER BY seat", [], prepared)).pipe(
        Effect.map((rows) => rows.map(strip))
      )

    const reset = (total: unknown): Effect.Effect<void, StoreError | InvalidCountError> =>
      !isCount(total) || total > 2_147_483_647
        ? Effect.fail(new InvalidCountError({ value: total }))
        : run("cannot reset", (sql) =>
          sql.begin(async (tx) => {
            // Purchases wait (readers do not) while the old orders go and the new sale starts.
            await tx.unsafe("LOCK TABLE weft_tickets.sale IN SHARE ROW EXCLUSIVE MODE")
            await tx.unsafe("DELETE FROM weft_tickets.orders")
            await tx.unsafe(
              `INSERT INTO weft_tickets.sale (one, total, sold) VALUES (true, $1::int, 0)
               ON CONFLICT (one) DO UPDATE SET total = EXCLUDED.total, sold = 0`,
              [total]
            )
            await tx.unsafe(`SELECT pg_notify('${CHANNEL}', '0 ' || $1::text)`, [String(total)])
          })).pipe(Effect.asVoid)

    const create = (total: number): Effect.Effect<boolean, StoreError | InvalidCountError> =>
      !isCount(total) || total > 2_147_483_647
        ? Effect.fail(new InvalidCountError({ value: total }))
        : run("cannot start the sale", (sql) =>
          sql.unsafe(
            `WITH made AS (INSERT INTO weft_tickets.sale (one, total, sold) VALUES (true, $1::int, 0) ON CONFLICT (one) DO NOTHING RETURNING total)
             SELECT pg_notify('${CHANNEL}', '0 ' || total) FROM made`,
            [total],
            prepared
          )).pipe(Effect.map((rows) => rows.length > 0))

    const changes = (f: (counts: Counts) => void) => {
      watchers.add(f)
      startListener()
      return () => {
        watchers.delete(f)
        if (watchers.size === 0) stopListener()
      }
    }

    return { file: shown, lockFile: "", tickets, buy, order, orders, reset, create, changes }
  })
