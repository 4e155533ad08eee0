/**
 * Weft's fiber primitives shared between processes — Python's
 * `multiprocessing.Manager`.
 *
 * `Manager.serve()` (scoped) hosts real fiber primitives of this package in
 * the calling process and serves them on a local socket: a Unix domain socket
 * in a fresh `0700` temp directory, or loopback TCP (`127.0.0.1`) where there
 * is none (Windows) or when asked. `manager.lock()`, `.rlock()`,
 * `.semaphore(n)`, `.event()`, `.condition()`, `.barrier(n)`,
 * `.queue(maxsize?)` and `.pubsub()` return the same interfaces as `Lock`,
 * `RLock`, `Semaphore`, `Event`, `Condition`, `Barrier`, `Queue` (a
 * `Queue.fifo`) and `PubSub`, plus a `handle`: plain JSON (address, primitive id, key) to send to any
 * other process, which calls `Manager.attach(handle)` to get a working
 * primitive.
 *
 * Scopes: process (this module; also `FileLock`); fiber: `Lock`, `RLock`,
 * `Semaphore`, `Event`, `Condition`, `Barrier`, `Queue`, `PubSub`; worker threads:
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
import { InvalidArgumentError, type ManagerAuthError, ManagerUnavailableError } from "../errors.ts"
import * as Registry from "../inspect/Registry.ts"
import { Graph, lockdep } from "../Lockdep.ts"
import { connect } from "./client.ts"
import type { Hosted } from "./kind.ts"
import { type Factories, type Interfaces, type Kind, kindOf, kinds } from "./kinds.ts"
import { type Address, describeAddress, send } from "./protocol.ts"
import { accept, checkOrder, describe, disconnect, Local, run, type ServerState } from "./server.ts"
import { Holdings, isChecked, isOrdered } from "./order.ts"

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
export type { Kind } from "./kinds.ts"

/**
 * The interface of each kind: the fiber primitive's (a `queue` is a FIFO
 * `Queue`).
 *
 * @example
 * ```ts
 * const lockLike: Manager.Interfaces["lock"] = yield* Lock.make
 * ```
 */
export type { Interfaces } from "./kinds.ts"

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
 * The option every factory of a manager takes: the name `Inspect.snapshot`
 * lists the primitive under (in the manager's process and in every process
 * that attaches it), and its class for lock-order checking. Without one it
 * is listed as `manager.<kind>@<place made>`.
 *
 * @example
 * ```ts
 * declare const manager: Manager.Manager
 * const accounts = yield* manager.lock({ name: "accounts" })
 * const gpus = yield* manager.semaphore(2, { name: "gpus" })
 * ```
 */
export interface Named {
  readonly name?: string | undefined
}

/** The `name` of a factory's options: the last plain-object argument (a barrier's action is an Effect, not one). */
const nameIn = (operation: string, args: ReadonlyArray<unknown>): string | undefined | InvalidArgumentError => {
  const options = args.findLast((a) => typeof a === "object" && a !== null && Object.getPrototypeOf(a) === Object.prototype)
  const name = (options as Named | undefined)?.name
  if (name === undefined || (typeof name === "string" && name.length > 0 && name.length <= 200)) return name
  return new InvalidArgumentError({ operation, argument: "name", value: name, expected: "a string of 1 to 200 characters" })
}

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
export interface Manager extends Factories {
  readonly address: Address
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
    const state: ServerState = { key: Buffer.from(key, "utf8"), hosted: new Map(), graph: new Graph(), conns: new Set(), closing: false }
    const { address, server } = yield* Effect.acquireRelease(
      listen(options),
      ({ address, dir, server }) => shutdown(state, server, dir, address)
    )
    server.on("connection", (socket) => accept(state, socket))
    let nextId = 1
    // Listed for Inspect while the manager runs: what it hosts, as its books tell.
    yield* Effect.addFinalizer(() => Effect.sync(() => state.hosted.forEach((hosted) => Registry.unregister(hosted))))
    let nextLocalCall = -1
    const holdings = new Holdings()
    const host = <K extends Kind>(kind: K) => (...args: ReadonlyArray<any>): Effect.Effect<Managed<K>, InvalidArgumentError> => {
      const def = kinds[kind] as Hosted["def"]
      const name = nameIn(`manager.${kind}`, args)
      if (name instanceof InvalidArgumentError) return Effect.fail(name)
      return Effect.map(def.host(...args), (hostedState) => {
        const id = nextId++
        const hosted: Hosted = { def, state: hostedState, name }
        state.hosted.set(id, hosted)
        // The fiber primitive inside is the manager's business: listed once, as what it hosts.
        Registry.unregister(hostedState)
        for (const part of Object.values(hostedState)) if (typeof part === "object" && part !== null) Registry.unregister(part)
        Registry.register(hosted, { kind: `manager.${kind}`, scope: "process", name }, () => describe(state, hosted))
        const handle: Handle<K> = { _tag: "ManagerHandle", kind, address, id, key }
        // In the manager's own process, calls go through the same books as
        // remote ones (or are the real primitive where the kind says so);
        // each is booked as a call in progress while it runs (a waiter, to Inspect).
        const local = def.local(hostedState, (op, args) =>
          Effect.withFiber((fiber) => {
            // Lock-order checking: this process's fibers against the manager's graph, as clients are.
            const checked = lockdep.on && isOrdered(kind, op)
            if (checked && isChecked(op)) {
              const order = holdings.orderFor(fiber)
              const error = checkOrder(state, Local, { p: id, f: fiber.id, l: order.held, w: order.where }, hosted)
              if (error !== undefined) return Effect.die(error)
            }
            const r = nextLocalCall--
            Local.calls.set(r, { hosted, op, fiber: fiber.id, since: Date.now() })
            const call = run(hosted, Local, op, args, fiber.id)
            return Effect.ensuring(
              checked ? Effect.tap(call, (value) => Effect.sync(() => holdings.book(fiber.id, id, op, value))) : call,
              Effect.sync(() => Local.calls.delete(r))
            )
          }) as Effect.Effect<any>)
        return withHandle(local as Interfaces[K], handle)
      })
    }
    const factories = Object.fromEntries(Object.keys(kinds).map((kind) => [kind, host(kind as Kind)]))
    return { address, ...factories } as unknown as Manager
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
    const info: { readonly kind: Kind } = yield* connection.call(handle.kind, handle.id, "attach", []).pipe(
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
    const def = kindOf(kind)
    if (kind !== handle.kind || def === undefined) {
      return yield* new ManagerUnavailableError({
        address: describeAddress(handle.address),
        reason: `#${handle.id} is a ${kind}, not a ${handle.kind}`
      })
    }
    const primitive = def.view({
      invoke: (op, args) => connection.call(handle.kind, handle.id, op, args) as Effect.Effect<any>,
      cast: (op, args) => connection.cast(handle.id, op, args),
      subscribe: connection.subscribe(handle.id)
    }, info)
    const attached = { ...primitive, handle } as unknown as Managed<K>
    // Listed here too; the manager answers for it (who holds, who waits, since when).
    const given = (info as { readonly name?: unknown }).name
    const name = typeof given === "string" ? given : undefined
    Registry.register(attached, { kind: `manager.${kind}`, scope: "process", name }, () =>
      Effect.runPromise(connection.call(handle.kind, handle.id, "inspect", [])))
    return attached
  })
