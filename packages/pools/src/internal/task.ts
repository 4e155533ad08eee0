/**
 * One task on its way through a pool: its name and prepared arguments, where
 * it is (queued, sent to a worker, running there, settled), and the callback
 * that hands its outcome back to the caller; and `Tasks`, the only place a
 * task changes state, so the count of waiting tasks and its worker's load
 * always follow.
 *
 * @internal
 */
import { type Cost, load, unload } from "./cost.ts"
import type { Slot } from "./slot.ts"

/**
 * Where a task is:
 * - `queued`: in the pool's queue; counts as waiting;
 * - `sent`: sent to a worker, behind its running task; counts as waiting;
 * - `running`: the first unfinished task of its worker, the one running there;
 * - `settled`: done, failed or dropped; its caller has been told (or no longer listens).
 *
 * A cancelled task no longer counts as waiting, whatever its state.
 */
export const TaskState = { queued: 0, sent: 1, running: 2, settled: 3 } as const
export type TaskState = (typeof TaskState)[keyof typeof TaskState]

/** Whether a task in `state` (not cancelled) counts as waiting: queued or sent. */
const waits = (state: TaskState): number => (state <= TaskState.sent ? 1 : 0)
/** Whether a task in `state` is on a worker and counted in its load: sent or running. */
const onWorker = (state: TaskState): boolean => state === TaskState.sent || state === TaskState.running

/** How a task's outcome reaches its caller: `ok` with the value, or not with the error. */
export type Settle = (ok: boolean, value: unknown) => void

export class Task {
  state: TaskState = TaskState.queued
  cancelled = false
  worker: Slot | undefined = undefined
  timer: (() => void) | undefined = undefined
  /** Its claim word on its worker, or -1 (not stealable). See `steal.ts`. */
  claim = -1
  /** The expected milliseconds it added to its worker's load when it was sent (see `cost.ts`). */
  load = 0
  /** Its own run time in the worker, in milliseconds, once its result is in (-1 before, or if it did not run). */
  runMillis = -1
  readonly id: number
  readonly name: string
  readonly args: Array<unknown>
  readonly transferList: Array<any> | undefined
  readonly submittedAt: number
  readonly cost: Cost
  settle: Settle | undefined
  constructor(
    id: number,
    name: string,
    args: Array<unknown>,
    transferList: Array<any> | undefined,
    submittedAt: number,
    cost: Cost,
    settle: Settle | undefined
  ) {
    this.id = id
    this.name = name
    this.args = args
    this.transferList = transferList
    this.submittedAt = submittedAt
    this.cost = cost
    this.settle = settle
  }
}

/**
 * The tasks of one pool: makes them and moves them from state to state. Each
 * move keeps the count of waiting tasks (`waiting`) and the load of the
 * task's worker (`cost.ts`) in step, so no caller writes either by hand.
 */
export class Tasks {
  #waiting = 0
  #nextId = 1

  /** Tasks submitted and not started (queued, or sent behind a running task), not cancelled. */
  get waiting(): number {
    return this.#waiting
  }

  /** A new queued task. */
  make(name: string, args: Array<unknown>, transferList: Array<any> | undefined, cost: Cost, settle: Settle): Task {
    this.#waiting++
    return new Task(this.#nextId++, name, args, transferList, performance.now(), cost, settle)
  }

  /**
   * Moves `task` to `to`. Onto a worker (from `queued` to `sent` or `running`),
   * `task.worker` must be set first: the task joins its load. Off a worker (to
   * `queued` or `settled`), take it out of the worker's `inflight` first: it
   * leaves the load, which is zeroed once `inflight` is empty.
   */
  moveTo(task: Task, to: TaskState): void {
    const from = task.state
    if (from === to) return
    if (!task.cancelled) this.#waiting += waits(to) - waits(from)
    task.state = to
    const slot = task.worker
    if (slot === undefined) return
    const was = onWorker(from)
    if (was !== onWorker(to)) was ? unload(slot, task) : load(slot, task)
  }

  /** Marks `task` cancelled (it stops counting as waiting); a queued one is settled at once. */
  cancel(task: Task): void {
    if (task.cancelled) return
    this.#waiting -= waits(task.state)
    task.cancelled = true
    task.settle = undefined
    if (task.state === TaskState.queued) this.moveTo(task, TaskState.settled)
  }
}
