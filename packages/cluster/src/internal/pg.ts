/**
 * The PostgreSQL side of a cluster handle, over postgres.js.
 *
 * - `quick`: a small pool for statements that never wait (a put, a set, a
 *   look at `pg_locks`).
 * - dedicated connections (`take` / `give` / `discard`): one per blocking wait
 *   and per holding. A session advisory lock belongs to the connection that
 *   took it, so a holder keeps its connection until it releases; a
 *   connection that drops (the process died, the network failed) releases
 *   everything it held, in the server, at once.
 * - `session`: one connection for the handle's whole life that holds its
 *   liveness lock, so that others can tell (and wait until) it is gone.
 * - `listener`: one connection that LISTENs for the channels this process
 *   waits on; waits sleep there, they never poll.
 *
 * An interrupted statement is cancelled in the server (postgres.js
 * `query.cancel()`, a CancelRequest) and its connection is closed unless the
 * cancel is known to have been consumed, so a late cancel can never hit a
 * later statement.
 *
 * @internal
 */
import { DeadlockError } from "@weft/primitives/errors"
import { applicationName, grantTimes } from "./inspect.ts"
import { Effect } from "effect"
import postgres from "postgres"
import { ClusterUnavailableError } from "../errors.ts"
import { type Bounds, Leases, serverSettings } from "./lease.ts"

/** @internal */
export type Sql = postgres.Sql<{}>

/** A failure reported by the server or the driver. @internal */
export interface PgFailure {
  readonly code?: string
  readonly message?: string
}

/** How to reach the server, from a `postgres://` URL (libpq's `?host=/dir` names a Unix socket directory). @internal */
export const parseUrl = (url: string): { readonly options: postgres.Options<{}>; readonly server: string } => {
  const parsed = new URL(url)
  const socketDir = parsed.searchParams.get("host")
  const port = Number(parsed.port || parsed.searchParams.get("port") || 5432)
  const user = decodeURIComponent(parsed.username) || undefined
  const password = decodeURIComponent(parsed.password) || undefined
  const database = decodeURIComponent(parsed.pathname.slice(1)) || undefined
  const common = {
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(database !== undefined ? { database } : {})
  }
  if (socketDir !== null && socketDir.startsWith("/")) {
    const path = `${socketDir}/.s.PGSQL.${port}`
    return { options: { ...common, path }, server: path }
  }
  const host = parsed.hostname || "localhost"
  return { options: { ...common, host, port }, server: `${host}:${port}` }
}

const connectionErrors = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOENT",
  "EPIPE",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006"
])

/**
 * `query.cancel()`, keeping hold of the CancelRequest's promise: postgres.js
 * 3.4 drops it (`cancel()` returns null), so a cancel that cannot connect (a
 * partition: EHOSTUNREACH) would be an unhandled rejection, which ends a Node
 * process. @internal
 */
export const cancelQuietly = (query: postgres.PendingQuery<any>): void => {
  const q = query as unknown as { canceller?: ((query: unknown) => Promise<unknown>) | null }
  const canceller = q.canceller
  if (typeof canceller !== "function") return void Promise.resolve(query.cancel()).catch(() => {})
  q.canceller = null
  void Promise.resolve(canceller(query)).catch(() => {})
}

/** Whether a failure means the server (or the way to it) is gone. @internal */
export const isConnectionFailure = (e: unknown): boolean =>
  typeof e === "object" && e !== null && connectionErrors.has(String((e as PgFailure).code))

/**
 * Every statement goes by the extended protocol, prepared once per
 * connection. By default postgres.js sends a statement with no parameters
 * as a simple query (its `simple` option, in its source though not in its
 * types), which the server parses and plans anew each time.
 */
const prepared = { prepare: true, simple: false } as postgres.UnsafeQueryOptions

/** @internal */
export class Db {
  readonly server: string
  readonly schema: string
  /** Every statement this handle sent: a waiter that sleeps sends none. */
  queries = 0
  private readonly options: postgres.Options<{}>
  /** Replaced by `refresh` after a partition (its connections are likely dead). */
  quick: Sql
  private readonly idle: Array<Sql> = []
  private readonly open = new Set<Sql>()
  private closed = false
  private warming = false
  /** The backend pid of each dedicated connection that has run a statement. */
  private readonly pids = new WeakMap<Sql, number>()
  /** The lease of every connection that holds something (the partition bound). */
  readonly leases: Leases
  /** `partitionTimeout` in ms: how long `close` waits on a server that does not answer. */
  private readonly bound: number

  constructor(url: string, schema: string, connectTimeoutSeconds: number, bounds: Bounds) {
    const { options, server } = parseUrl(url)
    this.server = server
    this.schema = schema
    this.options = {
      ...options,
      max: 1,
      fetch_types: false,
      connect_timeout: connectTimeoutSeconds,
      idle_timeout: 0,
      max_lifetime: 0,
      onnotice: () => {},
      // In the startup packet: the server closes a connection gone silent
      // within the partition bound (ignored on a Unix socket).
      connection: { application_name: applicationName, ...serverSettings(bounds) }
    }
    this.quick = postgres({ ...this.options, max: 4 })
    this.leases = new Leases(bounds, this)
    this.bound = bounds.bound
  }

  /** A lease renewal on `sql`: not counted in `queries`, which counts what waits and operations send. */
  ping(sql: Sql): Promise<unknown> {
    return sql.unsafe("SELECT 1", [], prepared)
  }

  /** A new dedicated connection (connects on its first statement). */
  connection(extra: Partial<postgres.Options<{}>> = {}): Sql {
    const sql = postgres({ ...this.options, ...extra })
    this.open.add(sql)
    return sql
  }

  /**
   * A dedicated connection for a wait or a holding. When it takes the last
   * idle one, a spare starts connecting, so that the next wait or holding
   * (often a moment later: the next fiber in line) need not.
   */
  take(): Sql {
    const sql = this.idle.pop()
    if (this.idle.length === 0 && !this.closed && !this.warming) {
      this.warming = true
      const spare = this.connection()
      this.queries++
      spare.unsafe("SELECT 1").then(
        () => {
          this.warming = false
          this.give(spare)
        },
        () => {
          this.warming = false
          this.discard(spare)
        }
      )
    }
    return sql ?? this.connection()
  }

  /** Opens `n` idle dedicated connections, so that the first waits and holdings need not connect. */
  prewarm(n: number): Effect.Effect<void> {
    return Effect.asVoid(Effect.forEach(
      Array.from({ length: n }, () => this.connection()),
      (sql) => Effect.match(this.exec(sql, "SELECT 1"), { onSuccess: () => this.give(sql), onFailure: () => this.discard(sql) }),
      { concurrency: "unbounded" }
    ))
  }

  /** A dedicated connection that holds nothing and runs nothing. */
  give(sql: Sql): void {
    if (this.closed || this.idle.length >= 8) return this.discard(sql)
    this.idle.push(sql)
  }

  /**
   * After a cancelled or timed-out wait on `sql`: closes it and, if it ever
   * reached a backend, terminates that backend and waits for it to exit
   * (`pg_terminate_backend(pid, timeout)`), so that whatever it held (the
   * server may have granted a lock just as the wait ended) is released
   * before this returns, not a moment later.
   */
  letGo(sql: Sql): Effect.Effect<void> {
    return Effect.uninterruptible(Effect.suspend(() => {
      const pid = this.pids.get(sql)
      this.discard(sql)
      if (pid === undefined) return Effect.void
      // Bounded: after a partition the pool's own connections may not answer
      // (and a statement on the shared pool is never cancelled).
      return Effect.promise(() =>
        Promise.race([
          this.quick.unsafe(
            `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE pid = $1 AND application_name LIKE 'weft-cluster%'`,
            [pid]
          ).catch(() => {}),
          new Promise<void>((resolve) => setTimeout(resolve, 6_000))
        ])
      )
    }))
  }

  /**
   * After a holding went silent (lease.ts): the other connections crossed
   * the same network, so the idle ones and the quick pool are likely dead
   * too (the server closed them); start those afresh, so that the first
   * statements after the link returns do not wait on them.
   */
  refresh(): void {
    if (this.closed) return
    for (const sql of this.idle.splice(0)) this.discard(sql)
    const old = this.quick
    this.quick = postgres({ ...this.options, max: 4 })
    void old.end({ timeout: 0 }).catch(() => {})
  }

  /** Closes a dedicated connection: the server releases whatever it held. */
  discard(sql: Sql): void {
    this.open.delete(sql)
    void sql.end({ timeout: 0 }).catch(() => {})
  }

  /** A holding found gone: its connection dropped (and was reopened) while it was held. */
  lost(primitive: string): ClusterUnavailableError {
    return new ClusterUnavailableError({
      server: this.server,
      reason: `${primitive}: the connection that held it was lost, and with it what it held`
    })
  }

  unavailable(reason: unknown): ClusterUnavailableError {
    if (this.closed) return new ClusterUnavailableError({ server: this.server, reason: "the cluster handle's scope was closed" })
    const e = reason as PgFailure
    return new ClusterUnavailableError({
      server: this.server,
      reason: e?.code !== undefined ? `${e.code}: ${e.message ?? ""}`.trim() : String(e?.message ?? reason)
    })
  }

  /** The backend pid of `sql`, once a statement told it. */
  backendOf(sql: Sql): number | undefined {
    return this.pids.get(sql)
  }

  /** The lock statement on `sql` was just granted: notes when, for `Inspect` (inspect.ts). */
  noteGrant(sql: Sql): void {
    const pid = this.pids.get(sql)
    if (pid !== undefined) grantTimes.set(pid, Date.now())
  }

  /**
   * Sends one statement on `sql` and returns the driver's pending query: the
   * bare path, for the lock's hot path (`locks.ts`) and for `exec`. Counts it,
   * and notes the connection's backend pid once the statement ends.
   */
  send<A = any>(sql: Sql, text: string, params: ReadonlyArray<unknown> = []): Promise<ReadonlyArray<A>> & postgres.PendingQuery<any> {
    this.queries++
    const query = sql.unsafe(text, params as Array<any>, prepared)
    const notePid = () => {
      const pid = (query as unknown as { state?: { pid?: number } }).state?.pid
      if (pid !== undefined && pid !== 0) this.pids.set(sql, pid)
    }
    query.then(notePid, notePid)
    return query as any
  }

  /**
   * Runs one statement on `sql`. Fails with the server's or driver's error.
   * Interrupted: the statement is cancelled in the server, and the effect
   * ends once it has (the connection may still hold what the statement
   * took: callers close it).
   */
  exec<A = any>(sql: Sql, text: string, params: ReadonlyArray<unknown> = []): Effect.Effect<ReadonlyArray<A>, PgFailure> {
    return Effect.callback<ReadonlyArray<A>, PgFailure>((resume) => {
      const query = this.send<A>(sql, text, params)
      query.then(
        (rows) => resume(Effect.succeed(rows)),
        (error: PgFailure) => resume(Effect.fail(error))
      )
      return this.cancelled(sql, query)
    })
  }

  /** Cancels `query` (running on `sql`) in the server; ends once the statement has ended. */
  cancelled(sql: Sql, query: postgres.PendingQuery<any>): Effect.Effect<void> {
    return Effect.callback<void>((done) => this.cancel(sql, query, () => done(Effect.void)))
  }

  /**
   * Cancels a running statement and calls `settled` once it has ended. A
   * cancel that reaches the server before the backend has read the statement
   * is ignored there, so it is sent again (`pg_cancel_backend`) every 100 ms
   * until the statement ends; after 3 seconds the connection is closed.
   * Callers close a cancelled statement's connection in any case, so a late
   * cancel never hits a later statement.
   */
  private cancel(sql: Sql, query: postgres.PendingQuery<any>, settled: () => void): void {
    let done = false
    let tries = 0
    const finish = () => {
      if (done) return
      done = true
      clearInterval(timer)
      settled()
    }
    query.then(finish, finish)
    cancelQuietly(query)
    const timer = setInterval(() => {
      tries++
      const pid = (query as unknown as { state?: { pid?: number } }).state?.pid
      if (tries >= 30) {
        clearInterval(timer)
        this.discard(sql) // ends the statement: `finish` runs on its rejection
        return
      }
      if (pid !== undefined && pid !== 0) this.quick.unsafe("SELECT pg_cancel_backend($1)", [pid]).catch(() => {})
    }, 100)
  }

  /** `exec` whose failures are defects: `ClusterUnavailableError` when the server is gone. */
  run<A = any>(sql: Sql, text: string, params: ReadonlyArray<unknown> = []): Effect.Effect<ReadonlyArray<A>> {
    return Effect.catch(this.exec<A>(sql, text, params), (e) => Effect.die(this.failure(e)))
  }

  /** A statement that never waits, on the shared pool. */
  q<A = any>(text: string, params: ReadonlyArray<unknown> = []): Effect.Effect<ReadonlyArray<A>> {
    // Never cancelled: it does not wait, and a cancel on the shared pool
    // could hit another statement.
    return Effect.uninterruptible(this.run<A>(this.quick, text, params))
  }

  failure(e: unknown): unknown {
    // PostgreSQL's deadlock detector chose this statement: the same tagged error as at every scope.
    if ((e as PgFailure)?.code === "40P01") {
      const detail = (e as { readonly detail?: string }).detail
      return new DeadlockError({ cycle: [], detail: detail ?? (e as PgFailure).message })
    }
    return isConnectionFailure(e) || this.closed ? this.unavailable(e) : new Error(`PostgreSQL at ${this.server}: ${(e as PgFailure)?.message ?? String(e)}`)
  }

  /**
   * Runs a statement that may wait in the server on a dedicated connection
   * taken for it, and gives the connection back. Interrupted (or failed):
   * the statement is cancelled and the connection closed, so nothing it may
   * have taken stays held.
   */
  waitOn<A = any>(text: string, params: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>> {
    return Effect.uninterruptibleMask((restore) => {
      const sql = this.take()
      return Effect.onExit(restore(this.run<A>(sql, text, params)), (exit) =>
        Effect.sync(() => (exit._tag === "Success" ? this.give(sql) : this.discard(sql))))
    })
  }

  /**
   * Closes every connection, and returns once the server has let go of what
   * they held: it waits for their backends to exit, so a process that goes
   * on after closing a handle (a test, a consumer handing over) finds its
   * locks and queue items already released. A server that does not answer
   * (a partition) is waited for at most `partitionTimeout`: by then it has
   * let go on its own.
   */
  close(): Effect.Effect<void> {
    return Effect.promise(() => {
      this.closed = true
      this.leases.clear()
      const all = [...this.open]
      const pids = all.map((sql) => this.pids.get(sql)).filter((pid): pid is number => pid !== undefined)
      this.open.clear()
      this.idle.length = 0
      return this.atMostBound((async () => {
        await Promise.all(all.map((sql) => sql.end({ timeout: 0 }).catch(() => {})))
        if (pids.length > 0) {
          await this.quick.unsafe(
            `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
             WHERE pid = ANY($1::int[]) AND application_name LIKE 'weft-cluster%'`,
            [`{${pids.join(",")}}`]
          ).catch(() => {})
        }
        await this.quick.end({ timeout: 0 }).catch(() => {})
      })())
    })
  }

  /** Waits for `promise` to settle, at most `partitionTimeout`; its failure is ignored. */
  private atMostBound(promise: PromiseLike<unknown>): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.bound)
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      Promise.resolve(promise).then(done, done)
    })
  }
}
