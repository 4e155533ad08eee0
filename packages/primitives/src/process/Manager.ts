/**
 * Weft's fiber primitives shared between processes — Python's
 * `multiprocessing.Manager`.
 *
 * `Manager.serve()` (scoped) hosts real fiber primitives of this package in
 * the calling process and serves them on a local socket: a Unix domain socket
 * in a fresh `0700` temp directory, or loopback TCP (`127.0.0.1`) where there
 * is none (Windows) or when asked. `manager.lock()`, `.rlock()`,
 * `.semaphore(n)`, `.event()`, `.condition()`, `.barrier(n)` and
 * `.queue(maxsize?)` return the same interfaces as `Lock`, `RLock`,
 * `Semaphore`, `Event`, `Condition`, `Barrier` and `Queue` (a `Queue.fifo`),
 * plus a `handle`: plain JSON (address, primitive id, key) to send to any
 * other process, which calls `Manager.attach(handle)` to get a working
 * primitive.
 *
 * Scopes: process (this module; also `FileLock`); fiber: `Lock`, `RLock`,
 * `Semaphore`, `Event`, `Condition`, `Barrier`, `Queue`; worker threads:
 * `SharedLock`, `SharedSemaphore`, `SharedEvent`, `SharedQueue`.
 *
 * What Effect gives: the primitives' building blocks and fibers to run each
 * remote call in. What Weft adds:
 *
 * - **Authentication**: every handle carries the manager's random key; a
 *   connection that does not present it is refused (`ManagerAuthError`), like
 *   `multiprocessing`'s `authkey`. The socket directory is `0700` as well.
 * - **Crash safety**: the manager books what each connection holds (the lock,
 *   semaphore permits, `rlock` levels). When a client process exits, is
 *   killed or disconnects, all of it is released and its waiters are dropped.
 * - **Interruption across processes**: interrupting a client's effect cancels
 *   the operation on the manager; if the operation won the race, the client
 *   undoes it before its interruption completes — nothing stays held.
 * - **Ownership**: an `rlock`, and a `condition`'s lock, are owned by
 *   (client connection, client fiber), as a local `RLock` is owned by a
 *   fiber.
 * - **No item lost**: a queue item taken for a client that is interrupted,
 *   or that disconnects or dies before the item reached it, goes back to the
 *   place in the queue it was taken from (see `Manager.queue`).
 * - **Shutdown**: closing the manager's scope makes every waiting (and every
 *   later) call of every client die with `ManagerClosedError`.
 *
 * Transport failures are defects on the attached primitives (their
 * interfaces, shared with the fiber twins, have no error channel for them):
 * `ManagerClosedError` or `ManagerUnavailableError` inside a `Die` cause.
 * `Manager.attach` itself fails with them as typed errors.
 *
 * Transport: plain `node:net` rather than `effect/socket`. Effect's
 * `SocketServer` implementation lives in `@effect/platform-node`, which this
 * package does not depend on, and the manager needs the raw socket's
 * `close` event (to release a dead client's holdings) and `ref`/`unref` (so
 * an idle attached primitive does not keep a process alive). `node:net`
 * behaves the same on Node, Bun and Deno for both Unix sockets and TCP.
 *
 * Limits: primitives live until the manager's scope closes (no reference
 * counting). Queue items cross as JSON (see `Manager.queue`); a condition's
 * `waitUntil` evaluates its predicate in the waiting process (see
 * `Manager.condition`). `withLock` / `withPermits` cost one round trip: the release
 * at the end is sent without waiting for its reply (the connection keeps
 * calls in order, and the manager releases on disconnect anyway).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Manager } from "@weft/primitives"
 *
 * // parent
 * const parent = Effect.scoped(Effect.gen(function*() {
 *   const manager = yield* Manager.serve()
 *   const lock = yield* manager.lock()
 *   // send `lock.handle` to a child process (argv, IPC, env) ...
 * }))
 *
 * // child
 * const child = (handle: Manager.Handle<"lock">) => Effect.gen(function*() {
 *   const lock = yield* Manager.attach(handle)
 *   yield* lock.withLock(Effect.log("one process at a time"))
 * })
 * ```
 *
 * @module
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { type InvalidArgumentError, type ManagerAuthError, ManagerUnavailableError } from "../errors.ts"
import * as Barrier from "../Barrier.ts"
import * as Condition from "../Condition.ts"
import * as Event from "../Event.ts"
import * as Lock from "../Lock.ts"
import * as PubSub from "../PubSub.ts"
import * as Queue from "../Queue.ts"
import * as RLock from "../RLock.ts"
import * as Semaphore from "../Semaphore.ts"
import { connect } from "./client.ts"
import { type Address, describeAddress, send } from "./protocol.ts"
import { remoteQueue } from "../internal/remoteQueue.ts"
import { accept, disconnect, type Hosted, type Kind, Local, run, type ServerState } from "./server.ts"
import {
  barrierView,
  type Cast,
  conditionView,
  eventView,
  type Invoke,
  lockView,
  pubsubView,
  queueView,
  rlockView,
  semaphoreView
} from "./views.ts"

/**
 * Where a manager listens: a Unix socket path, or a loopback TCP port.
 *
 * @example
 * ```ts
 * declare const manager: Manager.Manager
 * const where: Manager.Address = manager.address // { path: "/tmp/weft-manager-x/manager.sock" }
 * ```
 */
export type { Address } from "./protocol.ts"

/**
 * The kinds of primitive a manager hosts: `"lock" | "rlock" | "semaphore" |
 * "event" | "condition" | "barrier" | "queue" | "pubsub"`.
 *
 * @example
 * ```ts
 * declare const handle: Manager.Handle
 * const kind: Manager.Kind = handle.kind
 * ```
 */
export type { Kind } from "./server.ts"

/**
 * A serializable reference to a primitive hosted by a manager: plain JSON,
 * safe to pass through argv, IPC, environment variables or a file. It
 * carries the manager's key, so treat it as a secret.
 *
 * @example
 * ```ts
 * import * as child_process from "node:child_process"
 * import { Manager } from "@weft/primitives"
 *
 * declare const lock: Manager.Managed<"lock">
 * const handle: Manager.Handle<"lock"> = lock.handle
 * child_process.fork("worker.ts", [JSON.stringify(handle)])
 * ```
 */
export interface Handle<K extends Kind = Kind> {
  readonly _tag: "ManagerHandle"
  readonly kind: K
  readonly address: Address
  readonly id: number
  readonly key: string
}

/**
 * The interface each kind of hosted primitive has. An attached queue's items
 * are `unknown` (they are whatever JSON the other processes put); narrow the
 * type where you know it.
 *
 * @example
 * ```ts
 * type L = Manager.Interfaces["lock"] // Lock.Lock
 * type C = Manager.Interfaces["condition"] // Condition.Condition
 * declare const handle: Manager.Handle<"queue">
 * const jobs = (yield* Manager.attach(handle)) as Queue.Queue<{ url: string }>
 * ```
 */
export interface Interfaces {
  readonly lock: Lock.Lock
  readonly rlock: RLock.RLock
  readonly semaphore: Semaphore.Semaphore
  readonly event: Event.Event
  readonly condition: Condition.Condition
  readonly barrier: Barrier.Barrier
  readonly queue: Queue.Queue<unknown>
  readonly pubsub: PubSub.PubSub<unknown>
}

/**
 * A hosted primitive: its fiber interface plus the `handle` to attach it
 * elsewhere.
 *
 * @example
 * ```ts
 * declare const manager: Manager.Manager
 * const lock: Manager.Managed<"lock"> = yield* manager.lock()
 * yield* lock.withLock(Effect.log("held"))
 * lock.handle.kind // "lock"
 * ```
 */
export type Managed<K extends Kind> = Interfaces[K] & { readonly handle: Handle<K> }

/**
 * Options of `Manager.serve`.
 *
 * @example
 * ```ts
 * const manager = yield* Manager.serve({ transport: "tcp" }) // 127.0.0.1, a free port
 * ```
 */
export interface Options {
  /**
   * `"unix"` (default where available): a Unix domain socket at `path`, or in
   * a new `0700` temp directory. `"tcp"` (default on Windows): loopback TCP.
   */
  readonly transport?: "unix" | "tcp"
  /** The Unix socket's path (it must not exist). */
  readonly path?: string
  /** The TCP port (default 0: any free port). */
  readonly port?: number
}

/**
 * A running manager. Everything it hosts lives until its scope closes.
 *
 * @example
 * ```ts
 * const manager: Manager.Manager = yield* Manager.serve()
 * const permits = yield* manager.semaphore(3)
 * ```
 */
export interface Manager {
  readonly address: Address
  /** A hosted `Lock`. */
  lock(): Effect.Effect<Managed<"lock">>
  /** A hosted `RLock`, owned by (client connection, client fiber). */
  rlock(): Effect.Effect<Managed<"rlock">>
  /** A hosted `Semaphore` with `n` permits (`bounded: true`: `Semaphore.bounded`). */
  semaphore(n: number, options?: { readonly bounded?: boolean }): Effect.Effect<Managed<"semaphore">, InvalidArgumentError>
  /** A hosted `Event`. */
  event(): Effect.Effect<Managed<"event">>
  /**
   * A hosted `Condition` over a hosted `RLock` the manager keeps next to it
   * (Python's `manager.Condition()`). The lock is owned by (client
   * connection, client fiber), exactly like `rlock()`: `wait`, `waitFor`,
   * `notify` and `notifyAll` need the calling fiber to hold it (else
   * `NotHeldError`).
   *
   * - `wait` / `waitFor` run on the manager; interrupting one there still
   *   re-takes the lock before the client's effect ends, as at fiber scope:
   *   the interrupted client fiber holds the lock again (at the same depth)
   *   when its interruption completes, so a `withLock` around it releases a
   *   lock that is held. A notification that reached a waiter interrupted
   *   before its reply reached it goes on to the next waiter, and so does one
   *   whose reply never reached a client that died. (As at fiber scope, a
   *   waiter interrupted while it re-takes the lock after its notification
   *   has used that notification.)
   * - `waitUntil(predicate, timeout?)`: a function cannot cross processes, so
   *   this is Python's `wait_for` loop in the calling process: the predicate
   *   is evaluated there, under the lock, between remote `wait`s (`waitFor`s
   *   with the time left, measured with Effect's `Clock`). It costs one round
   *   trip per wake-up, plus one at the start to check that the lock is held.
   * - A client that dies or disconnects while waiting stops waiting (taking
   *   the lock back first, as any interrupted wait does) and then releases
   *   every level of the lock it held; so does one that dies holding it.
   *
   * In the manager's own process, the returned condition is the fiber
   * `Condition` itself (its fibers own the lock directly).
   *
   * @example
   * ```ts
   * import * as fs from "node:fs"
   *
   * // manager's process
   * declare const manager: Manager.Manager
   * const ready = yield* manager.condition()
   * // send `ready.handle` to the workers; then, after changing shared state:
   * yield* ready.withLock(ready.notifyAll)
   *
   * // a worker process
   * declare const handle: Manager.Handle<"condition">
   * declare const flagFile: string
   * const cond = yield* Manager.attach(handle)
   * yield* cond.withLock(cond.waitUntil(() => fs.existsSync(flagFile), "10 seconds"))
   * ```
   */
  condition(): Effect.Effect<Managed<"condition">>
  /**
   * A hosted `Barrier` for `parties` parties (an `action`, if any, runs in
   * the manager's process). A client that dies or is interrupted while
   * waiting breaks it, as a fiber does at fiber scope.
   */
  barrier(parties: number, action?: Effect.Effect<unknown, unknown>): Effect.Effect<Managed<"barrier">, InvalidArgumentError>
  /**
   * A hosted FIFO `Queue` (`Queue.fifo(maxsize)`: 0 or omitted means
   * unbounded; a bad `maxsize` fails with `InvalidArgumentError`), Python's
   * `manager.Queue()`, with every operation of the fiber queue: blocking and
   * timed puts and gets, `taskDone` / `join`, `shutdown`.
   *
   * Items cross as JSON, in every process including the manager's own: a
   * getter gets what `JSON.parse` gives (a `Date` arrives as a string, an
   * `undefined` field disappears). A value JSON cannot carry (a function, a
   * `bigint`, a cycle, `undefined` itself) is refused before it is sent:
   * the `put` dies with an `InvalidArgumentError` defect (the interface's
   * `put` has no error for it, as with `SharedQueue`; recover with
   * `Effect.catchDefect`).
   *
   * No item is lost to a getter that does not get it:
   * - a get interrupted while it waits on the manager takes nothing;
   * - a get interrupted after the manager took the item for it (the race
   *   was lost on the wire) gives the item back before its interruption
   *   completes: it returns to the exact place it was taken from (ahead of
   *   later items), or to the next waiting getter;
   * - a client that disconnects or dies gives back every item the manager
   *   sent it and it did not acknowledge (it acknowledges a reply as it
   *   arrives, before the getter resumes). An item whose reply did arrive
   *   belongs to that process, as an item taken from any queue does.
   *
   * An item given back can make the queue hold one more item than `maxsize`
   * for a moment (its slot went to a putter meanwhile). A `put` interrupted
   * after the manager accepted its item leaves it put (the other direction,
   * an interrupted waiting `put`, puts nothing).
   *
   * @example
   * ```ts
   * // manager's process: hand `jobs.handle` to the worker processes
   * declare const manager: Manager.Manager
   * const jobs = yield* manager.queue<{ url: string } | null>(100)
   * yield* jobs.put({ url: "https://example.com" })
   * yield* jobs.put(null) // one sentinel per worker
   *
   * // a worker process
   * declare const handle: Manager.Handle<"queue">
   * const queue = (yield* Manager.attach(handle)) as Queue.Queue<{ url: string } | null>
   * let job = yield* queue.get
   * while (job !== null) {
   *   yield* Effect.log(job.url)
   *   yield* queue.taskDone
   *   job = yield* queue.get
   * }
   * ```
   */
  queue<A = unknown>(maxsize?: number): Effect.Effect<Queue.Queue<A> & { readonly handle: Handle<"queue"> }, InvalidArgumentError>
  /**
   * A hosted `PubSub` (unbounded): every subscriber, in any process, gets
   * every message published after it subscribed, in publish order. The
   * manager pushes each message to each subscribed process as it is
   * published, into a buffer in that process, so a `take` that is interrupted
   * loses nothing. Messages cross as JSON, as queue items do (a value JSON
   * cannot carry makes `publish` die with an `InvalidArgumentError`). A
   * process that disconnects stops receiving; messages published meanwhile
   * are not kept for it.
   *
   * @example
   * ```ts
   * // manager's process: hand `room.handle` to the other processes
   * declare const manager: Manager.Manager
   * const room = yield* manager.pubsub<string>()
   * yield* room.publish("hello")
   *
   * // any process
   * declare const handle: Manager.Handle<"pubsub">
   * const chat = (yield* Manager.attach(handle)) as PubSub.PubSub<string>
   * const sub = yield* chat.subscribe // scoped
   * const line = yield* sub.take
   * ```
   */
  pubsub<A = unknown>(): Effect.Effect<PubSub.PubSub<A> & { readonly handle: Handle<"pubsub"> }>
}

interface ViewInfo {
  readonly parties?: number
  readonly maxsize?: number
  /** A pubsub's `subscribe`: the manager's hub in its own process, the connection's buffer elsewhere. */
  readonly subscribe?: Effect.Effect<PubSub.Subscription<unknown>, never, Scope.Scope>
}

const view = (kind: Kind, invoke: Invoke, cast?: Cast, info: ViewInfo = {}): Interfaces[Kind] => {
  switch (kind) {
    case "pubsub":
      return pubsubView(invoke, info.subscribe!)
    case "barrier":
      return barrierView(invoke, info.parties ?? 0)
    case "condition":
      return conditionView(invoke, cast)
    case "queue":
      return queueView(invoke, info.maxsize ?? 0)
    case "lock":
      return lockView(invoke, cast)
    case "rlock":
      return rlockView(invoke, cast)
    case "semaphore":
      return semaphoreView(invoke, cast)
    case "event":
      return eventView(invoke)
  }
}

const listen = (options: Options): Effect.Effect<{ server: net.Server; address: Address; dir: string | undefined }, ManagerUnavailableError> =>
  Effect.callback((resume) => {
    const transport = options.transport ?? (process.platform === "win32" ? "tcp" : "unix")
    const server = net.createServer()
    let dir: string | undefined
    let socketPath: string | undefined
    if (transport === "unix") {
      if (options.path !== undefined) {
        socketPath = options.path
      } else {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-manager-"))
        socketPath = path.join(dir, "manager.sock")
      }
    }
    const where = socketPath ?? `127.0.0.1:${options.port ?? 0}`
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
      resume(Effect.fail(new ManagerUnavailableError({ address: where, reason: `cannot listen: ${error.code ?? error.message}` })))
    })
    const onListening = () => {
      const bound = server.address()
      const address: Address = socketPath !== undefined
        ? { path: socketPath }
        : { host: "127.0.0.1", port: typeof bound === "object" && bound !== null ? bound.port : 0 }
      resume(Effect.succeed({ server, address, dir }))
    }
    if (socketPath !== undefined) server.listen(socketPath, onListening)
    else server.listen(options.port ?? 0, "127.0.0.1", onListening)
  })

const shutdown = (
  state: ServerState,
  server: net.Server,
  dir: string | undefined,
  address: Address
): Effect.Effect<void> =>
  Effect.gen(function*() {
    state.closing = true
    yield* Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      for (const conn of state.conns) {
        send(conn.socket!, { t: "closed" })
        conn.socket!.end()
      }
    }).pipe(Effect.timeoutOption("1 second"))
    const fibers: Array<Fiber.Fiber<unknown>> = []
    for (const conn of [...state.conns]) {
      fibers.push(...conn.running.values(), ...[...conn.sessions.values()].map((s) => s.fiber))
      conn.socket!.destroy()
      disconnect(state, conn)
    }
    yield* Fiber.interruptAll(fibers)
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
    else if ("path" in address) fs.rmSync(address.path, { force: true })
  })

/**
 * Starts a manager in this process, listening until the scope closes. Closing
 * the scope makes every waiting client call die with `ManagerClosedError`
 * and removes the socket.
 *
 * @example
 * ```ts
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const manager = yield* Manager.serve()
 *   const done = yield* manager.event()
 *   // hand `done.handle` to workers; they `Manager.attach` it and `wait`
 *   yield* done.set
 * }))
 * ```
 */
export const serve = (options: Options = {}): Effect.Effect<Manager, ManagerUnavailableError, Scope.Scope> =>
  Effect.gen(function*() {
    const key = randomBytes(24).toString("base64url")
    const state: ServerState = { key: Buffer.from(key, "utf8"), hosted: new Map(), conns: new Set(), closing: false }
    const { address, server } = yield* Effect.acquireRelease(
      listen(options),
      ({ address, dir, server }) => shutdown(state, server, dir, address)
    )
    server.on("connection", (socket) => accept(state, socket))
    let nextId = 1
    const host = <K extends Kind>(hosted: Hosted & { kind: K }): Managed<K> => {
      const id = nextId++
      state.hosted.set(id, hosted)
      const handle: Handle<K> = { _tag: "ManagerHandle", kind: hosted.kind, address, id, key }
      // In the manager's own process an rlock (or a condition) runs in the
      // calling fiber, so it is the real one; the others go through the same
      // bookkeeping as remote calls (a queue: through the same JSON copy).
      const local = hosted.kind === "rlock" || hosted.kind === "condition" || hosted.kind === "event" ||
          hosted.kind === "barrier"
        ? hosted.prim
        : view(
          hosted.kind,
          (op, args) => Effect.suspend(() => run(hosted, Local, op, args)) as Effect.Effect<any>,
          undefined,
          (hosted as Hosted).kind === "queue"
            ? { maxsize: (hosted.prim as Queue.Queue<unknown>).maxsize }
            : hosted.kind === "pubsub"
            ? { subscribe: (hosted.prim as PubSub.PubSub<unknown>).subscribe }
            : {}
        )
      return withHandle(local as Interfaces[K], handle)
    }
    return {
      address,
      lock: () => Effect.map(Lock.make, (prim) => host({ kind: "lock", prim, holder: undefined })),
      rlock: () => Effect.map(RLock.make, (prim) => host({ kind: "rlock", prim })),
      semaphore: (n, opts) =>
        Effect.map(
          opts?.bounded ? Semaphore.bounded(n) : Semaphore.make(n),
          (prim) => host({ kind: "semaphore", prim, held: new Map() })
        ),
      event: () => Effect.map(Event.make, (prim) => host({ kind: "event", prim })),
      condition: () =>
        Effect.flatMap(RLock.make, (lock) =>
          Effect.map(Effect.orDie(Condition.make(lock)), (prim) => host({ kind: "condition", prim, lock }))),
      barrier: (parties, action) =>
        Effect.map(Barrier.make(parties, action), (prim) => host({ kind: "barrier", prim })),
      queue: <A>(maxsize?: number) =>
        Effect.map(
          Queue.fifo<unknown>(maxsize),
          (prim) =>
            host({ kind: "queue", prim, remote: remoteQueue(prim) }) as unknown as
              & Queue.Queue<A>
              & { readonly handle: Handle<"queue"> }
        ),
      pubsub: <A>() =>
        Effect.map(
          PubSub.make<unknown>(),
          (prim) =>
            host({ kind: "pubsub", prim, remote: new Map() }) as unknown as
              & PubSub.PubSub<A>
              & { readonly handle: Handle<"pubsub"> }
        )
    } satisfies Manager
  })

/** Adds `handle` to a primitive without copying it (its methods keep their `this`). */
const withHandle = <T extends object, K extends Kind>(prim: T, handle: Handle<K>): T & { readonly handle: Handle<K> } =>
  new Proxy(prim, {
    get: (target, property) => {
      if (property === "handle") return handle
      const value = Reflect.get(target, property, target)
      return typeof value === "function" ? value.bind(target) : value
    },
    has: (target, property) => property === "handle" || Reflect.has(target, property)
  }) as T & { readonly handle: Handle<K> }

const isHandleValue = (value: unknown): value is Handle =>
  typeof value === "object" && value !== null && (value as Handle)._tag === "ManagerHandle" &&
  typeof (value as Handle).id === "number" && typeof (value as Handle).key === "string" &&
  typeof (value as Handle).address === "object"

/**
 * Whether `value` is a manager handle (for code that receives one through
 * JSON, e.g. a pool passing task arguments).
 *
 * @example
 * ```ts
 * const arg = JSON.parse(process.argv[2]!)
 * if (Manager.isHandle(arg)) yield* Manager.attach(arg)
 * ```
 */
export const isHandle: (value: unknown) => value is Handle = isHandleValue

/**
 * Attaches to a hosted primitive from any process (including the manager's
 * own) and returns its fiber interface. The process's connection to that
 * manager is shared by all its attached primitives and does not keep the
 * process alive while no call is in flight. Fails `ManagerAuthError` when
 * the manager refuses the handle's key, `ManagerUnavailableError` when
 * nothing answers at its address or it does not host that primitive.
 *
 * @example
 * ```ts
 * const handle = JSON.parse(process.argv[2]!) as Manager.Handle<"semaphore">
 * const permits = yield* Manager.attach(handle)
 * yield* permits.withPermits(1)(Effect.log("at most n processes here"))
 * ```
 */
export const attach = <K extends Kind>(
  handle: Handle<K>
): Effect.Effect<Managed<K>, ManagerAuthError | ManagerUnavailableError> =>
  Effect.gen(function*() {
    if (!isHandleValue(handle)) {
      return yield* new ManagerUnavailableError({ address: "?", reason: `not a manager handle: ${JSON.stringify(handle)}` })
    }
    const connection = yield* connect(handle.address, handle.key)
    const info: { kind: Kind; parties?: number; maxsize?: number } = yield* connection.call(handle.kind, handle.id, "attach", []).pipe(
      Effect.catchDefect(() =>
        Effect.fail(
          new ManagerUnavailableError({
            address: describeAddress(handle.address),
            reason: `it hosts no ${handle.kind} #${handle.id}`
          })
        )
      )
    )
    const kind = info.kind
    if (kind !== handle.kind) {
      return yield* new ManagerUnavailableError({
        address: describeAddress(handle.address),
        reason: `#${handle.id} is a ${kind}, not a ${handle.kind}`
      })
    }
    const primitive = view(
      handle.kind,
      (op, args) => connection.call(handle.kind, handle.id, op, args) as Effect.Effect<any>,
      (op, args) => connection.cast(handle.id, op, args),
      kind === "pubsub" ? { ...info, subscribe: connection.subscribe(handle.id) } : info
    )
    return { ...primitive, handle } as unknown as Managed<K>
  })
