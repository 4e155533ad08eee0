/**
 * One task on its way through a pool: its name and prepared arguments, where
 * it is (queued, sent to a worker, running there, settled), and the callback
 * that hands its outcome back to the caller.
 *
 * @internal
 */
import type { Cost } from "./cost.ts"
import type { Slot } from "./slot.ts"

/** In the pool's queue; counts as waiting. */
export const QUEUED = 0
/** Sent to a worker, behind its running task; counts as waiting. */
export const SENT = 1
/** The first unfinished task of its worker: the one running there. */
export const RUNNING = 2
/** Done, failed or dropped: its caller has been told (or no longer listens). */
export const SETTLED = 3

/** How a task's outcome reaches its caller: `ok` with the value, or not with the error. */
export type Settle = (ok: boolean, value: unknown) => void

export class Task {
  state = QUEUED
  cancelled = false
  worker: Slot | undefined = undefined
  timer: (() => void) | undefined = undefined
  /** Its claim word on its worker, or -1 (not stealable). See `claims.ts`. */
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
