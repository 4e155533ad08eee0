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
 * - The `rlock` is owned by a fiber, so each (connection, client fiber) that
 *   owns it, or waits for it, gets a session: one server fiber that runs that
 *   client fiber's calls in order and so is the owner on the server. A session
 *   ends as soon as it owns nothing; when its connection drops it releases
 *   every level it holds.
 *
 * @internal
 */
import { timingSafeEqual } from "node:crypto"
import type * as net from "node:net"
import { Effect, Exit, Fiber } from "effect"
import * as Cause from "effect/Cause"
import type * as Barrier from "../Barrier.ts"
import type * as Event from "../Event.ts"
import type * as Lock from "../Lock.ts"
import type * as RLock from "../RLock.ts"
import type * as Semaphore from "../Semaphore.ts"
import { encodeError, type Reply, readLines, send } from "./protocol.ts"

/** @internal */
export type Kind = "lock" | "rlock" | "semaphore" | "event" | "barrier"

/** A connected client, or `Local` for the manager's own process. @internal */
export interface Conn {
  readonly id: number
  readonly socket: net.Socket | undefined
  readonly running: Map<number, Fiber.Fiber<void>>
  readonly sessions: Map<number, Session>
}

/** @internal */
export const Local: Conn = { id: 0, socket: undefined, running: new Map(), sessions: new Map() }

/** @internal */
export type Hosted =
  | { readonly kind: "lock"; readonly prim: Lock.Lock; holder: Conn | undefined }
  | { readonly kind: "rlock"; readonly prim: RLock.RLock }
  | { readonly kind: "semaphore"; readonly prim: Semaphore.Semaphore; readonly held: Map<Conn, number> }
  | { readonly kind: "event"; readonly prim: Event.Event }
  | { readonly kind: "barrier"; readonly prim: Barrier.Barrier }

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

interface Job {
  readonly r: number
  readonly quiet: boolean
  readonly op: string
  readonly args: ReadonlyArray<unknown>
}

/**
 * The server-side owner of an `rlock` for one client fiber.
 *
 * @internal
 */
export class Session {
  private readonly jobs: Array<Job | "drop"> = []
  private wakeUp: (() => void) | undefined = undefined
  private current: Job | undefined = undefined
  /** Interrupted once: from now on it runs calls uninterruptibly, and only while it owns the lock. */
  private tainted = false
  readonly fiber: Fiber.Fiber<void>
  readonly hosted: Extract<Hosted, { kind: "rlock" }>
  readonly conn: Conn
  readonly clientFiber: number

  constructor(
    hosted: Extract<Hosted, { kind: "rlock" }>,
    conn: Conn,
    clientFiber: number,
    onEnd: (session: Session) => void
  ) {
    this.hosted = hosted
    this.conn = conn
    this.clientFiber = clientFiber
    this.fiber = Effect.runFork(this.loop())
    this.fiber.addObserver(() => onEnd(this))
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
    const rlock = this.hosted.prim
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        while (true) {
          const job = yield* self.next
          if (job === "drop") {
            while (yield* rlock.isOwned) yield* Effect.ignore(rlock.release)
            return
          }
          self.current = job
          const op = run(self.hosted, self.conn, job.op, job.args)
          const exit = yield* Effect.exit(self.tainted ? op : restore(op))
          self.current = undefined
          if (self.conn.socket !== undefined && !job.quiet) send(self.conn.socket, toReply(job.r, exit))
          if (!(yield* rlock.isOwned)) return
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
  const conn: Conn = { id: nextConnId++, socket, running: new Map(), sessions: new Map() }
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
    send(conn.socket!, { t: "reply", r, x: "ok", v: { kind: hosted.kind, parties } })
    return
  }
  if (hosted.kind === "rlock") {
    let session = conn.sessions.get(message.f)
    if (session === undefined) {
      session = new Session(hosted, conn, message.f, (ended) => {
        if (conn.sessions.get(ended.clientFiber) === ended) conn.sessions.delete(ended.clientFiber)
      })
      conn.sessions.set(message.f, session)
    }
    session.submit({ r, quiet, op: message.o, args: message.a })
    return
  }
  const fiber = Effect.runFork(
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.exit(restore(run(hosted, conn, message.o, message.a))), (exit) =>
        Effect.sync(() => {
          if (quiet) return
          conn.running.delete(r)
          send(conn.socket!, toReply(r, exit))
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
        for (const hosted of state.hosted.values()) {
          if (hosted.kind === "lock" && hosted.holder === conn) {
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
