/**
 * A FIFO permit counter with direct hand-off: the core of `Lock`, `RLock` and
 * `Semaphore`.
 *
 * Why not Effect's `Semaphore`: it wakes every waiter that fits and lets them
 * race for the permits on the next `setImmediate`, so a contended hand-off
 * costs an event-loop turn and a smaller later request may overtake a larger
 * earlier one. Here `release` gives the permits to the head of the queue at
 * once (strict FIFO: nobody barges in, nobody starves) and wakes it on a
 * microtask (see `handoff.ts`).
 *
 * Interruption safety: a waiter that is interrupted before it was granted
 * leaves the queue; one interrupted after it was granted but before its fiber
 * resumed gives the permits back. Either way nothing stays taken.
 *
 * @internal
 */
import { Effect } from "effect"
import { wake } from "./handoff.ts"

interface Waiter {
  readonly n: number
  readonly resume: (effect: Effect.Effect<void>) => void
  granted: boolean
  prev: Waiter | undefined
  next: Waiter | undefined
}

const resumed = Effect.void

/** @internal */
export class Permits {
  free: number
  waiting = 0
  private head: Waiter | undefined = undefined
  private tail: Waiter | undefined = undefined

  constructor(free: number) {
    this.free = free
  }

  /** Takes `n` permits if they are free and nobody is queued ahead. */
  tryTake(n: number): boolean {
    if (this.head === undefined && this.free >= n) {
      this.free -= n
      return true
    }
    return false
  }

  /** Takes `n` permits, waiting in FIFO order. */
  take(n: number): Effect.Effect<void> {
    return Effect.suspend(() => (this.tryTake(n) ? resumed : this.wait(n)))
  }

  /** Queues for `n` permits; the caller already failed `tryTake`. */
  wait(n: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.tryTake(n)) return resume(resumed)
      const waiter: Waiter = { n, resume, granted: false, prev: this.tail, next: undefined }
      if (this.tail === undefined) this.head = waiter
      else this.tail.next = waiter
      this.tail = waiter
      this.waiting++
      return Effect.sync(() => this.abandon(waiter))
    })
  }

  /** Returns `n` permits and hands them on to the queue. */
  release(n: number): void {
    this.free += n
    if (this.head !== undefined) this.dispatch()
  }

  private dispatch(): void {
    let waiter = this.head
    while (waiter !== undefined && waiter.n <= this.free) {
      this.free -= waiter.n
      this.unlink(waiter)
      waiter.granted = true
      const resume = waiter.resume
      wake(() => resume(resumed))
      waiter = this.head
    }
  }

  private abandon(waiter: Waiter): void {
    if (waiter.granted) {
      this.release(waiter.n)
    } else {
      this.unlink(waiter)
      // A large request at the head may have blocked smaller ones behind it.
      if (this.head !== undefined) this.dispatch()
    }
  }

  private unlink(waiter: Waiter): void {
    if (waiter.prev === undefined) this.head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = waiter.next = undefined
    this.waiting--
  }
}
