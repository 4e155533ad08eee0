/**
 * The client end: one socket per (manager address, key) per process, shared
 * by every primitive attached through it. The socket does not keep the
 * process alive while nothing waits on it (`unref`), and does while a call is
 * in flight.
 *
 * Interrupting a call sends `cancel` and waits for the call's one reply: if
 * the server interrupted it, nothing is held; if the operation won the race,
 * the client undoes it (releases what it took, gives back the queue item it
 * got) before the interruption completes. A queue item that does reach its
 * caller is acknowledged (`ack`) as soon as its reply arrives, before the
 * caller's fiber resumes.
 *
 * @internal
 */
import * as net from "node:net"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as EffectQueue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { LockOrderError, ManagerAuthError, ManagerClosedError, ManagerUnavailableError } from "../errors.ts"
import * as Lockdep from "../Lockdep.ts"
import { lockdep } from "../Lockdep.ts"
import { Holdings, isChecked, isOrdered, type Order } from "./order.ts"
import { type Address, decodeError, describeAddress, readLines, type Reply, send, type ServerMessage } from "./protocol.ts"
import { subscriptionOf, type Subscription } from "../PubSub.ts"
import { kindOf } from "./kinds.ts"

interface Pending {
  onReply: (reply: Reply) => void
  onLost: (error: unknown) => void
}

/** @internal */
export class Connection {
  readonly socket: net.Socket
  readonly where: string
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private state: "connecting" | "ready" | "lost" = "connecting"
  private lost: "closed" | ManagerUnavailableError | ManagerAuthError | undefined = undefined
  private readonly onReady: Array<() => void> = []
  /** The buffers of this process's pubsub subscriptions, by subscription id. */
  private readonly subscriptions = new Map<number, EffectQueue.Queue<unknown>>()
  private nextSubscription = 1

  constructor(address: Address, key: string) {
    this.where = describeAddress(address)
    this.socket = "path" in address ? net.connect(address.path) : net.connect(address.port, address.host)
    this.socket.setNoDelay?.(true)
    this.socket.on("connect", () => send(this.socket, { t: "hello", key, pid: process.pid }))
    readLines(this.socket, (message: ServerMessage) => this.onMessage(message), () => this.socket.destroy())
    this.socket.on("error", (error: NodeJS.ErrnoException) => {
      this.fail(new ManagerUnavailableError({ address: this.where, reason: error.code ?? error.message }))
    })
    this.socket.on("close", () => {
      this.fail(new ManagerUnavailableError({ address: this.where, reason: "the connection closed" }))
    })
  }

  get isLost(): boolean {
    return this.state === "lost"
  }

  private onMessage(message: ServerMessage): void {
    switch (message.t) {
      case "welcome":
        this.state = "ready"
        this.refresh()
        return this.flushReady()
      case "refused":
        this.fail(new ManagerAuthError({ address: this.where }))
        return void this.socket.destroy()
      case "closed":
        this.fail("closed")
        return void this.socket.destroy()
      case "msg": {
        const buffer = this.subscriptions.get(message.s)
        if (buffer !== undefined) EffectQueue.offerUnsafe(buffer, message.v)
        return
      }
      case "reply": {
        const pending = this.pending.get(message.r)
        if (pending === undefined) return
        this.pending.delete(message.r)
        this.refresh()
        return pending.onReply(message)
      }
    }
  }

  private fail(reason: "closed" | ManagerUnavailableError | ManagerAuthError): void {
    if (this.state === "lost") return
    this.state = "lost"
    this.lost = reason
    this.flushReady()
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const p of pending) p.onLost(reason)
    const lost = Cause.die(reason === "closed" ? new ManagerClosedError({ address: this.where, operation: "pubsub.take" }) : reason)
    for (const buffer of this.subscriptions.values()) EffectQueue.failCauseUnsafe(buffer, lost)
  }

  private flushReady(): void {
    const waiting = this.onReady.splice(0)
    for (const f of waiting) f()
  }

  /** Keeps the process alive exactly while a call is in flight. */
  private refresh(): void {
    if (this.pending.size > 0 || this.subscriptions.size > 0) this.socket.ref()
    else this.socket.unref()
  }

  /** Waits for the handshake. */
  readonly ready: Effect.Effect<void, ManagerAuthError | ManagerUnavailableError> = Effect.callback((resume) => {
    const check = () => {
      if (this.state === "ready") return resume(Effect.void)
      const lost = this.lost
      if (lost instanceof ManagerAuthError || lost instanceof ManagerUnavailableError) return resume(Effect.fail(lost))
      return resume(Effect.fail(new ManagerUnavailableError({ address: this.where, reason: "the manager is closing" })))
    }
    if (this.state !== "connecting") return check()
    this.onReady.push(check)
  })

  private lostError(operation: string): unknown {
    return this.lost === "closed" || this.lost === undefined
      ? new ManagerClosedError({ address: this.where, operation })
      : this.lost
  }

  private lostDefect(operation: string, reason: unknown): Effect.Effect<never> {
    return Effect.die(reason === "closed" ? new ManagerClosedError({ address: this.where, operation }) : reason)
  }

  /** Sends one call; `onReply` / `onLost` get its outcome. Returns the request id. */
  private post(p: number, o: string, a: ReadonlyArray<unknown>, f: number, pending: Pending, order?: Order): number {
    const r = this.nextId++
    this.pending.set(r, pending)
    this.refresh()
    send(this.socket, order === undefined ? { t: "call", r, p, o, a, f } : { t: "call", r, p, o, a, f, l: order.held, w: order.where })
    return r
  }

  /** Lock-order checking: the locks of this manager each client fiber holds. */
  private readonly holding = new Holdings()

  /**
   * Runs operation `op` of primitive `id` (of `kind`) on the manager, on
   * behalf of the calling fiber.
   */
  call(kind: string, id: number, op: string, args: ReadonlyArray<unknown>): Effect.Effect<any, any> {
    const name = `${kind}.${op}`
    return Effect.withFiber((fiber) =>
      Effect.callback<any, any>((resume) => {
        if (this.state === "lost") return resume(Effect.die(this.lostError(name)))
        // One flag read when lock-order checking is off.
        const checked = lockdep.on && isOrdered(kind, op)
        const pending: Pending = {
          onReply: (reply) => {
            if (reply.x === "ok" && reply.k === 1) send(this.socket, { t: "ack", r })
            if (checked && reply.x === "ok") this.holding.book(fiber.id, id, op, reply.v)
            resume(this.decode(reply, name))
          },
          onLost: (reason) => resume(this.lostDefect(name, reason))
        }
        const sendsOrder = checked && isChecked(op)
        const r = this.post(id, op, args, fiber.id, pending, sendsOrder ? this.holding.orderFor(fiber) : undefined)
        // Interrupted: cancel on the server, wait for the one reply, undo a win.
        return Effect.callback<void>((done) => {
          if (!this.pending.has(r)) return done(Effect.void)
          pending.onLost = () => done(Effect.void)
          pending.onReply = (reply) => {
            const undo = reply.x === "ok" ? kindOf(kind)?.compensate?.(op, args, reply.v) : undefined
            if (undo === undefined) {
              if (reply.x === "ok" && reply.k === 1) send(this.socket, { t: "ack", r })
              return done(Effect.void)
            }
            this.post(id, undo.op, undo.args, fiber.id, { onReply: () => done(Effect.void), onLost: () => done(Effect.void) })
          }
          send(this.socket, { t: "cancel", r })
        })
      })
    )
  }

  /**
   * Sends an operation without waiting for its outcome (ordered after every
   * earlier call of this connection). For releases whose failure nobody
   * would see anyway: the one that ends a `withLock` or `withPermits`.
   */
  cast(id: number, op: string, args: ReadonlyArray<unknown>): Effect.Effect<void> {
    return Effect.withFiber((fiber) => {
      if (lockdep.on && op === "release") this.holding.book(fiber.id, id, op, undefined)
      if (this.state !== "lost") send(this.socket, { t: "call", r: 0, p: id, o: op, a: args, f: fiber.id, n: 1 })
      return Effect.void
    })
  }

  /**
   * Subscribes to pubsub `id`: the manager pushes every message published
   * from now on (`msg`) into a local buffer, so a take that is interrupted
   * loses nothing. The subscription ends with its scope.
   */
  subscribe(id: number): Effect.Effect<Subscription<unknown>, never, Scope.Scope> {
    const self = this
    return Effect.acquireRelease(
      Effect.gen(function*() {
        const s = self.nextSubscription++
        const buffer = yield* EffectQueue.unbounded<unknown>()
        self.subscriptions.set(s, buffer)
        self.refresh()
        yield* Effect.onInterrupt(Effect.orDie(self.call("pubsub", id, "subscribe", [s])), () => self.unsubscribe(id, s))
        return { s, buffer }
      }),
      ({ s }) => self.unsubscribe(id, s)
    ).pipe(Effect.map(({ buffer }) =>
      subscriptionOf("manager pubsub", EffectQueue.take(buffer), EffectQueue.clear(buffer))
    ))
  }

  private unsubscribe(id: number, s: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.subscriptions.delete(s)
      this.refresh()
      return this.cast(id, "unsubscribe", [s])
    })
  }

  private decode(reply: Reply, name: string): Effect.Effect<any, any> {
    switch (reply.x) {
      case "ok":
        return Effect.succeed(reply.v)
      case "err": {
        const error = decodeError(reply.e)
        // A lock-order inversion is a defect, as at every scope (the interfaces have no error channel for it).
        return error instanceof LockOrderError ? Effect.die(Lockdep.reported(error, "process")) : Effect.fail(error)
      }
      case "int":
        return Effect.die(new ManagerUnavailableError({ address: this.where, reason: `${name} was interrupted on the server` }))
      case "die":
        return Effect.die(new Error(`${name} failed on the manager at ${this.where}: ${reply.m}`))
    }
  }
}

const connections = new Map<string, Connection>()

/**
 * The shared, handshaken connection to a manager.
 *
 * @internal
 */
export const connect = (address: Address, key: string): Effect.Effect<Connection, ManagerAuthError | ManagerUnavailableError> =>
  Effect.suspend(() => {
    const cacheKey = `${describeAddress(address)}\u0000${key}`
    let connection = connections.get(cacheKey)
    if (connection === undefined || connection.isLost) {
      connection = new Connection(address, key)
      connections.set(cacheKey, connection)
    }
    const c = connection
    return Effect.as(
      Effect.tapError(c.ready, () => Effect.sync(() => connections.get(cacheKey) === c && connections.delete(cacheKey))),
      c
    )
  })

/**
 * Closes every connection of this process (their holdings are released by
 * the managers). @internal
 */
export const disconnectAll: Effect.Effect<void> = Effect.sync(() => {
  for (const c of connections.values()) c.socket.destroy()
  connections.clear()
})
