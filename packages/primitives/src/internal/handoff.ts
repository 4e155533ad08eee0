/**
 * Wakes a waiter whose fiber was just handed a permit, lock or item.
 *
 * Why not Effect's scheduler: Effect's Semaphore wakes waiters through the
 * fiber's dispatcher, one `setImmediate` per contended hand-off. Weft hands the
 * resource to the waiter at release time (so nobody can barge in) and resumes
 * it on a microtask, batched. Every `budget` batches in a row, one batch goes
 * through `setImmediate` instead, so a hot lock passed around between fibers
 * cannot starve timers and I/O.
 *
 * @internal
 */
import { setImmediate } from "node:timers"

const budget = 256
let pending: Array<() => void> = []
let scheduled = false
let streak = 0

const flush = (): void => {
  scheduled = false
  const batch = pending
  pending = []
  for (let i = 0; i < batch.length; i++) batch[i]!()
}

const flushFromMacrotask = (): void => {
  streak = 0
  flush()
}

/** @internal */
export const wake = (resume: () => void): void => {
  pending.push(resume)
  if (scheduled) return
  scheduled = true
  if (++streak >= budget) {
    setImmediate(flushFromMacrotask)
  } else {
    queueMicrotask(flush)
  }
}

/**
 * Forgets the streak of microtask flushes, as after a macrotask: for tests
 * that compare two runs of one schedule, which must start alike.
 *
 * @internal
 */
export const resetStreak = (): void => {
  streak = 0
}
