/**
 * The worker lifecycle: a `Slot` is one worker thread or child process as
 * the pool sees it, and `Workers` starts them, counts them against `size`,
 * retires them after `maxTasksPerWorker`, stops them on purpose and does the
 * bookkeeping when one exits. What happens to a worker's tasks when it exits
 * is the dispatch core's business (`core.ts`).
 *
 * A worker goes STARTING -> READY (it loaded the module) -> RETIRING (it has
 * had its last task) -> STOPPING (killed on purpose) -> DEAD (exited); a crash
 * jumps straight to DEAD.
 *
 * @internal
 */
import * as P from "./protocol.ts"
import type { Task } from "./task.ts"
import type { ExitInfo, Transport, TransportKind } from "./transport.ts"

export const STARTING = 0
export const READY = 1
export const RETIRING = 2
export const STOPPING = 3
export const DEAD = 4

export class Slot {
  state = STARTING
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
  /** Workers starting or ready: the ones counted against `size`. */
  live = 0
  starting = 0
  private nextId = 1
  private readonly kind: TransportKind
  private readonly moduleUrl: string
  private readonly events: WorkerEvents

  constructor(kind: TransportKind, moduleUrl: string, events: WorkerEvents) {
    this.kind = kind
    this.moduleUrl = moduleUrl
    this.events = events
  }

  spawn(): Slot {
    const slot = new Slot(this.nextId++)
    this.slots.add(slot)
    this.live++
    this.starting++
    const buffer = this.kind.claims ? new SharedArrayBuffer(4 * P.CLAIMS) : undefined
    if (buffer !== undefined) slot.claims = new Int32Array(buffer)
    slot.transport = this.kind.spawn(this.moduleUrl, {
      message: (message) => this.events.message(slot, message),
      exit: (info) => this.events.exit(slot, info)
    }, buffer)
    return slot
  }

  /** The worker loaded its module; false when it was not starting (stopped meanwhile). */
  ready(slot: Slot): boolean {
    if (slot.state !== STARTING) return false
    this.starting--
    slot.state = READY
    return true
  }

  /** The worker has had its last task: it gets no more, and a replacement may start beside it. */
  retire(slot: Slot): void {
    if (slot.state !== READY) return
    slot.state = RETIRING
    this.live--
  }

  /** Undoes `retire` when the last task could not be sent after all. */
  unretire(slot: Slot): void {
    if (slot.state !== RETIRING) return
    slot.state = READY
    this.live++
  }

  /** Stops a worker on purpose (idle, retired, closing, replaced). */
  stop(slot: Slot): void {
    if (slot.state === STOPPING || slot.state === DEAD) return
    if (slot.state === STARTING) this.starting--
    if (slot.state !== RETIRING) this.live--
    slot.state = STOPPING
    cancelIdleTimer(slot)
    slot.transport.kill()
  }

  /** The bookkeeping of an exit; returns the state the worker was in. */
  exited(slot: Slot): number {
    const was = slot.state
    slot.state = DEAD
    this.slots.delete(slot)
    cancelIdleTimer(slot)
    if (was === STARTING) this.starting--
    if (was === STARTING || was === READY) this.live--
    return was
  }

  /** `{ size, starting, busy, idle }` right now. */
  counts(): { size: number; starting: number; busy: number; idle: number } {
    let busy = 0
    let idle = 0
    let size = 0
    for (const slot of this.slots) {
      if (slot.state === STOPPING || slot.state === DEAD) continue
      size++
      if (slot.inflight.length > 0) busy++
      else if (slot.state === READY) idle++
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
