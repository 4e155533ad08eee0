/**
 * Weft's primitives across processes and machines, on PostgreSQL: the fourth
 * scope, after fibers, worker threads and one host's processes.
 *
 * `Cluster.connect({ url })` (scoped) returns a handle whose `lock(name)`,
 * `rlock(name)`, `semaphore(name, permits)`, `event(name)`,
 * `barrier(name, parties)`, `queue(name, maxsize?)` and `pubsub(name)`
 * return the same interfaces as `Lock`, `RLock`, `Semaphore`, `Event`,
 * `Barrier`, `Queue` and `PubSub` from `@weft/primitives`. The same name
 * from any process connected to the same database (and schema) is the same
 * primitive.
 *
 * What PostgreSQL gives: session advisory locks that wait inside the server
 * (FIFO) and are released the moment their connection drops, `FOR UPDATE
 * SKIP LOCKED`, `LISTEN/NOTIFY`, sequences. What Weft adds: the interfaces,
 * fencing tokens, durable queue items that go back when their taker dies, and
 * waits that never poll. See the package README for the table of what each
 * primitive uses and what it guarantees.
 *
 * Transport failures are defects on the primitives (their interfaces, shared
 * with the fiber twins, have no error channel for them): a
 * `ClusterUnavailableError` inside a `Die` cause. `connect` itself fails with
 * it as a typed error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "@weft/cluster"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const cluster = yield* Cluster.connect({ url: "postgres://app@db.internal/app" })
 *   const lock = yield* cluster.lock("nightly-report")
 *   yield* lock.withLock(Effect.log("one process in the whole cluster"))
 * }))
 * ```
 *
 * @module
 */
import { Duration, Effect, Scope } from "effect"
import {
  type Barrier,
  type Event,
  InvalidArgumentError,
  type Lock,
  type PubSub,
  type Queue,
  type RLock,
  type Semaphore
} from "@weft/primitives"
import { count, duration } from "@weft/primitives/validate"
import { ClusterNameClashError, ClusterUnavailableError } from "./errors.ts"
import { Listener } from "./internal/listener.ts"
import { type Fenced, makeLock, makeRLock, makeSemaphore } from "./internal/locks.ts"
import { Db } from "./internal/pg.ts"
import { checkMaxsize, makeQueue, type Session } from "./internal/queue.ts"
import { bounds, minBound } from "./internal/lease.ts"
import { install, isSchemaName, register, sessionKeySql } from "./internal/schema.ts"
import { makePubSub } from "./internal/pubsub.ts"
import { describer } from "./internal/inspect.ts"
import * as Registry from "@weft/primitives/Registry"
import { makeBarrier, makeEvent } from "./internal/signals.ts"

/**
 * The kinds of cluster primitive.
 *
 * @example
 * ```ts
 * const kind: Cluster.Kind = lock.handle.kind // "lock"
 * ```
 */
export type Kind = "lock" | "rlock" | "semaphore" | "event" | "barrier" | "queue" | "pubsub"

/**
 * The interface of each kind: the fiber twin's, plus `fencingToken` on the
 * locks.
 *
 * @example
 * ```ts
 * type L = Cluster.Interfaces["lock"] // Lock.Lock & Cluster.Fenced
 * ```
 */
export interface Interfaces {
  readonly lock: Lock.Lock & Fenced
  readonly rlock: RLock.RLock & Fenced
  readonly semaphore: Semaphore.Semaphore
  readonly event: Event.Event
  readonly barrier: Barrier.Barrier
  readonly queue: Queue.Queue<unknown>
  readonly pubsub: PubSub.PubSub<unknown>
}

/**
 * A lock's fencing token: `fencingToken` is a number that increases from
 * grant to grant of the lock (drawn on the first read in a hold, while the
 * holding connection still holds the lock). Pass it along with every write the lock guards; the
 * store keeps the largest token it has seen and refuses a write that carries
 * a smaller one. A holder that stalled (a long GC pause, a lost connection)
 * past the moment the lock went to someone else then cannot overwrite the
 * newer holder's work. In PostgreSQL itself:
 * `UPDATE t SET ..., fence = $token WHERE id = $id AND fence < $token`.
 *
 * @example
 * ```ts
 * yield* lock.withLock(Effect.gen(function*() {
 *   const token = yield* lock.fencingToken
 *   yield* store.write(data, token) // the store refuses tokens older than the last it saw
 * }))
 * ```
 */
export type { Fenced } from "./internal/locks.ts"

/**
 * A serializable reference to a cluster primitive: plain JSON, to pass to
 * another process (a pool task argument, argv, IPC), which calls
 * `Cluster.attach(handle)`. It carries the database URL, credentials
 * included: treat it as a secret.
 *
 * @example
 * ```ts
 * const handle: Cluster.Handle<"lock"> = lock.handle
 * ```
 */
export interface Handle<K extends Kind = Kind> {
  readonly _tag: "ClusterHandle"
  readonly kind: K
  readonly name: string
  readonly url: string
  readonly schema: string
  /** `permits`, `parties` or `maxsize`. */
  readonly size?: number
}

/**
 * A cluster primitive: its interface plus the `handle` to attach it
 * elsewhere.
 *
 * @example
 * ```ts
 * const jobs: Cluster.Attached<"queue"> = yield* cluster.queue("jobs")
 * ```
 */
export type Attached<K extends Kind> = Interfaces[K] & { readonly handle: Handle<K> }

/**
 * Options of `Cluster.connect`.
 *
 * @example
 * ```ts
 * const options: Cluster.Options = { url: "postgres://app@db.internal/app", schema: "weft", partitionTimeout: "30 seconds" }
 * ```
 */
export interface Options {
  /**
   * A `postgres://user:password@host:port/database` URL. For a Unix socket,
   * libpq's form: `postgres://user@localhost/database?host=/socket/dir`.
   */
  readonly url: string
  /** The PostgreSQL schema that holds Weft's tables (default `"weft"`; created if missing). */
  readonly schema?: string
  /** How long to wait for a connection (default 10 seconds). */
  readonly connectTimeout?: Duration.Input
  /**
   * The partition bound (default 10 seconds, at least 6): a lock, permits or
   * taken queue items held by a process cut off from the server are released
   * by the server within this time of the cut, and the holder is told first,
   * after half of it (`LockLostError`: its `withLock` body is interrupted,
   * its fencing token refused). While something is held, each holding
   * connection renews its lease with a `SELECT 1` every eighth of it.
   */
  readonly partitionTimeout?: Duration.Input
}

/**
 * A connection to a cluster. Everything this process holds through it is
 * released when its scope closes (or the process dies).
 *
 * @example
 * ```ts
 * const cluster: Cluster.Cluster = yield* Cluster.connect({ url })
 * const permits = yield* cluster.semaphore("gpu", 2)
 * ```
 */
export interface Cluster {
  /** A mutual-exclusion lock named `name`, with fencing tokens. */
  lock(name: string): Effect.Effect<Attached<"lock">, ClusterNameClashError | InvalidArgumentError>
  /** A reentrant lock named `name`: owned by the acquiring fiber of the acquiring process. */
  rlock(name: string): Effect.Effect<Attached<"rlock">, ClusterNameClashError | InvalidArgumentError>
  /**
   * A semaphore of `permits` permits (1 to 65535) named `name`. It is bounded:
   * a process releases only permits it holds (more fails with
   * `SemaphoreOverflowError`).
   */
  semaphore(name: string, permits: number): Effect.Effect<Attached<"semaphore">, ClusterNameClashError | InvalidArgumentError>
  /** An event (a flag processes wait on) named `name`. */
  event(name: string): Effect.Effect<Attached<"event">, ClusterNameClashError | InvalidArgumentError>
  /** A barrier for `parties` parties named `name`. */
  barrier(name: string, parties: number): Effect.Effect<Attached<"barrier">, ClusterNameClashError | InvalidArgumentError>
  /**
   * A durable FIFO queue named `name` (`maxsize` 0 or omitted: unbounded).
   * Items cross as JSON. An item a process got and did not mark with
   * `taskDone` goes back to its place in the queue when that process dies,
   * loses its connection or closes this handle.
   */
  queue<A = unknown>(
    name: string,
    maxsize?: number
  ): Effect.Effect<Queue.Queue<A> & { readonly handle: Handle<"queue"> }, ClusterNameClashError | InvalidArgumentError>
  /** A publish/subscribe channel named `name`; messages cross as JSON, up to 16 MiB each. */
  pubsub<A = unknown>(
    name: string
  ): Effect.Effect<PubSub.PubSub<A> & { readonly handle: Handle<"pubsub"> }, ClusterNameClashError | InvalidArgumentError>
  /**
   * How many statements this handle has sent so far (diagnostics: a waiter
   * that sleeps sends none). Lease renewals (one `SELECT 1` per holding
   * connection every eighth of `partitionTimeout`, while something is held)
   * are not counted.
   */
  readonly statements: Effect.Effect<number>
}

const checkName = (operation: string, name: unknown): InvalidArgumentError | undefined =>
  typeof name === "string" && name.length > 0 && name.length <= 200
    ? undefined
    : new InvalidArgumentError({ operation, argument: "name", value: name, expected: "a string of 1 to 200 characters" })

/**
 * Connects to the PostgreSQL server at `options.url`, creating Weft's tables
 * in `options.schema` if they are missing. Fails with
 * `ClusterUnavailableError` when the server cannot be reached, and with
 * `InvalidArgumentError` for a malformed URL or schema name. Closing the scope
 * closes every connection: the server releases whatever this process held.
 *
 * @example
 * ```ts
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const cluster = yield* Cluster.connect({ url: process.env.DATABASE_URL! })
 *   const ready = yield* cluster.event("ready")
 *   yield* ready.wait
 * }))
 * ```
 */
export const connect = (options: Options): Effect.Effect<Cluster, ClusterUnavailableError | InvalidArgumentError, Scope.Scope> =>
  Effect.gen(function*() {
    const schema = options.schema ?? "weft"
    if (!isSchemaName(schema)) {
      return yield* new InvalidArgumentError({
        operation: "Cluster.connect",
        argument: "schema",
        value: schema,
        expected: "a lower-case SQL identifier (letters, digits, _)"
      })
    }
    let url: URL | undefined
    try {
      url = typeof options.url === "string" ? new URL(options.url) : undefined
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== "postgres:" && url.protocol !== "postgresql:")) {
      return yield* new InvalidArgumentError({
        operation: "Cluster.connect",
        argument: "url",
        value: typeof options.url === "string" ? options.url.replace(/:[^:@/]*@/, ":***@") : options.url,
        expected: "a postgres:// URL"
      })
    }
    const timeout = duration("Cluster.connect", "connectTimeout", options.connectTimeout ?? "10 seconds", { min: "positive", finite: true })
    if (timeout instanceof InvalidArgumentError) return yield* timeout
    const partition = duration("Cluster.connect", "partitionTimeout", options.partitionTimeout ?? "10 seconds", { min: "positive", finite: true })
    if (partition instanceof InvalidArgumentError) return yield* partition
    if (Duration.toMillis(partition) < minBound) {
      return yield* new InvalidArgumentError({
        operation: "Cluster.connect",
        argument: "partitionTimeout",
        value: options.partitionTimeout,
        expected: "a finite Duration.Input of at least 6 seconds (the server's keepalives tick in whole seconds)"
      })
    }
    const db = new Db(options.url, schema, Math.max(1, Math.ceil(Duration.toSeconds(timeout))), bounds(Math.floor(Duration.toMillis(partition))))
    yield* Effect.addFinalizer(() => db.close())
    yield* db.exec(db.quick, "SELECT 1").pipe(Effect.mapError((e) => db.unavailable(e)))
    yield* install(db)
    yield* db.prewarm(2)
    // The session: held for the handle's life, so others can tell it is gone.
    const sessionSql = db.connection({ onclose: () => void (session.lost = true) } as object)
    const session: Session = { id: 0, lost: false, sql: sessionSql, items: 0, lease: undefined }
    const started = yield* db.exec<{ id: string }>(
      sessionSql,
      `WITH n AS MATERIALIZED (SELECT nextval('${schema}.sessions') AS id)
       SELECT id::text AS id, pg_advisory_lock(${sessionKeySql("n.id")}) FROM n`
    ).pipe(Effect.mapError((e) => db.unavailable(e)))
    session.id = Number(started[0]!.id)
    const listener = new Listener(db)

    const made = new Map<string, unknown>()
    yield* Effect.addFinalizer(() => Effect.sync(() => made.forEach((prim) => Registry.unregister(prim as object))))
    const make = <K extends Kind>(
      kind: K,
      name: string,
      size: number | undefined,
      config: Record<string, number>,
      build: (entry: { id: number; channel: string }) => Interfaces[K]
    ): Effect.Effect<Attached<K>, ClusterNameClashError | InvalidArgumentError> =>
      Effect.suspend((): Effect.Effect<Attached<K>, ClusterNameClashError | InvalidArgumentError> => {
        const bad = checkName(`Cluster.${kind}`, name)
        if (bad !== undefined) return Effect.fail(bad)
        const cached = made.get(name) as (Attached<K> & { handle: Handle }) | undefined
        if (cached !== undefined && cached.handle.kind === kind && cached.handle.size === size) return Effect.succeed(cached)
        return Effect.map(register(db, name, kind, config), (entry) => {
          const handle: Handle<K> = { _tag: "ClusterHandle", kind, name, url: options.url, schema, ...(size !== undefined ? { size } : {}) }
          const prim = { ...build(entry), handle } as Attached<K>
          made.set(name, prim)
          // Listed for Inspect; PostgreSQL answers (pg_locks, pg_stat_activity, the names table).
          Registry.register(prim, { kind: `cluster.${kind}`, scope: "cluster", name }, describer(db, kind, entry.id, size))
          return prim
        })
      })

    const cluster: Cluster = {
      lock: (name) => make("lock", name, undefined, {}, (e) => makeLock(db, e.id, name)),
      rlock: (name) => make("rlock", name, undefined, {}, (e) => makeRLock(db, e.id, name)),
      semaphore: (name, permits) => {
        const bad = count("Cluster.semaphore", "permits", permits, 1) ??
          (permits > 65535
            ? new InvalidArgumentError({ operation: "Cluster.semaphore", argument: "permits", value: permits, expected: "an integer from 1 to 65535" })
            : undefined)
        if (bad !== undefined) return Effect.fail(bad)
        return make("semaphore", name, permits, { permits }, (e) => makeSemaphore(db, e.id, name, permits))
      },
      event: (name) => make("event", name, undefined, {}, (e) => makeEvent(db, listener, e)),
      barrier: (name, parties) => {
        const bad = count("Cluster.barrier", "parties", parties, 1)
        if (bad !== undefined) return Effect.fail(bad)
        return make("barrier", name, parties, { parties }, (e) => makeBarrier(db, listener, e, parties))
      },
      queue: <A>(name: string, maxsize = 0) => {
        const bad = checkMaxsize(maxsize)
        if (bad !== undefined) return Effect.fail(bad)
        return make("queue", name, maxsize, { maxsize }, (e) => makeQueue(db, listener, e, maxsize, session)) as unknown as Effect.Effect<
          Queue.Queue<A> & { readonly handle: Handle<"queue"> },
          ClusterNameClashError | InvalidArgumentError
        >
      },
      pubsub: <A>(name: string) =>
        make("pubsub", name, undefined, {}, (e) => makePubSub(db, listener, e)) as unknown as Effect.Effect<
          PubSub.PubSub<A> & { readonly handle: Handle<"pubsub"> },
          ClusterNameClashError | InvalidArgumentError
        >,
      statements: Effect.sync(() => db.queries)
    }
    return cluster
  })

/**
 * Whether `value` is a cluster handle (for code that receives one through
 * JSON, e.g. a pool passing task arguments).
 *
 * @example
 * ```ts
 * const arg = JSON.parse(process.argv[2]!)
 * if (Cluster.isHandle(arg)) yield* Cluster.attach(arg)
 * ```
 */
export const isHandle = (value: unknown): value is Handle =>
  typeof value === "object" && value !== null && (value as Handle)._tag === "ClusterHandle" &&
  typeof (value as Handle).kind === "string" && typeof (value as Handle).name === "string" &&
  typeof (value as Handle).url === "string"

/** One handle per (url, schema) for `attach`, open for the rest of the process's life. */
const attached = new Map<string, Promise<Cluster>>()

/**
 * The primitive a handle names, in this process: what a pool task receives
 * when a cluster primitive is passed as its argument. Connects once per
 * (url, schema) per process and keeps that connection until the process
 * ends (a process that exits or dies releases what it held, as always).
 *
 * @example
 * ```ts
 * const lock = yield* Cluster.attach(handle) // handle: Cluster.Handle<"lock">
 * yield* lock.withLock(Effect.log("held"))
 * ```
 */
export const attach = <K extends Kind>(
  handle: Handle<K>
): Effect.Effect<Attached<K>, ClusterUnavailableError | ClusterNameClashError | InvalidArgumentError> =>
  Effect.gen(function*() {
    if (!isHandle(handle)) {
      return yield* new InvalidArgumentError({ operation: "Cluster.attach", argument: "handle", value: handle, expected: "a cluster handle" })
    }
    const cacheKey = `${handle.url}\u0000${handle.schema}`
    let pending = attached.get(cacheKey)
    if (pending === undefined) {
      const scope = Effect.runSync(Scope.make())
      pending = Effect.runPromise(Scope.provide(scope)(Effect.exit(connect({ url: handle.url, schema: handle.schema })))).then((exit) => {
        if (exit._tag === "Success") return exit.value
        attached.delete(cacheKey)
        throw exit.cause
      })
      attached.set(cacheKey, pending)
    }
    const p = pending
    const cluster = yield* Effect.tryPromise({ try: () => p, catch: (cause) => cause }).pipe(
      Effect.catch((cause) => Effect.failCause(cause as any))
    ) as Effect.Effect<Cluster, ClusterUnavailableError | InvalidArgumentError>
    const c = cluster as unknown as Record<Kind, (name: string, size?: number) => Effect.Effect<unknown, any>>
    return (yield* (handle.size === undefined ? c[handle.kind](handle.name) : c[handle.kind](handle.name, handle.size))) as Attached<K>
  })

