/**
 * The chat's log on PostgreSQL: one ordered list of everything every instance
 * asked the registry, which every instance replays into its own copy of the
 * `Registry` (a replicated state machine). A cluster `pubsub` gives one order
 * to its subscribers but keeps nothing, and an instance that starts later
 * needs the history: so the log is a table, and a `NOTIFY` in the same
 * statement carries each entry to the instances following it.
 *
 * - **One order.** An append takes a transaction advisory lock, draws its
 *   number from a sequence and inserts, all in one statement (no lock is
 *   held across a round trip): numbers are drawn in the order the entries
 *   commit, which is the order their notifications arrive. A number whose
 *   statement failed is never used; a follower that sees `n + 2` after `n`
 *   reads `n + 1` from the table, or learns it does not exist.
 * - **Only what comes back counts.** An append carries a deadline (the
 *   server's clock, 1.5 s after it is sent); the statement inserts nothing
 *   after it. A line stuck in a cut-off link's buffers can never turn up
 *   later. At most 64 are sent at once; the rest wait their turn unsent.
 * - **Bounded.** Every so many entries one instance saves a snapshot of the
 *   state; a starting instance reads the latest, then the entries after it,
 *   and the entries before the one-but-latest are deleted.
 * - **Race-free set-up.** Instances may create the schema at the same moment:
 *   creation runs under a transaction advisory lock.
 *
 * @example
 * const log = yield* Log.open(url)
 * yield* Effect.promise(() => log.follow((seq, entry) => apply(seq, entry), () => lost()))
 * log.append({ k: "hello", id })
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import postgres from "postgres"
import { Connection } from "@weft/cluster"

/** How long an append may take to reach the server, from when it was sent. */
export const DEADLINE_MS = 1500
const CHANNEL = "weft_chat_log"
/** The advisory lock keys: the appends' order, and the schema's creation. */
/** The advisory lock key that orders the appends (tests hold it to stall them). */
export const ORDER_KEY = 0x77656674 // "weft"
const SCHEMA_KEY = 0x63686174 // "chat"
/** A NOTIFY payload is at most 7,999 bytes: a bigger entry goes by its number alone. */
const INLINE_MAX = 7900
/** Appends on the wire at once. */
const MAX_IN_FLIGHT = 64

/** The log: append entries, follow them in order. */
export interface Log {
  /** Appends `entry` (JSON); resolves with its number, or undefined when it missed its deadline. */
  append(entry: unknown): Promise<number | undefined>
  /**
   * Sends nothing more (what waits is dropped); returns the time (`Date.now()`) after which
   * nothing already sent can land.
   */
  halt(): number
  /**
   * Calls `onStart` with the latest snapshot (if any), then `onEntry` with every
   * entry after it, in order, once each, and with each new one as it commits;
   * `onLost` if the link to the server breaks.
   */
  follow(
    onStart: (seq: number, snapshot: any) => void,
    onEntry: (seq: number, entry: any) => void,
    onLost: (error: unknown) => void
  ): Promise<void>
  /**
   * Saves the state after entry `seq`; the entries up to the snapshot before it are deleted.
   * Two are kept, so a replica that read the older one still finds every entry after it.
   */
  snapshot(seq: number, state: unknown): Promise<void>
}

/**
 * The postgres.js options for `url`: `@weft/cluster`'s (the URL read as libpq
 * reads it, `?host=/dir` included, and the server told to drop a connection
 * gone silent within the partition bound), for a log's two connections.
 */
const connection = (url: string): Effect.Effect<postgres.Options<{}>, Error> =>
  Effect.map(Connection.options(url), ({ options }) => ({
    ...options,
    max: 1,
    fetch_types: false,
    connect_timeout: 5,
    idle_timeout: 0,
    max_lifetime: 0,
    onnotice: () => {},
    connection: { ...options.connection, application_name: "weft-chat" }
  }))

const install = async (sql: postgres.Sql<{}>): Promise<void> => {
  for (let attempt = 0; ; attempt++) {
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SCHEMA_KEY})`
        await tx`CREATE SCHEMA IF NOT EXISTS weft_chat`
        await tx`CREATE SEQUENCE IF NOT EXISTS weft_chat.seq`
        await tx`CREATE TABLE IF NOT EXISTS weft_chat.log (seq bigint PRIMARY KEY, body text NOT NULL)`
        await tx`CREATE TABLE IF NOT EXISTS weft_chat.snapshot (seq bigint PRIMARY KEY, body text NOT NULL)`
      })
      return
    } catch (error) {
      // Another creator without the lock (a concurrent CREATE ... IF NOT EXISTS): once more.
      if (attempt < 3 && ["23505", "42P06", "42P07"].includes(String((error as { code?: string }).code))) continue
      throw error
    }
  }
}

/**
 * Opens the log at `url` (creating its tables if missing); its connections close with the scope.
 *
 * @example
 * const log = yield* Log.open("postgres://chat@db.internal/chat")
 */
export const open = (url: string): Effect.Effect<Log, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.flatMap(connection(url), (options) => Effect.tryPromise({
      try: async () => {
        const writer = postgres(options)
        const reader = postgres(options)
        try {
          await install(writer)
          // The server's clock minus ours: deadlines are the server's time.
          const before = Date.now()
          const [{ now }] = await writer`SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now` as unknown as [{ now: string }]
          const offset = Number(now) - (before + Date.now()) / 2
          return { writer, reader, log: make(writer, reader, offset) }
        } catch (error) {
          void writer.end({ timeout: 0 })
          void reader.end({ timeout: 0 })
          throw error
        }
      },
      catch: (error) => new Error(`cannot open the chat's log at ${redact(url)}: ${(error as Error).message}`)
    })),
    ({ reader, writer }) => Effect.promise(() => Promise.all([writer.end({ timeout: 0 }), reader.end({ timeout: 0 })]).catch(() => {}))
  ).pipe(Effect.map(({ log }) => log))

/** The URL without its password, for messages. */
export const redact = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")

const make = (writer: postgres.Sql<{}>, reader: postgres.Sql<{}>, offset: number): Log => {
  let applied = 0
  const queue: Array<[number, string]> = []
  let draining = false
  let onEntry: (seq: number, entry: any) => void = () => {}
  let onLost: (error: unknown) => void = () => {}

  const apply = (seq: number, body: string) => {
    applied = seq
    onEntry(seq, JSON.parse(body))
  }
  // One at a time, in number order: a notification ahead of a missing number, or one too big to
  // carry its entry, reads the table up to it first.
  const drain = async () => {
    draining = true
    try {
      while (queue.length > 0) {
        const [seq, body] = queue.shift()!
        if (seq <= applied) continue
        if (seq === applied + 1 && body !== "") {
          apply(seq, body)
          continue
        }
        while (applied < seq) {
          const rows = await reader<Array<{ seq: string; body: string }>>`
            SELECT seq, body FROM weft_chat.log WHERE seq > ${applied} AND seq <= ${seq} ORDER BY seq LIMIT 5000`
          for (const row of rows) apply(Number(row.seq), row.body)
          if (rows.length < 5000) applied = seq
        }
      }
    } catch (error) {
      onLost(error)
    } finally {
      draining = false
    }
  }
  /** Set once the snapshot is loaded: entries wait until then. */
  let ready = false
  const push = (seq: number, body: string) => {
    queue.push([seq, body])
    if (ready && !draining) void drain()
  }
  // Appends wait here, and at most MAX_IN_FLIGHT are sent at once (pipelined on the one writer
  // connection, in order): the deadline starts when a statement is sent, so a backlog under load
  // delays lines rather than dropping them, and only what is on the wire can land late.
  const waiting: Array<{ readonly body: string; readonly resolve: (seq: number | undefined) => void; readonly reject: (e: unknown) => void }> = []
  let inFlight = 0
  let halted = false
  /** The deadline of the last statement sent: after it, nothing sent can still land. */
  let sentUntil = 0
  const dispatch = () => {
    while (inFlight < MAX_IN_FLIGHT && waiting.length > 0 && !halted) {
      const { body, resolve, reject } = waiting.shift()!
      inFlight++
      sentUntil = Date.now() + DEADLINE_MS
      writer<Array<{ seq: string }>>`
        WITH turn AS (SELECT pg_advisory_xact_lock(${ORDER_KEY})),
        added AS (
          INSERT INTO weft_chat.log (seq, body)
          SELECT nextval('weft_chat.seq'), ${body}::text FROM turn
          WHERE clock_timestamp() < to_timestamp(${(sentUntil + offset) / 1000}::float8)
          RETURNING seq
        )
        SELECT seq, pg_notify(${CHANNEL}, seq || ':' || ${octets(body) < INLINE_MAX ? body : ""}::text) FROM added`
        .then((rows) => resolve(rows.length === 0 ? undefined : Number(rows[0]!.seq)), reject)
        .finally(() => {
          inFlight--
          dispatch()
        })
    }
  }
  const catchUp = async () => {
    const [{ max }] = await reader<[{ max: string | null }]>`SELECT max(seq) AS max FROM weft_chat.log`
    if (max !== null) push(Number(max), "")
  }

  return {
    append: (entry) =>
      new Promise<number | undefined>((resolve, reject) => {
        if (halted) return reject(new Error("the log was halted"))
        waiting.push({ body: JSON.stringify(entry), resolve, reject })
        dispatch()
      }),
    halt: () => {
      halted = true
      for (const w of waiting.splice(0)) w.reject(new Error("the log was halted"))
      return sentUntil
    },
    follow: async (start, entries, lost) => {
      onLost = lost
      // Listening first, then reading: every entry is either in the table read or notified after.
      await reader.listen(CHANNEL, (payload) => {
        const colon = payload.indexOf(":")
        push(Number(payload.slice(0, colon)), payload.slice(colon + 1))
      }, () => void catchUp().catch(lost))
      const [latest] = await reader<Array<{ seq: string; body: string }>>`SELECT seq, body FROM weft_chat.snapshot ORDER BY seq DESC LIMIT 1`
      if (latest !== undefined) {
        applied = Number(latest.seq)
        start(applied, JSON.parse(latest.body))
      }
      onEntry = entries
      ready = true
      await catchUp()
    },
    snapshot: async (seq, state) => {
      await writer`INSERT INTO weft_chat.snapshot (seq, body) VALUES (${seq}, ${JSON.stringify(state)}) ON CONFLICT DO NOTHING`
      // One statement (data-modifying CTEs all run): nothing held across a round trip.
      await writer`
        WITH older AS (SELECT seq FROM weft_chat.snapshot ORDER BY seq DESC OFFSET 1 LIMIT 1),
        snapshots AS (DELETE FROM weft_chat.snapshot WHERE seq < (SELECT seq FROM older)),
        entries AS (DELETE FROM weft_chat.log WHERE seq <= (SELECT seq FROM older))
        SELECT 1`
    }
  }
}

const encoder = new TextEncoder()
const octets = (text: string): number => (text.length * 3 < INLINE_MAX ? text.length : encoder.encode(text).length)
