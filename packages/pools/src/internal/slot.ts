/**
 * The worker lifecycle: a `Slot` is one worker thread or child process as
 * the pool sees it, and `Workers` starts them, counts them against `size`,
 * retires them after `maxTasksPerWorker`, stops them on purpose and does the
 * bookkeeping when one exits. What happens to a worker's tasks when it exits
 * is the dispatch core's business (`core.ts`).
 *
 * A worker goes `starting` -> `ready` (it loaded the module) -> `retiring` (it
 * has had its last task) -> `stopping` (killed on purpose) -> `dead` (exited);
 * a crash jumps straight to `dead`. `Workers.moveTo` is the only place a slot
 * changes state, so the `live` and `starting` counts always follow.
 *
 * @internal
 */
import * as P from "./protocol.ts"
import type { Task } from "./task.ts"
import type { ExitInfo, Transport, TransportKind } from "./transport.ts"

/** Where a worker is in its life (see the module doc); the numbers order it. */
export const SlotState = { starting: 0, ready: 1, retiring: 2, stopping: 3, dead: 4 } as const
export type SlotState = (typeof SlotState)[keyof typeof SlotState]

/** Whether a worker in `state` counts against `size`: starting or ready. */
const live = (state: SlotState): number => (state <= SlotState.ready ? 1 : 0)
const starting = (state: SlotState): number => (state === SlotState.starting ? 1 : 0)

/** Whether the worker is stopping or has exited: it takes no more messages. */
export const gone = (slot: Slot): boolean => slot.state >= SlotState.stopping

export class Slot {
  state: SlotState = SlotState.starting
  /** Tasks sent and not settled, in the order the worker runs them: the first is running. */
  readonly inflight: Array<Task> = []
  /** Tasks ever sent (for `maxTasksPerWorker`). */
  sent = 0
  /** Expected milliseconds of the light tasks in flight, and how many heavy ones (see `cost.ts`). */
  load = 0
  heavy = 0
  /** When the core last saw its first task start (`performance.now()`). */
  headSince = 0
  /** Killed because its running task was stuck: its other tasks are salvaged when it has exited. */
  replaced = false
  /** A give-back request is on its way to this (process) worker (see `steal.ts`). */
  reclaiming = false
  idleTimer: (() => void) | undefined = undefined
  initError: string | undefined = undefined
  transport!: Transport
  /** Claim words shared with a thread worker (see `steal.ts`). */
  claims: Int32Array | undefined = undefined
  claimCursor = 0
  readonly id: number
  constructor(id: number) {
    this.id = id
  }
}

export interface WorkerEvents {
  readonly message: (slot: Slot, message: Array<any>) => void
  readonly exit: (slot: Slot, info: ExitInfo) => void
}

export class Workers {
  readonly slots = new Set<Slot>()
  #live = 0
  #starting = 0
  private nextId = 1
  private readonly kind: TransportKind
  private readonly moduleUrl: string
  private readonly events: WorkerEvents

  constructor(kind: TransportKind, moduleUrl: string, events: WorkerEvents) {
    this.kind = kind
    this.moduleUrl = moduleUrl
    this.events = events
  }

  /** Workers starting or ready: the ones counted against `size`. */
  get live(): number {
    return this.#live
  }

  /** Workers starting. */
  get starting(): number {
    return this.#starting
  }

  spawn(): Slot {
    const slot = new Slot(this.nextId++)
    this.slots.add(slot)
    this.count(slot.state, 1)
    const buffer = this.kind.claims ? new SharedArrayBuffer(4 * P.CLAIMS) : undefined
    if (buffer !== undefined) slot.claims = new Int32Array(buffer)
    slot.transport = this.kind.spawn(this.moduleUrl, {
      message: (message) => this.events.message(slot, message),
      exit: (info) => this.events.exit(slot, info)
    }, buffer)
    return slot
  }

  /** Moves `slot` to `to`, keeping `live` and `starting` in step. */
  private moveTo(slot: Slot, to: SlotState): void {
    this.count(slot.state, -1)
    slot.state = to
    this.count(to, 1)
  }

  private count(state: SlotState, by: 1 | -1): void {
    this.#live += by * live(state)
    this.#starting += by * starting(state)
  }

  /** The worker loaded its module; false when it was not starting (stopped meanwhile). */
  ready(slot: Slot): boolean {
    if (slot.state !== SlotState.starting) return false
    this.moveTo(slot, SlotState.ready)
    return true
  }

  /** The worker has had its last task: it gets no more, and a replacement may start beside it. */
  retire(slot: Slot): void {
    if (slot.state === SlotState.ready) this.moveTo(slot, SlotState.retiring)
  }

  /** Undoes `retire` when the last task could not be sent after all. */
  unretire(slot: Slot): void {
    if (slot.state === SlotState.retiring) this.moveTo(slot, SlotState.ready)
  }

  /** Stops a worker on purpose (idle, retired, closing, replaced). */
  stop(slot: Slot): void {
    if (gone(slot)) return
    this.moveTo(slot, SlotState.stopping)
    cancelIdleTimer(slot)
    slot.transport.kill()
  }

  /** The bookkeeping of an exit; returns the state the worker was in. */
  exited(slot: Slot): SlotState {
    const was = slot.state
    this.moveTo(slot, SlotState.dead)
    this.slots.delete(slot)
    cancelIdleTimer(slot)
    return was
  }

  /** `{ size, starting, busy, idle }` right now. */
  counts(): { size: number; starting: number; busy: number; idle: number } {
    let busy = 0
    let idle = 0
    let size = 0
    for (const slot of this.slots) {
      if (gone(slot)) continue
      size++
      if (slot.inflight.length > 0) busy++
      else if (slot.state === SlotState.ready) idle++
    }
    return { size, starting: this.starting, busy, idle }
  }
}

export const cancelIdleTimer = (slot: Slot): void => {
  if (slot.idleTimer !== undefined) {
    slot.idleTimer()
    slot.idleTimer = undefined
  }
}

/** Sends a control message; a worker that is going away is cleaned up by its exit handler. */
export const trySend = (slot: Slot, message: Array<unknown>): void => {
  try {
    slot.transport.send(message, undefined)
  } catch {
    // the worker is going away
  }
}
