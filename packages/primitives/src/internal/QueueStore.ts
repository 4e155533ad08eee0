/**
 * Where a `Queue` keeps its items: a ring buffer (FIFO), a stack (LIFO) or a
 * binary heap (priority). The queue decides who waits and who is served; a
 * store only orders items.
 *
 * Each item has a sequence number, its place in the queue's order among
 * equals, so that an item given back by an interrupted getter returns to
 * exactly the place it had.
 *
 * @internal
 */
import type * as Order from "effect/Order"

/** @internal */
export interface Store<A> {
  /** Items stored (not counting items handed to getters). */
  size: number
  /** The sequence number of the item last returned by `take`. */
  lastSeq: number
  push(item: A): void
  take(): A
  /** The sequence number of an item that bypasses the (empty) store. */
  nextSeq(): number
  /** Puts back an item taken earlier, in its original place. */
  restore(item: A, seq: number): void
  clear(): void
}

/** @internal A ring buffer with an O(1) head; returned items wait in `front`. */
export class FifoStore<A> implements Store<A> {
  size = 0
  lastSeq = 0
  private buffer: Array<A | undefined>
  private mask: number
  private head = 0
  private length = 0
  /** The sequence number of the ring's head; the ring's items are consecutive. */
  private headSeq = 0
  /** Items given back, sorted by descending sequence number, all before the ring. */
  private front: Array<{ readonly item: A; readonly seq: number }> = []

  constructor(maxsize: number) {
    let capacity = 16
    while (capacity < maxsize && capacity < 1024) capacity *= 2
    this.buffer = new Array(capacity)
    this.mask = capacity - 1
  }

  push(item: A): void {
    if (this.length === this.buffer.length) this.grow()
    this.buffer[(this.head + this.length) & this.mask] = item
    this.length++
    this.size++
  }

  take(): A {
    this.size--
    if (this.front.length > 0) {
      const entry = this.front.pop()!
      this.lastSeq = entry.seq
      return entry.item
    }
    const item = this.buffer[this.head] as A
    this.buffer[this.head] = undefined
    this.head = (this.head + 1) & this.mask
    this.length--
    this.lastSeq = this.headSeq++
    return item
  }

  nextSeq(): number {
    return this.headSeq++
  }

  restore(item: A, seq: number): void {
    let i = this.front.length
    while (i > 0 && this.front[i - 1]!.seq < seq) i--
    this.front.splice(i, 0, { item, seq })
    this.size++
  }

  clear(): void {
    while (this.size > 0) this.take()
  }

  private grow(): void {
    const old = this.buffer
    const buffer = new Array<A | undefined>(old.length * 2)
    for (let i = 0; i < this.length; i++) buffer[i] = old[(this.head + i) & this.mask]
    this.buffer = buffer
    this.mask = buffer.length - 1
    this.head = 0
  }
}

/** Items beside their sequence numbers, in two parallel arrays. */
abstract class ArrayStore<A> implements Store<A> {
  size = 0
  lastSeq = 0
  protected items: Array<A> = []
  protected seqs: Array<number> = []
  protected seq = 0

  abstract push(item: A): void
  abstract take(): A
  abstract restore(item: A, seq: number): void

  nextSeq(): number {
    return this.seq++
  }

  clear(): void {
    this.items.length = 0
    this.seqs.length = 0
    this.size = 0
  }
}

/** @internal A stack; the sequence numbers ascend from bottom to top. */
export class LifoStore<A> extends ArrayStore<A> {
  push(item: A): void {
    this.items.push(item)
    this.seqs.push(this.seq++)
    this.size++
  }

  take(): A {
    this.size--
    this.lastSeq = this.seqs.pop()!
    return this.items.pop()!
  }

  restore(item: A, seq: number): void {
    let i = this.seqs.length
    while (i > 0 && this.seqs[i - 1]! > seq) i--
    this.items.splice(i, 0, item)
    this.seqs.splice(i, 0, seq)
    this.size++
  }
}

/** @internal A binary min-heap on (order, sequence number): equal items keep insertion order. */
export class PriorityStore<A> extends ArrayStore<A> {
  private readonly order: Order.Order<A>

  constructor(order: Order.Order<A>) {
    super()
    this.order = order
  }

  push(item: A): void {
    this.insert(item, this.seq++)
  }

  take(): A {
    const items = this.items
    const seqs = this.seqs
    const top = items[0]!
    this.lastSeq = seqs[0]!
    const last = items.pop()!
    const lastSeq = seqs.pop()!
    this.size--
    const n = this.size
    if (n > 0) {
      // Sift `last` down from the root.
      let i = 0
      while (true) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && this.less(items[r]!, seqs[r]!, items[l]!, seqs[l]!) ? r : l
        if (!this.less(items[c]!, seqs[c]!, last, lastSeq)) break
        items[i] = items[c]!
        seqs[i] = seqs[c]!
        i = c
      }
      items[i] = last
      seqs[i] = lastSeq
    }
    return top
  }

  restore(item: A, seq: number): void {
    this.insert(item, seq)
  }


  private less(a: A, aSeq: number, b: A, bSeq: number): boolean {
    const c = this.order(a, b)
    return c < 0 || (c === 0 && aSeq < bSeq)
  }

  private insert(item: A, seq: number): void {
    const items = this.items
    const seqs = this.seqs
    let i = this.size++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(item, seq, items[p]!, seqs[p]!)) break
      items[i] = items[p]!
      seqs[i] = seqs[p]!
      i = p
    }
    items[i] = item
    seqs[i] = seq
  }
}
