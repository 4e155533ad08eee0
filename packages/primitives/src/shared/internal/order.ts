/**
 * Lock-order checking at thread scope: one order graph for all the threads
 * of a process.
 *
 * Why a shared log rather than asking the main thread: a check must be
 * synchronous (it decides whether this acquisition may wait), and a thread
 * cannot ask another one synchronously without blocking in `Atomics.wait`
 * until that thread's event loop answers, which stalls it behind whatever
 * the other thread is doing (or forever, if that thread is itself blocked).
 * So every thread keeps its own `Lockdep.Graph`, and the edges are shared
 * through an append-only log in a SharedArrayBuffer: an edge first seen in
 * one thread is appended (under a short spin lock, a copy of ~100 bytes),
 * and every thread reads the records it has not seen yet (one `Atomics.load`
 * when there are none) before it checks an acquisition. The check itself is
 * then local. Two threads racing to add opposite edges at the same instant
 * may both pass; the next acquisition in either order fails.
 *
 * How the log reaches every thread: it rides in the handle of every shared
 * lock (`order`), so a thread that attaches a lock adopts the log it came
 * with. The main thread's log wins: a worker that made locks (and so a log)
 * of its own before it attached one from the main thread copies its edges
 * into the main thread's log and uses that from then on.
 *
 * Layout (Int32 words): `[creator thread + 1, spin lock, records, bytes, ...]`,
 * then the records from byte 64: a u32 length and the edge as UTF-8 JSON.
 *
 * @internal
 */
import type * as Fiber from "effect/Fiber"
import { threadId } from "node:worker_threads"
import type { LockOrderEdge, LockOrderError } from "../../errors.ts"
import * as Registry from "../../inspect/Registry.ts"
import * as Lockdep from "../../Lockdep.ts"

const CREATOR = 0
const MUTEX = 1
const RECORDS = 2
const USED = 3
const DATA = 64
/** Room for about a thousand edges; when it is full, new edges stay in the thread that saw them. */
const BYTES = 128 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder()

class Log {
  readonly buffer: SharedArrayBuffer
  readonly words: Int32Array
  readonly bytes: Uint8Array
  /** Records of this log already read into `graph`, and their end. */
  read = 0
  offset = DATA

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer
    this.words = new Int32Array(buffer, 0, DATA / 4)
    this.bytes = new Uint8Array(buffer)
  }

  get creator(): number {
    return Atomics.load(this.words, CREATOR)
  }

  append(edge: LockOrderEdge): void {
    const body = encoder.encode(JSON.stringify(edge))
    const w = this.words
    while (Atomics.compareExchange(w, MUTEX, 0, 1) !== 0) { /* spin: another thread copies an edge */ }
    const used = Atomics.load(w, USED) || DATA
    if (used + 4 + body.length <= this.bytes.length) {
      new DataView(this.buffer).setUint32(used, body.length)
      this.bytes.set(body, used + 4)
      Atomics.store(w, USED, used + 4 + body.length)
      // Published last: a reader never sees a record before its bytes.
      Atomics.add(w, RECORDS, 1)
    }
    Atomics.store(w, MUTEX, 0)
  }

  /** The records not read yet. */
  fresh(): Array<LockOrderEdge> {
    const records = Atomics.load(this.words, RECORDS)
    const out: Array<LockOrderEdge> = []
    const view = new DataView(this.buffer)
    while (this.read < records) {
      const length = view.getUint32(this.offset)
      out.push(JSON.parse(decoder.decode(this.bytes.slice(this.offset + 4, this.offset + 4 + length))))
      this.offset += 4 + length
      this.read++
    }
    return out
  }
}

/** The thread-scope order graph of this thread (a copy of the shared log, plus the edges it added). */
const graph = new Lockdep.Graph()
/** Edges in `graph`, as `from\0to`. */
const known = new Set<string>()
let log: Log | undefined

const keyOf = (from: string, to: string) => `${from}\u0000${to}`

const learn = (edge: LockOrderEdge): void => {
  const key = keyOf(edge.from, edge.to)
  if (known.has(key)) return
  known.add(key)
  // An edge that closes a cycle here was added by two threads racing: keep the graph acyclic.
  graph.record([{ name: edge.from, where: edge.where }], edge.to, edge.where, edge.who)
}

const sync = (): void => {
  if (log !== undefined) for (const edge of log.fresh()) learn(edge)
}

/** This thread's log: the one it adopted, or a new one. @internal */
export const orderBuffer = (): SharedArrayBuffer => {
  if (log === undefined) {
    log = new Log(new SharedArrayBuffer(BYTES))
    Atomics.store(log.words, CREATOR, threadId + 1)
  }
  return log.buffer
}

/** A handle arrived with `buffer` as its order log: adopt it if it is the main thread's (or we have none). @internal */
export const adopt = (buffer: unknown): void => {
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== BYTES) return
  if (log?.buffer === buffer) return
  const incoming = new Log(buffer)
  if (log !== undefined && !(incoming.creator > 0 && incoming.creator < log.creator)) return
  sync()
  const ours = graph.edges()
  const present = new Set(new Log(buffer).fresh().map((e) => keyOf(e.from, e.to)))
  log = incoming
  sync()
  // What this thread saw before it joined goes to the others too.
  for (const edge of ours) if (!present.has(keyOf(edge.from, edge.to))) incoming.append(edge)
}

interface Holding {
  readonly lock: object
  readonly name: string
  readonly where: string | (() => string)
}

/** The shared locks each fiber of this thread holds, in the order taken. */
const holdings = new WeakMap<object, Array<Holding>>()

const who = (fiber: { readonly id: number }): string => `thread ${threadId} fiber #${fiber.id}`

/** Where the fiber is: its current span's name, else the first stack frame outside Weft. */
const placeOf = (fiber: object) => (): string =>
  (fiber as { readonly currentSpanLocal?: { readonly name: string } }).currentSpanLocal?.name ?? Registry.callerPlace()

/** Held locks' places are never read (an edge is named by where its second lock is taken). */
const anywhere = (): string => ""

/**
 * Before `lock` (named `name`) is waited for by `fiber`: the order check
 * against what this fiber holds. Returns the `LockOrderError` (reported)
 * when the order inverts one seen in any thread of the process.
 *
 * @internal
 */
export const check = (fiber: Fiber.Fiber<unknown, unknown>, lock: object, name: string): LockOrderError | undefined => {
  const held = holdings.get(fiber)
  if (held === undefined || held.length === 0) return undefined
  sync()
  let fresh: Array<string> | undefined
  for (const h of held) {
    if (h.lock !== lock && h.name !== name && !known.has(keyOf(h.name, name))) (fresh ??= []).push(h.name)
  }
  if (fresh === undefined) return undefined
  const error = graph.record(held, name, placeOf(fiber), who(fiber))
  if (error !== undefined) return Lockdep.reported(error, "thread")
  if (log === undefined) orderBuffer()
  for (const edge of graph.edges()) {
    const key = keyOf(edge.from, edge.to)
    if (edge.to === name && fresh.includes(edge.from) && !known.has(key)) {
      known.add(key)
      log!.append(edge)
    }
  }
  return undefined
}

/** `fiber` took `lock`. @internal */
export const took = (fiber: Fiber.Fiber<unknown, unknown>, lock: object, name: string): void => {
  let held = holdings.get(fiber)
  if (held === undefined) holdings.set(fiber, held = [])
  held.push({ lock, name, where: anywhere })
}

/** `lock`, taken by `fiber`, was released (by whichever fiber: a `SharedLock` has no owner). @internal */
export const released = (fiber: object, lock: object): void => {
  const held = holdings.get(fiber)
  if (held === undefined) return
  for (let i = held.length - 1; i >= 0; i--) {
    if (held[i]!.lock === lock) {
      held.splice(i, 1)
      return
    }
  }
}

/** Forgets this thread's copy of the orders and its place in the log (tests). @internal */
export const resetThreadOrders = (): void => {
  graph.clear()
  known.clear()
  log = undefined
}
