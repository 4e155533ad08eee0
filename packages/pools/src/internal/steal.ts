/**
 * Moving not-yet-started tasks from a busy worker to one that ran dry, so a
 * slow task never keeps the tasks sent behind it waiting while another worker
 * idles. Each task still runs exactly once: exactly one side decides.
 *
 * - Threads share claim words with the pool (see `protocol.ts`): the worker
 *   takes a task's word just before it starts it, the pool may take it first
 *   to move the task. Whoever wins the compare-exchange has the task. The
 *   pool steals synchronously.
 * - Processes share no memory, so the pool asks (`GIVE_BACK`) and the worker
 *   decides: it hands back (`GIVEN_BACK`) the later tasks it has not started,
 *   and never runs them. A worker blocked in a synchronous task answers only
 *   when that task ends; by then it would have started them, so tasks sent
 *   behind a task expected to be slow are never sent at all (`cost.ts`).
 *
 * @internal
 */
import * as P from "./protocol.ts"
import { type Slot, SlotState, trySend } from "./slot.ts"
import { type Task, type Tasks, TaskState } from "./task.ts"

/** A free claim word of `slot` for `task`, or -1 (not stealable). */
export const claimFor = (slot: Slot, task: Task): number => {
  const claims = slot.claims
  if (claims === undefined || task.transferList !== undefined) return -1
  for (let probe = 0; probe < P.CLAIMS; probe++) {
    const index = slot.claimCursor
    slot.claimCursor = (index + 1) % P.CLAIMS
    if (Atomics.load(claims, index) === 0) {
      Atomics.store(claims, index, P.claimWord(task.id))
      return index
    }
  }
  return -1
}

/**
 * Takes `task`'s claim word back from `slot`: true when the task is now
 * certainly not started there (its word was still set, or it had none and the
 * caller knows better), false when the worker took it first (it started).
 */
export const takeClaim = (slot: Slot, task: Task): boolean => {
  if (task.claim < 0 || slot.claims === undefined) return true
  const word = P.claimWord(task.id)
  const won = Atomics.compareExchange(slot.claims, task.claim, word, 0) === word
  task.claim = -1
  return won
}

/** The worker (other than `thief`) holding the most tasks it has not started, with how many. */
const fullest = (slots: Iterable<Slot>, thief: Slot, claims: boolean): Slot | undefined => {
  let victim: Slot | undefined
  let most = 0
  for (const slot of slots) {
    if (slot === thief || (slot.state !== SlotState.ready && slot.state !== SlotState.retiring)) continue
    if ((slot.claims !== undefined) !== claims || (!claims && slot.reclaiming)) continue
    const unstarted = slot.inflight.length - 1
    if (unstarted > most) {
      most = unstarted
      victim = slot
    }
  }
  return victim
}

/** Takes `task` off `slot` and makes it a queued task again. */
const detach = (tasks: Tasks, slot: Slot, task: Task, index: number): void => {
  slot.inflight.splice(index, 1)
  slot.sent--
  task.claim = -1
  tasks.moveTo(task, TaskState.queued)
  task.worker = undefined
}

/**
 * Thread workers: steals the later half of the not-yet-started tasks of the
 * worker holding the most of them; returns them in order (for the front of
 * the queue). A task the worker already claimed stays, and so does every
 * task before it.
 */
export const steal = (tasks: Tasks, slots: Iterable<Slot>, thief: Slot): Array<Task> => {
  const victim = fullest(slots, thief, true)
  if (victim === undefined) return []
  const inflight = victim.inflight
  const want = Math.ceil((inflight.length - 1) / 2)
  const stolen: Array<Task> = []
  for (let i = inflight.length - 1; i >= 1 && stolen.length < want; i--) {
    const task = inflight[i]!
    if (task.cancelled || task.claim < 0) continue
    if (!takeClaim(victim, task)) break
    detach(tasks, victim, task, i)
    stolen.push(task)
  }
  return stolen.reverse()
}

/**
 * Process workers: asks the worker holding the most not-yet-started tasks to
 * give the later half back (the worker gives all of them while it runs an
 * async task, since they all wait behind it). Returns whether it asked; the
 * answer comes as a `GIVEN_BACK` message (see `givenBack`).
 */
export const askGiveBack = (slots: Iterable<Slot>, thief: Slot): boolean => {
  const victim = fullest(slots, thief, false)
  if (victim === undefined) return false
  victim.reclaiming = true
  trySend(victim, [P.GIVE_BACK, Math.ceil((victim.inflight.length - 1) / 2)])
  return true
}

/**
 * The worker's answer: these tasks (ids in order) will never run there.
 * Returns them, queued again, in order.
 */
export const givenBack = (tasks: Tasks, slot: Slot, ids: ReadonlyArray<number>): Array<Task> => {
  slot.reclaiming = false
  const back: Array<Task> = []
  for (const id of ids) {
    const index = slot.inflight.findIndex((t) => t.id === id)
    if (index < 0) continue
    const task = slot.inflight[index]!
    detach(tasks, slot, task, index)
    back.push(task)
  }
  return back
}
