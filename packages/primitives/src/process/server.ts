/**
 * The manager's server: hosts real fiber primitives of this package and runs
 * the operations its clients ask for.
 *
 * - Ownerless primitives (lock, semaphore, event): each call runs in its own
 *   fiber, interruptible only inside the primitive's operation; a `cancel`
 *   interrupts that fiber and the primitive's own interruption safety leaves
 *   nothing held. What a connection holds is booked per primitive (the lock's
 *   holder, each connection's permits), so a connection that drops gives it
 *   all back.
 * - The `rlock`, and the `RLock` under a `condition`, are owned by a fiber,
 *   so each (connection, client fiber, primitive) that owns one, or waits for
 *   it, gets a session: one server fiber that runs that client fiber's calls
 *   on that primitive in order and so is the owner on the server. A session
 *   ends as soon as it owns nothing; when its connection drops it stops
 *   waiting (a condition `wait` re-takes the lock first, as it always does)
 *   and releases every level it holds. A condition `wait` that was notified
 *   is acknowledged like a queue get: if the client drops before it saw the
 *   reply, or was interrupted meanwhile (`passOn`), the notification goes on
 *   to the next waiter, so a dead or interrupted client does not swallow it.
 * - A `queue` get that succeeds is booked as unacknowledged on its
 *   connection until the client acknowledges the reply (`ack`), which it does
 *   the moment the reply arrives. A client interrupted while its get was won
 *   sends `restore` instead, and a connection that drops gives back every item
 *   still unacknowledged: each item goes back to the place in the queue it
 *   was taken from (or to the next waiting getter), so no item is lost to a
 *   client that never saw it.
 *
 * @internal
 */
import { timingSafeEqual } from "node:crypto"
import type * as net from "node:net"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Cause from "effect/Cause"
import { NotOwnerError } from "../errors.ts"
import { type Conn, type Hosted, partyOf } from "./kind.ts"
import { encodeError, type Reply, readLines, send } from "./protocol.ts"
import type * as Registry from "../inspect/Registry.ts"
import * as Lockdep from "../Lockdep.ts"
import type { LockOrderError } from "../errors.ts"

/** @internal */
export const Local: Conn = {
  id: 0,
  socket: undefined,
  pid: process.pid,
  calls: new Map(),
  running: new Map(),
  sessions: new Map(),
  unacked: new Map()
}

/**
 * One operation of a hosted primitive on behalf of `conn`.
 *
 * @internal
 */
export const run = (hosted: Hosted, conn: Conn, op: string, args: ReadonlyArray<any>, fiber?: number): Effect.Effect<any, any> =>
  Object.hasOwn(hosted.def.ops, op)
    ? hosted.def.ops[op]!(hosted.state, args, conn, fiber)
    : Effect.die(new Error(`${hosted.def.kind} has no operation ${op}`))

/** The operations that may wait: a call of one of them in progress is a waiter (`Inspect`). */
const waits = new Set(["acquire", "acquireFor", "wait", "waitFor", "get", "getFor", "put", "putFor", "join", "take"])

/**
 * What `Inspect` shows of a hosted primitive: the holders from its kind's
 * books, and as waiters every call in progress on it that may wait, from
 * every connection (the manager's own process included), oldest first.
 *
 * @internal
 */
export const describe = (state: ServerState, hosted: Hosted): Registry.State => {
  const waiters: Array<Registry.Party> = []
  for (const conn of [Local, ...state.conns]) {
    for (const call of conn.calls.values()) {
      if (call.hosted === hosted && waits.has(call.op)) waiters.push(partyOf(conn, call.fiber, call.since))
    }
  }
  waiters.sort((a, b) => a.since - b.since)
  const books = hosted.def.describe?.(hosted.state) ?? { holders: [] }
  return { ...books, waiters }
}

/** The lock-order class of a hosted primitive: its name, or its kind and id. */
const classOf = (hosted: Hosted, id: number): string => hosted.name ?? `manager.${hosted.def.kind}#${id}`

/**
 * Lock-order checking on the manager: a client with checking on sends, with
 * each acquisition of a lock, the ids of the locks of this manager its fiber
 * holds (`l`), and where it is (`w`). The manager keeps the one order graph
 * of every process attached to it, so an inversion between two processes is
 * caught even if they never ran at the same time. The manager's own process
 * books its fibers' locks itself (Manager.ts) and is checked the same way.
 *
 * @internal
 */
export const checkOrder = (
  state: ServerState,
  conn: Conn,
  message: { readonly p: number; readonly f: number; readonly l?: unknown; readonly w?: unknown },
  hosted: Hosted
): LockOrderError | undefined => {
  if (!Array.isArray(message.l) || message.l.length === 0) return undefined
  const where = typeof message.w === "string" ? message.w : "unknown place"
  const held: Array<Lockdep.Held> = []
  for (const id of message.l) {
    const h = typeof id === "number" ? state.hosted.get(id) : undefined
    if (h !== undefined) held.push({ name: classOf(h, id as number), where })
  }
  const error = state.graph.record(held, classOf(hosted, message.p), where, `pid ${conn.pid ?? "?"} fiber #${message.f}`)
  return error === undefined ? undefined : Lockdep.reported(error, "process")
}

const toReply = (r: number, exit: Exit.Exit<unknown, unknown>): Reply => {
  if (Exit.isSuccess(exit)) return { t: "reply", r, x: "ok", v: exit.value }
  const failure = exit.cause.reasons.find(Cause.isFailReason)
  if (failure !== undefined) {
    const e = encodeError(failure.error)
    if (e !== undefined) return { t: "reply", r, x: "err", e }
  }
  if (exit.cause.reasons.every(Cause.isInterruptReason)) return { t: "reply", r, x: "int" }
  return { t: "reply", r, x: "die", m: Cause.pretty(exit.cause) }
}

/**
 * Who a session's server fiber stands for, so that a `NotOwnerError` names the
 * client's fiber (as the client sees it) rather than the server's stand-in.
 */
const standsFor = new Map<number, string>()

const relabel = (error: unknown): unknown => {
  if (!(error instanceof NotOwnerError)) return error
  const name = (label: string | undefined) => {
    const id = label === undefined ? undefined : /^fiber #(\d+)$/.exec(label)?.[1]
    return id === undefined ? label : standsFor.get(Number(id)) ?? label
  }
  return new NotOwnerError({ ...error, owner: name(error.owner), caller: name(error.caller)! })
}

interface Job {
  readonly r: number
  readonly quiet: boolean
  readonly op: string
  readonly args: ReadonlyArray<unknown>
  readonly fiber: number
}

/**
 * The server-side owner of an `rlock` (or of a `condition`'s lock) for one
 * client fiber.
 *
 * @internal
 */
export class Session {
  private readonly jobs: Array<Job | "drop"> = []
  private wakeUp: (() => void) | undefined = undefined
  private current: Job | undefined = undefined
  /** Interrupted once: from now on it runs calls uninterruptibly, and only while it owns the lock. */
  private tainted = false
  /** The request id of a notified condition wait whose reply the client has not acknowledged. */
  private unackedWake: number | undefined = undefined
  readonly fiber: Fiber.Fiber<void>
  readonly hosted: Hosted
  readonly conn: Conn
  readonly key: string

  constructor(hosted: Hosted, conn: Conn, key: string, onEnd: (session: Session) => void) {
    this.hosted = hosted
    this.conn = conn
    this.key = key
    this.fiber = Effect.runFork(this.loop())
    const id = this.fiber.id
    standsFor.set(id, `client #${conn.id} fiber #${key.split(":")[1]}`)
    this.fiber.addObserver(() => {
      standsFor.delete(id)
      onEnd(this)
    })
  }

  submit(job: Job | "drop"): void {
    this.jobs.push(job)
    const wakeUp = this.wakeUp
    this.wakeUp = undefined
    wakeUp?.()
  }

  cancel(r: number): void {
    if (this.current?.r === r && !this.tainted) {
      this.tainted = true
      this.fiber.interruptUnsafe()
    }
  }

  /** The client saw the reply to `r`. */
  ack(r: number): void {
    if (this.unackedWake === r) this.unackedWake = undefined
  }

  /** The connection is gone: stop waiting, then let go of every level held. */
  drop(): void {
    if (this.current !== undefined) this.cancel(this.current.r)
    this.submit("drop")
  }

  private readonly next: Effect.Effect<Job | "drop"> = Effect.callback<Job | "drop">((resume) => {
    const job = this.jobs.shift()
    if (job !== undefined) return resume(Effect.succeed(job))
    this.wakeUp = () => resume(Effect.sync(() => this.jobs.shift()!))
  })

  private loop(): Effect.Effect<void> {
    const self = this
    const owned = this.hosted.def.session!
    const state = this.hosted.state
    const rlock = owned.lock(state)
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        while (true) {
          const job = yield* self.next
          if (job === "drop") {
            // A notification the dead client never saw goes to the next waiter.
            if (self.unackedWake !== undefined) yield* Effect.ignore(owned.passOn(state))
            while (yield* rlock.isOwned) yield* Effect.ignore(rlock.release)
            return
          }
          self.current = job
          if (job.op === "passOn") self.unackedWake = undefined
          const op = run(self.hosted, self.conn, job.op, job.args, job.fiber)
          const exit = yield* Effect.exit(self.tainted ? op : restore(op))
          self.current = undefined
          self.conn.calls.delete(job.r)
          let reply = toReply(job.r, Exit.mapError(exit, relabel))
          if (Exit.isSuccess(exit) && owned.acked(job.op, exit.value)) {
            self.unackedWake = job.r
            reply = { ...reply, k: 1 } as Reply
          }
          if (self.conn.socket !== undefined && !job.quiet) send(self.conn.socket, reply)
          // Calls already queued behind this one (after a release sent
          // without a reply) are served first.
          if (self.jobs.length === 0 && !(yield* rlock.isOwned)) return
        }
      })
    )
  }
}

/** @internal */
export interface ServerState {
  readonly key: Buffer
  readonly hosted: Map<number, Hosted>
  /** The lock-order graph of every process attached (and of this one). */
  readonly graph: Lockdep.Graph
  readonly conns: Set<Conn>
  closing: boolean
}

let nextConnId = 1

/**
 * Serves one accepted socket.
 *
 * @internal
 */
export const accept = (state: ServerState, socket: net.Socket): void => {
  const conn: Conn = { id: nextConnId++, socket, calls: new Map(), running: new Map(), sessions: new Map(), unacked: new Map() }
  let authed = false
  socket.setNoDelay?.(true)
  const helloTimer = setTimeout(() => {
    if (!authed) socket.destroy()
  }, 10_000)
  helloTimer.unref?.()

  readLines(socket, (message) => {
    if (!authed) {
      const key = typeof message?.key === "string" ? Buffer.from(message.key, "utf8") : Buffer.alloc(0)
      if (message?.t !== "hello" || key.length !== state.key.length || !timingSafeEqual(key, state.key)) {
        send(socket, { t: "refused" })
        socket.end()
        return
      }
      authed = true
      if (typeof message.pid === "number") conn.pid = message.pid
      clearTimeout(helloTimer)
      if (state.closing) {
        send(socket, { t: "closed" })
        socket.end()
        return
      }
      state.conns.add(conn)
      send(socket, { t: "welcome" })
      return
    }
    if (message?.t === "call") return call(state, conn, message)
    if (message?.t === "ack") {
      conn.unacked.delete(message.r)
      for (const session of conn.sessions.values()) session.ack(message.r)
      return
    }
    if (message?.t === "cancel") {
      conn.running.get(message.r)?.interruptUnsafe()
      for (const session of conn.sessions.values()) session.cancel(message.r)
    }
  }, () => socket.destroy())

  socket.on("error", () => {})
  socket.on("close", () => {
    clearTimeout(helloTimer)
    if (authed) disconnect(state, conn)
  })
}

const call = (
  state: ServerState,
  conn: Conn,
  message: { r: number; p: number; o: string; a: ReadonlyArray<unknown>; f: number; n?: 1; l?: unknown; w?: unknown }
): void => {
  const { r } = message
  const quiet = message.n === 1
  const hosted = state.hosted.get(message.p)
  if (hosted === undefined || !Array.isArray(message.a)) {
    if (quiet) return
    send(conn.socket!, { t: "reply", r, x: "die", m: `the manager hosts no primitive #${message.p}` })
    return
  }
  const def = hosted.def
  if (message.o === "attach") {
    send(conn.socket!, { t: "reply", r, x: "ok", v: { ...def.info?.(hosted.state), kind: def.kind, name: hosted.name } })
    return
  }
  if (message.o === "inspect") {
    send(conn.socket!, { t: "reply", r, x: "ok", v: describe(state, hosted) })
    return
  }
  if (message.l !== undefined) {
    const error = checkOrder(state, conn, message, hosted)
    if (error !== undefined) {
      if (!quiet) send(conn.socket!, { t: "reply", r, x: "err", e: encodeError(error)! })
      return
    }
  }
  if (!quiet) conn.calls.set(r, { hosted, op: message.o, fiber: message.f, since: Date.now() })
  if (def.session !== undefined) {
    // Per primitive: a client fiber may own several rlocks at once.
    const key = `${message.p}:${message.f}`
    let session = conn.sessions.get(key)
    if (session === undefined) {
      session = new Session(hosted, conn, key, (ended) => {
        if (conn.sessions.get(ended.key) === ended) conn.sessions.delete(ended.key)
      })
      conn.sessions.set(key, session)
    }
    session.submit({ r, quiet, op: message.o, args: message.a, fiber: message.f })
    return
  }
  const acked = def.acked
  const takes = acked !== undefined && acked.ops.has(message.o)
  const fiber = Effect.runFork(
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.exit(restore(run(hosted, conn, message.o, message.a, message.f))), (exit) =>
        Effect.suspend(() => {
          if (quiet) return Effect.void
          conn.running.delete(r)
          conn.calls.delete(r)
          const reply = toReply(r, exit)
          if (takes && reply.x === "ok") {
            // The connection dropped while the get was being won: give it back.
            if (!state.conns.has(conn)) return acked.giveBack(hosted.state, reply.v)
            conn.unacked.set(r, { hosted, value: reply.v })
            send(conn.socket!, { ...reply, k: 1 })
            return Effect.void
          }
          send(conn.socket!, reply)
          return Effect.void
        }))
    )
  )
  if (!quiet && fiber.pollUnsafe() === undefined) conn.running.set(r, fiber)
}

/** Gives back everything `conn` held and drops its waiters. @internal */
export const disconnect = (state: ServerState, conn: Conn): void => {
  if (!state.conns.delete(conn)) return
  const waiting = [...conn.running.values()]
  conn.running.clear()
  conn.calls.clear()
  for (const session of conn.sessions.values()) session.drop()
  Effect.runFork(
    Effect.flatMap(Fiber.interruptAll(waiting), () =>
      Effect.sync(() => {
        // Items this client was sent but never acknowledged go back in place.
        const unacked = [...conn.unacked.values()]
        conn.unacked.clear()
        for (const { hosted, value } of unacked) Effect.runSync(hosted.def.acked!.giveBack(hosted.state, value))
        for (const hosted of state.hosted.values()) hosted.def.drop?.(hosted.state, conn)
      }))
  )
}
