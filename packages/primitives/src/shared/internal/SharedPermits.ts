/**
 * A FIFO-fair permit counter in a SharedArrayBuffer: the core of `SharedLock`
 * (one permit) and `SharedSemaphore` (n permits).
 *
 * Layout (Int32 words): `[magic, permits, next, serving, beat, bound, holder,
 * since, slot 0 .. slot K-1, (thread, since) of ticket 0 .. K-1]`.
 *
 * For `Inspect`: a taker of a tracked core (a lock's, a semaphore's) writes
 * its thread (`holder`, thread id + 1) and the time (`since`, the low 31 bits
 * of `Date.now()`) with two plain stores; a queued waiter writes the same
 * beside its ticket. Any thread can then tell who holds, who waits and since
 * when, from the buffer alone (`describe`). The stores are advisory: a reader
 * may see them a moment late, never a wrong thread for long.
 *
 * Fast path (nobody queued): a `compareExchange` on `permits`. No ticket, no
 * allocation. A taker only takes this path while the queue is empty
 * (`next === serving`), so nobody barges past a queued waiter.
 *
 * Slow path: a ticket queue. A waiter draws a ticket (`next`); the ticket equal
 * to `serving` is the head, and only the head takes permits when the queue is
 * non-empty. When the head has its permits it advances `serving` and hands the
 * head role to the next ticket through that ticket's slot, waking it with a
 * notify on the slot word. Strict FIFO: no thread starves. Before sleeping, a
 * waiter spins a bounded number of loads, so two busy threads hand the lock
 * back and forth without an event-loop round trip.
 *
 * Slot states for ticket `t` (slot `t & (K-1)`), tagged with `t`'s high bits so
 * a value left by ticket `t - K` reads as "pending": GRANTED (head role
 * offered), CLAIMED (the head took it), ABANDONED (the waiter left, or its grant
 * was taken back). Every claim / abandon / take-back is one `compareExchange`
 * on the slot, so exactly one of them wins.
 *
 * Interruption and timeouts: an interrupted waiter marks its slot ABANDONED (a
 * releaser skips it), or, if it was already the head, passes the head role on;
 * if it had already got its permits, it gives them back. It leaves no pending
 * wake-up that matters: all notifies are notify-all, and its own
 * `waitAsync` expires after a tick.
 *
 * Dead threads: a thread terminated while *waiting* would stall the queue at
 * its ticket. The waiters behind watch the head: if the head's state and
 * heartbeat (`beat`, bumped by a live head every tick) have not moved for a
 * whole watch period, they take the head role back and pass it on. A live
 * waiter whose event loop was blocked that long simply re-queues. A thread
 * terminated while *holding* permits cannot give them back; nothing in a
 * SharedArrayBuffer can tell a dead holder from a slow one (see SharedLock).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { InvalidArgumentError } from "../../errors.ts"
import { timeout as validTimeout } from "../../validate.ts"
import { threadId } from "node:worker_threads"
import type { Party, State } from "../../inspect/Registry.ts"
import { hold, spin, unhold, waitOn } from "./futex.ts"

/** @internal Ticket slots: at most this many fibers (of all threads) queue at once; more wait outside the queue. */
export const K = 1024
const MASK = K - 1
const HIGH = ~MASK
const GRANTED = 1
const CLAIMED = 2
const ABANDONED = 3
const tag = (ticket: number, state: number): number => (ticket & HIGH) | state

/** @internal */
export const PERMITS = 1
const NEXT = 2
const SERVING = 3
const BEAT = 4
/** @internal */
export const BOUND = 5
const HOLDER = 6
const SINCE = 7
/** @internal */
export const HEADER = 8
/** Where the waiters' (thread, since) pairs start, two words per ticket slot. */
const WAITERS = HEADER + K
/** @internal */
export const BYTES = (HEADER + 3 * K) * 4

/** This thread's id + 1 (0 means nobody), as the buffer stores it. */
const self = threadId + 1
/** The low 31 bits of the epoch-milliseconds clock: an age is right for 24 days. */
const clock = (): number => Date.now() & 0x7fffffff
/**
 * The clock for the taker's mark, read once per run of this thread's
 * synchronous code (a microtask marks it stale): a `Date.now()` costs
 * ~40-70 ns, a fifth of an uncontended `withLock`, so a burst of takes
 * shares one reading. A holder's since is then early by at most the length
 * of the task that took the lock.
 */
let burst = 0
let fresh = false
const stale = (): void => {
  fresh = false
}
const burstClock = (): number => {
  if (!fresh) {
    fresh = true
    burst = clock()
    queueMicrotask(stale)
  }
  return burst
}

/** The epoch milliseconds of a stored `clock()` reading, seen now. */
const epochOf = (stored: number, now: number): number => now - ((((now & 0x7fffffff) - stored) | 0) & 0x7fffffff)

/** A holder or waiter as the buffer tells it. @internal */
export interface Seen {
  readonly thread: number
  readonly since: number
}

/** Loads before sleeping. Roughly 5-20 µs; see bench/src/threads/main.ts. */
const SPIN = 4000
/** A waiter behind the head checks the head this often (ms). */
const WATCH = 200
/** A head bumps its heartbeat this often (ms); well inside WATCH. */
const HEAD_TICK = 50
/** A fiber waiting for room in the ticket queue polls this often (ms). */
const OVERFLOW_POLL = 5

const resumed = Effect.void

/** @internal */
export class SharedPermits {
  readonly array: Int32Array
  /** Record the taker's thread and time (a lock's, a semaphore's core; not a queue's counters). */
  readonly tracked: boolean

  constructor(array: Int32Array, tracked = false) {
    this.array = array
    this.tracked = tracked
  }

  /** Records this thread as the (latest) taker, now. */
  mark(): void {
    const a = this.array
    a[HOLDER] = self
    a[SINCE] = burstClock()
  }

  /**
   * The latest taker, while any permit is taken (for a lock: the holder);
   * undefined when nothing is taken or the taker is not known yet.
   */
  holder(): Seen | undefined {
    const a = this.array
    const thread = Atomics.load(a, HOLDER)
    if (thread === 0) return undefined
    return { thread: thread - 1, since: epochOf(Atomics.load(a, SINCE), Date.now()) }
  }

  /** The fibers (of every thread) queued for permits, oldest first, as far as the buffer tells. */
  waiters(): Array<Seen> {
    const a = this.array
    const now = Date.now()
    const next = Atomics.load(a, NEXT)
    const out: Array<Seen> = []
    for (let t = Atomics.load(a, SERVING); t !== next && out.length < K; t = (t + 1) | 0) {
      if (Atomics.load(a, HEADER + (t & MASK)) === tag(t, ABANDONED)) continue
      const at = WAITERS + 2 * (t & MASK)
      const thread = Atomics.load(a, at)
      if (thread === 0) continue
      out.push({ thread: thread - 1, since: epochOf(Atomics.load(a, at + 1), now) })
    }
    return out
  }

  /**
   * What `Inspect` shows for a lock or semaphore on this core, seen from this
   * thread: the holder (a lock's; a bounded semaphore's latest taker, with the
   * permits taken in all), the queued waiters of every thread with their
   * ages, and the counts.
   */
  state(): State {
    const free = this.free
    const bound = this.bound
    const taken = bound >= 0 ? bound - free : 0
    const holder = taken > 0 ? this.holder() : undefined
    const party = (seen: Seen): Party => ({ who: `thread ${seen.thread}`, thread: seen.thread, pid: process.pid, since: seen.since })
    return {
      holders: holder === undefined ? [] : [bound === 1 ? party(holder) : { ...party(holder), permits: taken }],
      waiters: this.waiters().map(party),
      counts: bound === 1 ? { queued: this.queued } : { free, queued: this.queued, ...(bound >= 0 ? { permits: bound } : {}) }
    }
  }

  /** Tickets drawn and not served: the queue's depth across all threads. */
  get queued(): number {
    return (Atomics.load(this.array, NEXT) - Atomics.load(this.array, SERVING)) | 0
  }

  /** Allocates a zeroed buffer with `permits` free and the given bound (-1: none). */
  static allocate(kind: number, permits: number, bound: number): Int32Array {
    const array = new Int32Array(new SharedArrayBuffer(BYTES))
    array[PERMITS] = permits
    array[BOUND] = bound
    Atomics.store(array, 0, kind)
    return array
  }

  get free(): number {
    return Atomics.load(this.array, PERMITS)
  }

  get bound(): number {
    return Atomics.load(this.array, BOUND)
  }

  /** Takes `n` permits if they are free and nobody is queued. */
  tryTake(n: number): boolean {
    const a = this.array
    if (Atomics.load(a, NEXT) !== Atomics.load(a, SERVING)) return false
    for (;;) {
      const p = Atomics.load(a, PERMITS)
      if (p < n) return false
      if (Atomics.compareExchange(a, PERMITS, p, p - n) === p) {
        if (this.tracked) this.mark()
        return true
      }
    }
  }

  /** Takes `n` permits, waiting in FIFO order. */
  take(n: number): Effect.Effect<void> {
    return Effect.suspend(() => (this.tryTake(n) ? resumed : this.wait(n)))
  }

  /**
   * Takes `n` permits, waiting at most `timeout` (on the Effect clock); `true`
   * if they were taken. The timeout is checked first, even when the permits
   * are free.
   */
  takeWithin(operation: string, n: number, timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return Effect.flatMap(validTimeout(operation, timeout), (duration) => {
      if (this.tryTake(n)) return Effect.succeed(true)
      return Duration.isFinite(duration)
        ? Effect.map(Effect.timeoutOption(this.wait(n), duration), Option.isSome)
        : Effect.as(this.wait(n), true)
    })
  }

  /** Queues for `n` permits; the caller already failed `tryTake`. */
  wait(n: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const waiter = new Waiter(this, n, resume)
      waiter.step()
      return waiter.state === DONE ? undefined : Effect.sync(() => waiter.abandon())
    })
  }

  /** Returns `n` permits and wakes the head of the queue, if any. */
  release(n: number): void {
    const a = this.array
    // A lock's holder is gone (cleared before the permit is visible to the next taker).
    if (this.tracked && a[BOUND] === 1) a[HOLDER] = 0
    Atomics.add(a, PERMITS, n)
    this.wakeHead()
  }

  /** Sets `permits` from `from` to `to` if it is `from`; wakes the head then. */
  swap(from: number, to: number): boolean {
    const a = this.array
    // A lock being released: its holder is gone (cleared before the permit is visible).
    if (this.tracked && to > from && Atomics.load(a, PERMITS) === from) a[HOLDER] = 0
    if (Atomics.compareExchange(a, PERMITS, from, to) !== from) return false
    this.wakeHead()
    return true
  }

  /** Returns `n` permits only if `permits + n <= limit`; the current count otherwise. */
  releaseUpTo(n: number, limit: number): number | undefined {
    const a = this.array
    for (;;) {
      const p = Atomics.load(a, PERMITS)
      if (p + n > limit) return p
      if (Atomics.compareExchange(a, PERMITS, p, p + n) === p) break
    }
    this.wakeHead()
    return undefined
  }

  private wakeHead(): void {
    const a = this.array
    if (Atomics.load(a, NEXT) !== Atomics.load(a, SERVING)) Atomics.notify(a, PERMITS)
  }

  /** `serving` was just set to `t` by the caller: offers the head role to ticket `t`, skipping abandoned tickets. */
  handOn(t: number): void {
    const a = this.array
    for (;;) {
      if (Atomics.load(a, NEXT) === t) return
      const slot = HEADER + (t & MASK)
      const v = Atomics.load(a, slot)
      if (v === tag(t, ABANDONED)) {
        if (Atomics.compareExchange(a, SERVING, t, (t + 1) | 0) !== t) return
        t = (t + 1) | 0
        continue
      }
      if (v === tag(t, CLAIMED) || v === tag(t, GRANTED)) return
      if (Atomics.compareExchange(a, slot, v, tag(t, GRANTED)) === v) {
        Atomics.notify(a, slot)
        return
      }
    }
  }
}

const ENTER = 0
const OVERFLOW = 1
const QUEUED = 2
const HEAD = 3
const DONE = 4
const GONE = 5

/**
 * One fiber's wait, driven by `step` whenever something may have changed: at
 * registration, and when its `Atomics.waitAsync` resolves.
 */
class Waiter {
  readonly core: SharedPermits
  readonly n: number
  readonly resume: (effect: Effect.Effect<void>) => void
  state = ENTER
  ticket = 0
  /** An `Atomics.waitAsync` of this waiter is pending (and holds the thread alive). */
  sleeping = false
  held = false
  /** What the last watch tick saw: serving, its slot, the beat. */
  seenValid = false
  seenServing = 0
  seenSlot = 0
  seenBeat = 0

  constructor(core: SharedPermits, n: number, resume: (effect: Effect.Effect<void>) => void) {
    this.core = core
    this.n = n
    this.resume = resume
  }

  private readonly onWake = (result: "ok" | "timed-out" | "not-equal"): void => {
    this.sleeping = false
    if (this.state >= DONE) return
    if (result === "timed-out" && this.state === QUEUED) this.watch()
    this.step()
  }

  private sleep(index: number, value: number, timeout: number): boolean {
    if (!waitOn(this.core.array, index, value, timeout, this.onWake)) return false
    this.sleeping = true
    if (!this.held) {
      this.held = true
      hold()
    }
    return true
  }

  private finish(): void {
    if (this.core.tracked) this.core.mark()
    this.state = DONE
    this.release()
    this.resume(resumed)
  }

  private release(): void {
    if (this.held) {
      this.held = false
      unhold()
    }
  }

  step(): void {
    const a = this.core.array
    // One bounded spin per step: a long queue moving fast must not keep us spinning.
    let spun = false
    for (;;) {
      switch (this.state) {
        case ENTER:
        case OVERFLOW: {
          if (this.core.tryTake(this.n)) return this.finish()
          const next = Atomics.load(a, NEXT)
          const serving = Atomics.load(a, SERVING)
          if (((next - serving) | 0) >= K) {
            this.state = OVERFLOW
            if (this.sleep(SERVING, serving, OVERFLOW_POLL)) return
            continue
          }
          if (Atomics.compareExchange(a, NEXT, next, (next + 1) | 0) !== next) continue
          this.ticket = next
          const at = WAITERS + 2 * (next & MASK)
          a[at] = self
          a[at + 1] = clock()
          this.state = QUEUED
          this.seenValid = false
          continue
        }
        case QUEUED: {
          const t = this.ticket
          const slot = HEADER + (t & MASK)
          const v = Atomics.load(a, slot)
          if (v === tag(t, ABANDONED)) {
            // Our turn was taken back (we were too slow to claim it): queue again.
            this.state = ENTER
            continue
          }
          const serving = Atomics.load(a, SERVING)
          if (serving === t) {
            if (Atomics.compareExchange(a, slot, v, tag(t, CLAIMED)) === v) this.state = HEAD
            continue
          }
          if (!spun) {
            spun = true
            if (spin(a, SERVING, serving, SPIN)) continue
          }
          if (this.sleep(slot, v, WATCH)) return
          continue
        }
        case HEAD: {
          const t = this.ticket
          if (Atomics.load(a, SERVING) !== t) {
            // The head role was taken back while this thread did not run.
            this.state = ENTER
            continue
          }
          const p = Atomics.load(a, PERMITS)
          if (p >= this.n) {
            if (Atomics.compareExchange(a, PERMITS, p, p - this.n) !== p) continue
            const after = (t + 1) | 0
            if (Atomics.compareExchange(a, SERVING, t, after) !== t) {
              this.core.release(this.n)
              this.state = ENTER
              continue
            }
            this.core.handOn(after)
            return this.finish()
          }
          if (!spun) {
            spun = true
            if (spin(a, PERMITS, p, SPIN)) continue
          }
          Atomics.add(a, BEAT, 1)
          if (this.sleep(PERMITS, p, HEAD_TICK)) return
          continue
        }
        default:
          return
      }
    }
  }

  /**
   * Behind the head, on each watch tick: if the head has not moved, claimed,
   * or beaten for a whole tick, its thread is dead or stuck; take the head
   * role back from it and pass it on.
   */
  private watch(): void {
    const a = this.core.array
    const serving = Atomics.load(a, SERVING)
    if (serving === this.ticket) return
    const slot = HEADER + (serving & MASK)
    const v = Atomics.load(a, slot)
    const beat = Atomics.load(a, BEAT)
    if (!this.seenValid || this.seenServing !== serving || this.seenSlot !== v || this.seenBeat !== beat) {
      this.seenValid = true
      this.seenServing = serving
      this.seenSlot = v
      this.seenBeat = beat
      return
    }
    this.seenValid = false
    if (v !== tag(serving, ABANDONED) && Atomics.compareExchange(a, slot, v, tag(serving, ABANDONED)) !== v) return
    const after = (serving + 1) | 0
    if (Atomics.compareExchange(a, SERVING, serving, after) === serving) this.core.handOn(after)
  }

  /** The fiber was interrupted (or timed out): leave holding nothing. */
  abandon(): void {
    const a = this.core.array
    const state = this.state
    this.state = GONE
    this.release()
    if (state === DONE) {
      // Got the permits after the interruption: give them back.
      this.core.release(this.n)
    } else if (state === QUEUED) {
      const t = this.ticket
      const slot = HEADER + (t & MASK)
      for (;;) {
        const v = Atomics.load(a, slot)
        if (v === tag(t, ABANDONED)) return
        if (Atomics.compareExchange(a, slot, v, tag(t, ABANDONED)) !== v) continue
        // Offered the head role already: nobody else will pass it on.
        if (v === tag(t, GRANTED) && Atomics.compareExchange(a, SERVING, t, (t + 1) | 0) === t) {
          this.core.handOn((t + 1) | 0)
        }
        return
      }
    } else if (state === HEAD) {
      const t = this.ticket
      const after = (t + 1) | 0
      if (Atomics.compareExchange(a, SERVING, t, after) === t) this.core.handOn(after)
    }
  }
}
