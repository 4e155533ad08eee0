/**
 * What a task is expected to cost, learned per task name, and the rule that
 * decides whether a task may wait on a busy worker behind the tasks it holds.
 *
 * This is what keeps tiny tasks cheap without holding slow ones hostage:
 * - a worker holds tasks behind its running one only while its expected work
 *   in flight stays under `TARGET_MILLIS` (up to `MAX_DEPTH` tiny tasks
 *   travel to it at once, many to a message);
 * - a task whose name has not been measured yet, or was last seen slow,
 *   goes only to a worker with nothing in flight, and nothing is sent behind
 *   it (like `concurrent.futures.ProcessPoolExecutor`, which keeps only
 *   `max_workers + 1` calls queued for this reason);
 * - once a worker's running task has run `OVERDUE_MILLIS`, it gets nothing
 *   more until it answers.
 *
 * The per-name estimate rises at once on a slow run and decays slowly on fast
 * ones, so one slow run is enough to stop sending tasks behind that name.
 *
 * @internal
 */
import type { Slot } from "./slot.ts"
import type { Task } from "./task.ts"

/** About this much expected work per worker in flight. */
export const TARGET_MILLIS = 2
/** Most tasks in flight on one worker. */
export const MAX_DEPTH = 64
/** A running task older than this stops its worker from getting more. */
export const OVERDUE_MILLIS = 10

/** The expected duration of one task name, in milliseconds (`Infinity` until measured). */
export interface Cost {
  millis: number
}

/** The expected cost of each task name. */
export class Costs {
  private readonly byName = new Map<string, Cost>()

  of(name: string): Cost {
    let cost = this.byName.get(name)
    if (cost === undefined) {
      cost = { millis: Number.POSITIVE_INFINITY }
      this.byName.set(name, cost)
    }
    return cost
  }
}

/** Records one measured run: up at once, down slowly. */
export const record = (cost: Cost, millis: number): void => {
  cost.millis = millis >= cost.millis || cost.millis === Number.POSITIVE_INFINITY ? millis : cost.millis * 0.7 + millis * 0.3
}

/** Whether `task` may be sent to `slot` now (`now` from `performance.now()`). */
export const fits = (slot: Slot, task: Task, now: number): boolean => {
  const n = slot.inflight.length
  if (n === 0) return true
  if (n >= MAX_DEPTH || slot.heavy > 0 || slot.load >= TARGET_MILLIS || now - slot.headSince > OVERDUE_MILLIS) return false
  return task.cost.millis <= TARGET_MILLIS
}

/** Adds a task sent to `slot` to its expected load. */
export const load = (slot: Slot, task: Task): void => {
  const millis = task.cost.millis
  if (millis > TARGET_MILLIS) {
    slot.heavy++
    task.load = -1
  } else {
    slot.load += millis
    task.load = millis
  }
}

/** Takes a task that left `slot` (settled, stolen, given back, requeued) off its load. */
export const unload = (slot: Slot, task: Task): void => {
  if (task.load < 0) slot.heavy--
  else slot.load -= task.load
  task.load = 0
  if (slot.inflight.length === 0) emptyLoad(slot)
}

/** A worker with nothing in flight has no load (and no rounding left over from the subtractions). */
export const emptyLoad = (slot: Slot): void => {
  slot.load = 0
  slot.heavy = 0
}
