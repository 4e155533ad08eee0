/**
 * The one waiter queue behind every blocking primitive of this package
 * (`Permits`, `Queue`, `Condition`): an intrusive doubly linked list, FIFO,
 * with O(1) `push`, `shift` and `unlink`, so that an interrupted or timed-out
 * waiter leaves from the middle without a search.
 *
 * A waiter is any object with `prev` / `next` links; each primitive keeps
 * its own fields beside them (the permits asked for, the item handed over,
 * whether it was notified).
 *
 * @internal
 */

/** @internal */
export interface Link<W> {
  prev: W | undefined
  next: W | undefined
}

/** @internal */
export class WaitList<W extends Link<W>> {
  head: W | undefined = undefined
  tail: W | undefined = undefined
  size = 0

  /** Appends `waiter` (which must not be in a list). */
  push(waiter: W): void {
    waiter.prev = this.tail
    waiter.next = undefined
    if (this.tail === undefined) this.head = waiter
    else this.tail.next = waiter
    this.tail = waiter
    this.size++
  }

  /** Inserts `waiter` (which must not be in a list) right after `after`, or first when `after` is `undefined`. */
  insertAfter(after: W | undefined, waiter: W): void {
    if (after === this.tail) return this.push(waiter)
    const next = after === undefined ? this.head! : after.next!
    waiter.prev = after
    waiter.next = next
    next.prev = waiter
    if (after === undefined) this.head = waiter
    else after.next = waiter
    this.size++
  }

  /** Removes and returns the longest-waiting waiter, if any. */
  shift(): W | undefined {
    const waiter = this.head
    if (waiter !== undefined) this.unlink(waiter)
    return waiter
  }

  /** Removes `waiter`, which must be in this list. */
  unlink(waiter: W): void {
    if (waiter.prev === undefined) this.head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = waiter.next = undefined
    this.size--
  }
}
