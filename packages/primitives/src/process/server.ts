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
import type * as Barrier from "../Barrier.ts"
import type * as Condition from "../Condition.ts"
import { NotOwnerError } from "../errors.ts"
import type * as Event from "../Event.ts"
import type * as Lock from "../Lock.ts"
import type * as PubSub from "../PubSub.ts"
import type * as Queue from "../Queue.ts"
import type * as RLock from "../RLock.ts"
import type * as Semaphore from "../Semaphore.ts"
import type { RemoteQueue, Taken } from "../internal/remoteQueue.ts"
import { encodeError, type Reply, readLines, send } from "./protocol.ts"

/** @internal */
export type Kind = "lock" | "rlock" | "semaphore" | "event" | "condition" | "barrier" | "queue" | "pubsub"

/** The queue operations that take an item (and are acknowledged). @internal */
export const isTake = (op: string): boolean => op === "get" || op === "getNowait" || op === "getFor"

type QueueHosted = Extract<Hosted, { kind: "queue" }>

/** A connected client, or `Local` for the manager's own process. @internal */
export interface Conn {
  readonly id: number
  readonly socket: net.Socket | undefined
  readonly running: Map<number, Fiber.Fiber<void>>
  /** Keyed by `${primitive id}:${client fiber id}`. */
  readonly sessions: Map<string, Session>
  /** Queue items replied to a get and not yet acknowledged, by request id. */
  readonly unacked: Map<number, { readonly hosted: QueueHosted; readonly item: unknown; readonly seq: number }>
}

/** @internal */
export const Local: Conn = { id: 0, socket: undefined, running: new Map(), sessions: new Map(), unacked: new Map() }

/** @internal */
export type Hosted =
  | { readonly kind: "lock"; readonly prim: Lock.Lock; holder: Conn | undefined }
  | { readonly kind: "rlock"; readonly prim: RLock.RLock }
  | { readonly kind: "semaphore"; readonly prim: Semaphore.Semaphore; readonly held: Map<Conn, number> }
  | { readonly kind: "event"; readonly prim: Event.Event }
  | { readonly kind: "condition"; readonly prim: Condition.Condition; readonly lock: RLock.RLock }
  | { readonly kind: "barrier"; readonly prim: Barrier.Barrier }
  | { readonly kind: "queue"; readonly prim: Queue.Queue<unknown>; readonly remote: RemoteQueue }
  | {
    readonly kind: "pubsub"
    /** The local hub: the manager's own process subscribes to it directly. */
    readonly prim: PubSub.PubSub<unknown>
    /** Remote subscriptions, keyed by `${conn id}:${subscription id}`; each gets every message pushed as `msg`. */
    readonly remote: Map<string, { readonly conn: Conn; readonly s: number }>
  }

/** The primitives whose calls run in a `Session`. @internal */
export type Owned = Extract<Hosted, { kind: "rlock" | "condition" }>

const ownedLock = (hosted: Owned): RLock.RLock => hosted.kind === "rlock" ? hosted.prim : hosted.lock

const unknownOp = (hosted: Hosted, op: string) => Effect.die(new Error(`${hosted.kind} has no operation ${op}`))

/** Runs `op` and books what it took, in one step that interruption cannot split. */
const tracked = <A, E>(op: Effect.Effect<A, E>, book: (a: A) => void): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.map(restore(op), (a) => {
      book(a)
      return a
    })
  )

const takePermits = (held: Map<Conn, number>, conn: Conn, k: number): void => {
  held.set(conn, (held.get(conn) ?? 0) + k)
}

/** A release gives back the releasing connection's permits first, then anybody's. */
const returnPermits = (held: Map<Conn, number>, conn: Conn, k: number): void => {
  let left = k
  const take = (c: Conn) => {
    const n = held.get(c) ?? 0
    const m = Math.min(n, left)
    left -= m
    if (n - m === 0) held.delete(c)
    else held.set(c, n - m)
  }
  take(conn)
  for (const c of held.keys()) if (left > 0) take(c)
}

/**
 * One operation of a hosted primitive on behalf of `conn`.
 *
 * @internal
 */
export const run = (hosted: Hosted, conn: Conn, op: string, args: ReadonlyArray<any>): Effect.Effect<any, any> => {
  switch (hosted.kind) {
    case "lock": {
      const lock = hosted.prim
      const hold = (taken: boolean) => {
        if (taken) hosted.holder = conn
      }
      switch (op) {
        case "acquire":
          return tracked(lock.acquire, () => hold(true))
        case "tryAcquire":
          return tracked(lock.tryAcquire, hold)
        case "acquireFor":
          return tracked(lock.acquireFor(args[0]), hold)
        case "release":
          return tracked(lock.release, () => {
            hosted.holder = undefined
          })
        case "locked":
          return lock.locked
      }
      return unknownOp(hosted, op)
    }
    case "rlock": {
      const rlock = hosted.prim
      switch (op) {
        case "acquire":
          return rlock.acquire
        case "tryAcquire":
          return rlock.tryAcquire
        case "acquireFor":
          return rlock.acquireFor(args[0])
        case "release":
          return rlock.release
        case "locked":
          return rlock.locked
        case "isOwned":
          return rlock.isOwned
      }
      return unknownOp(hosted, op)
    }
    case "semaphore": {
      const sem = hosted.prim
      const held = hosted.held
      switch (op) {
        case "acquire":
          return tracked(sem.acquire(args[0]), () => takePermits(held, conn, args[0]))
        case "tryAcquire":
          return tracked(sem.tryAcquire(args[0]), (taken) => taken && takePermits(held, conn, args[0]))
        case "acquireFor":
          return tracked(sem.acquireFor(args[0], args[1]), (taken) => taken && takePermits(held, conn, args[1]))
        case "release":
          return tracked(sem.release(args[0]), () => returnPermits(held, conn, args[0]))
        case "available":
          return sem.available
      }
      return unknownOp(hosted, op)
    }
    case "event": {
      const event = hosted.prim
      switch (op) {
        case "set":
          return event.set
        case "clear":
          return event.clear
        case "isSet":
          return event.isSet
        case "wait":
          return event.wait
        case "waitFor":
          return event.waitFor(args[0])
      }
      return unknownOp(hosted, op)
    }
    case "condition": {
      const cond = hosted.prim
      switch (op) {
        case "acquire":
          return cond.acquire
        case "release":
          return cond.release
        case "wait":
          return cond.wait
        case "waitFor":
          return cond.waitFor(args[0])
        case "notify":
          return cond.notify(args[0])
        case "notifyAll":
          return cond.notifyAll
        case "passOn": // a client interrupted after its wait was notified
          return cond.notify(1)
        case "isOwned": // for the client's `waitUntil`
          return hosted.lock.isOwned
      }
      return unknownOp(hosted, op)
    }
    case "queue": {
      const queue = hosted.prim
      switch (op) {
        case "put":
          return queue.put(args[0])
        case "putNowait":
          return queue.putNowait(args[0])
        case "putFor":
          return queue.putFor(args[0], args[1])
        case "get":
          return hosted.remote.get
        case "getNowait":
          return hosted.remote.getNowait
        case "getFor":
          return hosted.remote.getFor(args[0])
        case "restore": {
          // A client interrupted after its get was won gives the item back.
          for (const [r, taken] of conn.unacked) {
            if (taken.hosted === hosted && taken.seq === args[0]) {
              conn.unacked.delete(r)
              return hosted.remote.restore(taken.item, taken.seq)
            }
          }
          return Effect.void
        }
        case "size":
          return queue.size
        case "isEmpty":
          return queue.isEmpty
        case "isFull":
          return queue.isFull
        case "taskDone":
          return queue.taskDone
        case "join":
          return queue.join
        case "shutdown":
          return queue.shutdown({ immediate: args[0] === true })
      }
      return unknownOp(hosted, op)
    }
    case "pubsub": {
      switch (op) {
        case "publish":
          // In one step, so every subscriber, local or remote, sees the
          // messages in the order they were published.
          return Effect.suspend(() => {
            for (const { conn: c, s } of hosted.remote.values()) {
              if (c.socket !== undefined) send(c.socket, { t: "msg", s, v: args[0] })
            }
            return hosted.prim.publish(args[0])
          })
        case "subscribe": // the client chose the id, so its buffer exists before the first message
          return Effect.sync(() => void hosted.remote.set(`${conn.id}:${args[0]}`, { conn, s: args[0] }))
        case "unsubscribe":
          return Effect.sync(() => void hosted.remote.delete(`${conn.id}:${args[0]}`))
      }
      return unknownOp(hosted, op)
    }
    case "barrier": {
      const barrier = hosted.prim
      switch (op) {
        case "wait":
          return barrier.wait
        case "waitFor":
          return barrier.waitFor(args[0])
        case "abort":
          return barrier.abort
        case "reset":
          return barrier.reset
        case "waiting":
          return barrier.waiting
        case "broken":
          return barrier.broken
      }
      return unknownOp(hosted, op)
    }
  }
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
  readonly hosted: Owned
  readonly conn: Conn
  readonly key: string

  constructor(hosted: Owned, conn: Conn, key: string, onEnd: (session: Session) => void) {
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
    const rlock = ownedLock(this.hosted)
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        while (true) {
          const job = yield* self.next
          if (job === "drop") {
            // A notification the dead client never saw goes to the next waiter.
            if (self.unackedWake !== undefined && self.hosted.kind === "condition") {
              yield* Effect.ignore(self.hosted.prim.notify(1))
            }
            while (yield* rlock.isOwned) yield* Effect.ignore(rlock.release)
            return
          }
          self.current = job
          if (job.op === "passOn") self.unackedWake = undefined
          const op = run(self.hosted, self.conn, job.op, job.args)
          const exit = yield* Effect.exit(self.tainted ? op : restore(op))
          self.current = undefined
          let reply = toReply(job.r, Exit.mapError(exit, relabel))
          if (
            self.hosted.kind === "condition" && (job.op === "wait" || job.op === "waitFor") &&
            Exit.isSuccess(exit) && exit.value !== false
          ) {
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
  const conn: Conn = { id: nextConnId++, socket, running: new Map(), sessions: new Map(), unacked: new Map() }
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
  message: { r: number; p: number; o: string; a: ReadonlyArray<unknown>; f: number; n?: 1 }
): void => {
  const { r } = message
  const quiet = message.n === 1
  const hosted = state.hosted.get(message.p)
  if (hosted === undefined || !Array.isArray(message.a)) {
    if (quiet) return
    send(conn.socket!, { t: "reply", r, x: "die", m: `the manager hosts no primitive #${message.p}` })
    return
  }
  if (message.o === "attach") {
    const parties = hosted.kind === "barrier" ? hosted.prim.parties : undefined
    const maxsize = hosted.kind === "queue" ? hosted.prim.maxsize : undefined
    send(conn.socket!, { t: "reply", r, x: "ok", v: { kind: hosted.kind, parties, maxsize } })
    return
  }
  if (hosted.kind === "rlock" || hosted.kind === "condition") {
    // Per primitive: a client fiber may own several rlocks at once.
    const key = `${message.p}:${message.f}`
    let session = conn.sessions.get(key)
    if (session === undefined) {
      session = new Session(hosted, conn, key, (ended) => {
        if (conn.sessions.get(ended.key) === ended) conn.sessions.delete(ended.key)
      })
      conn.sessions.set(key, session)
    }
    session.submit({ r, quiet, op: message.o, args: message.a })
    return
  }
  const takes = hosted.kind === "queue" && isTake(message.o)
  const fiber = Effect.runFork(
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.exit(restore(run(hosted, conn, message.o, message.a))), (exit) =>
        Effect.suspend(() => {
          if (quiet) return Effect.void
          conn.running.delete(r)
          const reply = toReply(r, exit)
          if (takes && reply.x === "ok") {
            const taken = reply.v as Taken
            const queue = hosted as QueueHosted
            // The connection dropped while the get was being won: give it back.
            if (!state.conns.has(conn)) return queue.remote.restore(taken.item, taken.seq)
            conn.unacked.set(r, { hosted: queue, item: taken.item, seq: taken.seq })
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
  for (const session of conn.sessions.values()) session.drop()
  Effect.runFork(
    Effect.flatMap(Fiber.interruptAll(waiting), () =>
      Effect.sync(() => {
        // Items this client was sent but never acknowledged go back in place.
        const unacked = [...conn.unacked.values()]
        conn.unacked.clear()
        for (const { hosted, item, seq } of unacked) Effect.runSync(hosted.remote.restore(item, seq))
        for (const hosted of state.hosted.values()) {
          if (hosted.kind === "pubsub") {
            for (const [key, sub] of hosted.remote) if (sub.conn === conn) hosted.remote.delete(key)
          } else if (hosted.kind === "lock" && hosted.holder === conn) {
            hosted.holder = undefined
            Effect.runFork(Effect.ignore(hosted.prim.release))
          } else if (hosted.kind === "semaphore") {
            const n = hosted.held.get(conn)
            if (n !== undefined) {
              hosted.held.delete(conn)
              Effect.runFork(Effect.ignore(hosted.prim.release(n)))
            }
          }
        }
      }))
  )
}
