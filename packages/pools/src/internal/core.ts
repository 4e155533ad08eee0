/**
 * The queue-and-dispatch core shared by `ThreadPool` and `ProcessPool`. Plain
 * JavaScript on purpose: it sits on the hot path of every task, so it has no
 * fibers and no allocation beyond one record per task. The Effect API in
 * `Pool.ts` wraps it.
 *
 * How it keeps tiny tasks cheap and stays fair:
 * - one FIFO queue; tasks go to workers in submission order;
 * - a worker runs its tasks one at a time, so the first unfinished task sent
 *   to it is the running one and the rest have not started;
 * - each worker may hold `depth` tasks at once, where `depth` adapts to the
 *   measured task time (about 2 ms of work per worker in flight: 1 for slow
 *   tasks, up to 64 for tiny ones), so a slow task never holds many others
 *   hostage while tiny tasks travel many to a message;
 * - tasks submitted in the same tick go out in one message per worker, and
 *   workers send results back in batches;
 * - a thread worker that runs dry while the queue is empty steals the later
 *   half of the not-yet-started tasks of the fullest worker (claim words in
 *   shared memory decide who runs a task, see `protocol.ts`), so a slow task
 *   never keeps the tasks sent behind it waiting while another worker idles.
 *
 * @internal
 */
import {
  InvalidArgumentError,
  PoolClosedError,
  PoolFullError,
  TaskError,
  TaskTimeoutError,
  WorkerCrashedError
} from "../errors.ts"
import { isTransfer } from "../worker.ts"
import { Histogram } from "./histogram.ts"
import * as P from "./protocol.ts"
import type { ExitInfo, Transport, TransportKind } from "./transport.ts"

export interface Timers {
  /** Runs `f` after `millis`; returns a function that cancels it. */
  readonly set: (millis: number, f: () => void) => () => void
}

export interface CoreOptions {
  readonly kind: TransportKind
  readonly moduleUrl: string
  readonly size: number
  readonly minSize: number
  readonly idleTimeoutMillis: number
  readonly maxQueued: number
  readonly maxTasksPerWorker: number
  readonly taskTimeoutMillis: number | undefined
  readonly abortTimeoutMillis: number
  readonly timers: Timers
}

export type TaskFailure =
  | TaskError
  | WorkerCrashedError
  | PoolClosedError
  | PoolFullError
  | TaskTimeoutError
  | InvalidArgumentError

export type Settle = (ok: boolean, value: unknown) => void

const QUEUED = 0
const SENT = 1
const RUNNING = 2
const SETTLED = 3

export class Task {
  state = QUEUED
  cancelled = false
  worker: Slot | undefined = undefined
  timer: (() => void) | undefined = undefined
  /** Its claim word on its worker, or -1 (not stealable). */
  claim = -1
  readonly id: number
  readonly name: string
  readonly args: Array<unknown>
  readonly transferList: Array<any> | undefined
  readonly submittedAt: number
  settle: Settle | undefined
  constructor(
    id: number,
    name: string,
    args: Array<unknown>,
    transferList: Array<any> | undefined,
    submittedAt: number,
    settle: Settle | undefined
  ) {
    this.id = id
    this.name = name
    this.args = args
    this.transferList = transferList
    this.submittedAt = submittedAt
    this.settle = settle
  }
}

const STARTING = 0
const READY = 1
const RETIRING = 2
const STOPPING = 3
const DEAD = 4

export class Slot {
  state = STARTING
  readonly inflight: Array<Task> = []
  sent = 0
  idleTimer: (() => void) | undefined = undefined
  initError: string | undefined = undefined
  transport!: Transport
  /** Claim words shared with a thread worker (see `protocol.ts`). */
  claims: Int32Array | undefined = undefined
  claimCursor = 0
  readonly id: number
  constructor(id: number) {
    this.id = id
  }
}

const MAX_DEPTH = 64
const TARGET_MILLIS = 2

export interface CoreStats {
  readonly size: number
  readonly starting: number
  readonly busy: number
  readonly idle: number
  readonly queued: number
  readonly completed: number
  readonly failed: number
  readonly cancelled: number
  readonly stolen: number
}

export class Core {
  readonly pool: "ThreadPool" | "ProcessPool"
  readonly histogram = new Histogram()
  state: "open" | "closing" | "terminated" = "open"
  names: Set<string> | undefined = undefined
  /** Why the last worker that failed to start could not load the module. */
  initError: string | undefined = undefined

  private readonly queue: Array<Task> = []
  private qhead = 0
  /** Tasks submitted and not started: in the queue, or sent and waiting behind a running task. */
  private waiting = 0
  private readonly slots = new Set<Slot>()
  /** Slots starting or ready (the ones counted against `size`). */
  private live = 0
  private starting = 0
  private nextTaskId = 1
  private nextWorkerId = 1
  private dispatchScheduled = false
  private inResults = false
  private avgMillis = Number.POSITIVE_INFINITY
  private startupFailures = 0
  private lastStartupError: ExitInfo & { readonly slot: number; readonly reason: string | undefined } | undefined
  private completed = 0
  private failed = 0
  private cancelledCount = 0
  /** Tasks moved from a busy worker to an idle one. */
  private stolen = 0
  private readonly exitWaiters: Array<() => void> = []
  private readonly readyWaiters: Array<(error: string | undefined) => void> = []

  readonly options: CoreOptions
  constructor(options: CoreOptions) {
    this.options = options
    this.pool = options.kind.pool
  }

  // ---------------------------------------------------------------- submit

  /** Queues a task; returns it (to cancel), or settles `settle` at once with an error. */
  submit(name: string, rawArgs: ReadonlyArray<unknown>, settle: Settle): Task | undefined {
    if (this.state !== "open") {
      settle(false, new PoolClosedError({ pool: this.pool, operation: "submit", state: this.state === "closing" ? "closed" : "terminated" }))
      return undefined
    }
    if (this.names !== undefined && !this.names.has(name)) {
      settle(false, this.unknownTask(name))
      return undefined
    }
    if (this.waiting >= this.options.maxQueued && this.dispatchScheduled && !this.inResults) {
      // Tasks submitted this tick may be about to start on idle workers: dispatch now, then count.
      this.dispatch()
    }
    if (this.waiting >= this.options.maxQueued) {
      settle(false, new PoolFullError({ pool: this.pool, maxQueued: this.options.maxQueued }))
      return undefined
    }
    let args = rawArgs as Array<unknown>
    let transferList: Array<any> | undefined
    let attach: Array<number> | undefined
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]
      if (arg === null || typeof arg !== "object") continue
      if (isTransfer(arg)) {
        if (args === rawArgs) args = rawArgs.slice()
        args[i] = arg.value
        if (arg.transferList.length > 0 && this.options.kind.problem === undefined) {
          transferList ??= []
          for (const t of arg.transferList) transferList.push(t)
        }
        continue
      }
      const handle = P.attachableHandle(arg)
      if (handle !== undefined) {
        if (args === rawArgs) args = rawArgs.slice()
        args[i] = handle
        ;(attach ??= []).push(i)
      }
    }
    const problem = this.options.kind.problem
    if (problem !== undefined) {
      for (let i = 0; i < args.length; i++) {
        const arg = args[i] as { _tag?: unknown } | null
        const why = arg !== null && typeof arg === "object" && typeof arg._tag === "string" && arg._tag.startsWith("Shared")
          ? `argument ${i} is a ${arg._tag}, which works between threads only (use a Manager primitive between processes)`
          : problem(args[i], `argument ${i}`)
        if (why !== undefined) {
          settle(false, this.notCloneable(name, args[i], why))
          return undefined
        }
      }
    }
    const sent: any = attach === undefined ? args : { [P.ATTACH]: attach, args }
    const task = new Task(this.nextTaskId++, name, sent, transferList, performance.now(), settle)
    this.queue.push(task)
    this.waiting++
    if (this.startupFailures >= 3 && this.live === 0) this.startupFailures = 0
    if (!this.dispatchScheduled) {
      this.dispatchScheduled = true
      queueMicrotask(this.dispatch)
    }
    return task
  }

  /** The caller no longer wants the task (its fiber was interrupted). */
  cancel(task: Task): void {
    if (task.cancelled || task.state === SETTLED) return
    task.cancelled = true
    task.settle = undefined
    this.cancelledCount++
    if (task.state === QUEUED) {
      task.state = SETTLED
      this.waiting--
      return
    }
    const slot = task.worker!
    if (task.state === SENT) this.waiting--
    if (slot.state === DEAD || slot.state === STOPPING) return
    this.trySend(slot, [P.CANCEL, task.id], undefined)
    if (task.state === RUNNING) this.armAbortTimer(slot, task)
  }

  // ---------------------------------------------------------------- dispatch

  private depth(): number {
    const d = Math.ceil(TARGET_MILLIS / this.avgMillis)
    return d < 1 ? 1 : d > MAX_DEPTH ? MAX_DEPTH : d
  }

  private readonly dispatch = (): void => {
    this.dispatchScheduled = false
    if (this.state === "terminated") return
    if (this.qhead < this.queue.length && this.slots.size > 0) {
      const depth = this.depth()
      // First one task to every idle worker, then fill each up to depth.
      for (let pass = 0; pass < 2 && this.qhead < this.queue.length; pass++) {
        for (const slot of this.slots) {
          if (slot.state !== READY) continue
          const limit = pass === 0 ? 1 : depth
          if (slot.inflight.length >= limit) continue
          this.fill(slot, limit)
          if (this.qhead >= this.queue.length) break
        }
      }
    }
    if (this.qhead === this.queue.length && this.qhead > 0) {
      this.queue.length = 0
      this.qhead = 0
    } else if (this.qhead > 1024 && this.qhead * 2 > this.queue.length) {
      this.queue.splice(0, this.qhead)
      this.qhead = 0
    }
    this.grow()
    this.maybeFinishClose()
  }

  private fill(slot: Slot, limit: number): void {
    let message: Array<unknown> | undefined
    let transferList: Array<any> | undefined
    const batch: Array<Task> = []
    const max = this.options.maxTasksPerWorker
    while (slot.inflight.length < limit && this.qhead < this.queue.length && slot.sent < max) {
      const task = this.queue[this.qhead++]!
      if (task.cancelled) continue
      message ??= [P.RUN]
      task.claim = this.claimFor(slot, task)
      message.push(task.id, task.claim, task.name, task.args)
      if (task.transferList !== undefined) {
        transferList ??= []
        for (const t of task.transferList) transferList.push(t)
      }
      batch.push(task)
      task.worker = slot
      slot.inflight.push(task)
      slot.sent++
      if (slot.inflight.length === 1) this.markRunning(slot, task)
      else task.state = SENT
    }
    if (message === undefined) return
    if (slot.idleTimer !== undefined) {
      slot.idleTimer()
      slot.idleTimer = undefined
    }
    if (slot.sent >= max) this.retire(slot)
    try {
      slot.transport.send(message, transferList)
    } catch {
      this.sendOneByOne(slot, batch)
    }
  }

  /** A batch failed to serialize: find the task(s) that cannot cross and refuse only them. */
  private sendOneByOne(slot: Slot, batch: Array<Task>): void {
    for (const task of batch) {
      try {
        slot.transport.send([P.RUN, task.id, task.claim, task.name, task.args], task.transferList)
      } catch (error) {
        this.dropClaim(slot, task)
        const index = slot.inflight.indexOf(task)
        if (index >= 0) slot.inflight.splice(index, 1)
        slot.sent--
        if (task.state === SENT) this.waiting--
        this.clearTimer(task)
        const why = `it could not be cloned (${String((error as Error)?.message ?? error)})`
        this.fail(task, this.notCloneable(task.name, task.args, why))
      }
    }
    if (slot.state === RETIRING && slot.sent < this.options.maxTasksPerWorker) {
      slot.state = READY
      this.live++
    }
    const head = slot.inflight[0]
    if (head !== undefined && head.state === SENT) this.markRunning(slot, head)
    if (slot.inflight.length === 0) this.onIdle(slot)
  }

  /** A free claim word of `slot` for `task`, or -1 (not stealable). */
  private claimFor(slot: Slot, task: Task): number {
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

  /** Frees the claim word of a task that will never start on `slot`. */
  private dropClaim(slot: Slot, task: Task): void {
    if (task.claim >= 0 && slot.claims !== undefined) {
      Atomics.compareExchange(slot.claims, task.claim, P.claimWord(task.id), 0)
    }
    task.claim = -1
  }

  /**
   * `thief` ran dry and the queue is empty: move the later half of the
   * not-yet-started tasks of the worker holding the most of them back to the
   * front of the queue (in order), for `dispatch` to send to `thief`. A task
   * the worker has already claimed stays, and so does every task before it.
   */
  private steal(thief: Slot): number {
    let victim: Slot | undefined
    let most = 0
    for (const slot of this.slots) {
      if (slot === thief || slot.claims === undefined || (slot.state !== READY && slot.state !== RETIRING)) continue
      const unstarted = slot.inflight.length - 1
      if (unstarted > most) {
        most = unstarted
        victim = slot
      }
    }
    if (victim === undefined) return 0
    const claims = victim.claims!
    const inflight = victim.inflight
    const stolen: Array<Task> = []
    const want = Math.ceil(most / 2)
    for (let i = inflight.length - 1; i >= 1 && stolen.length < want; i--) {
      const task = inflight[i]!
      if (task.cancelled || task.claim < 0) continue
      if (Atomics.compareExchange(claims, task.claim, P.claimWord(task.id), 0) !== P.claimWord(task.id)) break
      inflight.splice(i, 1)
      victim.sent--
      task.claim = -1
      task.state = QUEUED
      task.worker = undefined
      stolen.push(task)
    }
    if (stolen.length === 0) return 0
    stolen.reverse()
    this.queue.splice(this.qhead, 0, ...stolen)
    this.stolen += stolen.length
    return stolen.length
  }

  private markRunning(_slot: Slot, task: Task): void {
    if (task.state === QUEUED) this.waiting--
    else if (task.state === SENT && !task.cancelled) this.waiting--
    task.state = RUNNING
    const timeout = this.options.taskTimeoutMillis
    if (timeout !== undefined && !task.cancelled) {
      task.timer = this.options.timers.set(timeout, () => this.onTaskTimeout(task))
    }
  }

  private grow(): void {
    if (this.state !== "open" && this.waiting === 0) return
    if (this.startupFailures >= 3) {
      if (this.live === 0) this.failStartup()
      return
    }
    const wanted = this.queue.length - this.qhead
    while (this.live < this.options.size && (this.starting < wanted || this.live < this.options.minSize)) {
      this.spawn()
    }
  }

  // ---------------------------------------------------------------- workers

  spawn(): Slot {
    const slot = new Slot(this.nextWorkerId++)
    this.slots.add(slot)
    this.live++
    this.starting++
    const buffer = this.options.kind.claims ? new SharedArrayBuffer(4 * P.CLAIMS) : undefined
    if (buffer !== undefined) slot.claims = new Int32Array(buffer)
    slot.transport = this.options.kind.spawn(this.options.moduleUrl, {
      message: (message) => this.onMessage(slot, message),
      exit: (info) => this.onExit(slot, info)
    }, buffer)
    return slot
  }

  private onMessage(slot: Slot, message: Array<any>): void {
    switch (message[0]) {
      case P.RESULTS:
        return this.onResults(slot, message)
      case P.READY: {
        if (slot.state !== STARTING) return
        this.starting--
        slot.state = READY
        this.startupFailures = 0
        this.names ??= new Set(message[1] as Array<string>)
        for (const waiter of this.readyWaiters.splice(0)) waiter(undefined)
        if (this.state === "closing" && this.waiting === 0) this.stopSlot(slot)
        else {
          this.dispatch()
          if (slot.inflight.length === 0) this.onIdle(slot)
        }
        return
      }
      case P.INIT_FAILED: {
        slot.initError = String(message[1])
        slot.transport.kill()
        return
      }
    }
  }

  private onResults(slot: Slot, message: Array<any>): void {
    this.inResults = true
    try {
      this.handleResults(slot, message)
    } finally {
      this.inResults = false
    }
    if (slot.inflight.length === 0) this.onIdle(slot)
    this.dispatch()
  }

  private handleResults(slot: Slot, message: Array<any>): void {
    const busy = message[1] as number
    let counted = 0
    for (let i = 2; i < message.length; i += 3) {
      const id = message[i] as number
      const status = message[i + 1] as number
      const value = message[i + 2]
      const inflight = slot.inflight
      let index = 0
      if (inflight[0]?.id !== id) {
        index = inflight.findIndex((t) => t.id === id)
        if (index < 0) continue
      }
      const task = inflight[index]!
      inflight.splice(index, 1)
      if (status !== P.CANCELLED) counted++
      if (task.timer !== undefined) this.clearTimer(task)
      if (index === 0 && inflight.length > 0) this.markRunning(slot, inflight[0]!)
      if (status === P.CANCELLED) this.dropClaim(slot, task)
      if (task.cancelled) {
        task.state = SETTLED
        continue
      }
      if (task.state === SENT) this.waiting--
      task.state = SETTLED
      switch (status) {
        case P.OK:
          this.succeed(task, value)
          break
        case P.FAILED: {
          const remote = value as P.RemoteError
          this.fail(
            task,
            new TaskError({
              pool: this.pool,
              task: task.name,
              remoteName: remote.name,
              remoteMessage: remote.message,
              remoteStack: remote.stack,
              ...(remote.value !== undefined ? { remoteValue: remote.value } : {})
            })
          )
          break
        }
        case P.UNKNOWN_TASK:
          this.fail(task, this.unknownTask(task.name))
          break
        case P.NOT_CLONEABLE:
          this.fail(
            task,
            new TaskError({
              pool: this.pool,
              task: task.name,
              remoteName: "DataCloneError",
              remoteMessage: `the task's result cannot cross back: ${String(value)}`,
              remoteStack: undefined
            })
          )
          break
        case P.CANCELLED:
          break
      }
    }
    if (counted > 0 && busy > 0) {
      const sample = busy / counted
      this.avgMillis = this.avgMillis === Number.POSITIVE_INFINITY ? sample : this.avgMillis * 0.8 + sample * 0.2
    }
  }

  private onIdle(slot: Slot): void {
    if (slot.inflight.length > 0) return
    if (slot.state === RETIRING) return this.stopSlot(slot)
    if (slot.state !== READY) return
    if (this.state === "closing" && this.waiting === 0) return this.stopSlot(slot)
    if (this.qhead === this.queue.length && this.steal(slot) > 0) return this.dispatch()
    if (this.live > this.options.minSize && slot.idleTimer === undefined && this.qhead === this.queue.length) {
      slot.idleTimer = this.options.timers.set(this.options.idleTimeoutMillis, () => {
        slot.idleTimer = undefined
        if (slot.state === READY && slot.inflight.length === 0 && this.live > this.options.minSize) this.stopSlot(slot)
      })
    }
  }

  /** The worker has had its last task: it gets no more, and a replacement may start beside it. */
  private retire(slot: Slot): void {
    if (slot.state !== READY) return
    slot.state = RETIRING
    this.live--
  }

  /** Stops a worker on purpose (idle, retired, closing, replaced). */
  private stopSlot(slot: Slot): void {
    if (slot.state === STOPPING || slot.state === DEAD) return
    if (slot.state === STARTING) this.starting--
    if (slot.state !== RETIRING) this.live--
    slot.state = STOPPING
    if (slot.idleTimer !== undefined) {
      slot.idleTimer()
      slot.idleTimer = undefined
    }
    slot.transport.kill()
  }

  /** Kills a worker whose running task is stuck; its other tasks go back to the queue. */
  private replace(slot: Slot): void {
    const running = slot.inflight.shift()
    if (running !== undefined) this.clearTimer(running)
    this.requeue(slot)
    this.stopSlot(slot)
    this.dispatch()
  }

  private requeue(slot: Slot): void {
    const back: Array<Task> = []
    for (const task of slot.inflight) {
      this.clearTimer(task)
      if (task.cancelled) {
        task.state = SETTLED
        continue
      }
      task.state = QUEUED
      task.worker = undefined
      task.claim = -1
      back.push(task)
    }
    slot.inflight.length = 0
    if (back.length > 0) this.queue.splice(this.qhead, 0, ...back)
  }

  private onExit(slot: Slot, info: ExitInfo): void {
    const was = slot.state
    slot.state = DEAD
    this.slots.delete(slot)
    if (slot.idleTimer !== undefined) {
      slot.idleTimer()
      slot.idleTimer = undefined
    }
    if (was === STARTING) this.starting--
    if (was === STARTING || was === READY) this.live--
    if (was !== STOPPING) {
      // A crash: the running task fails, the others go back to the queue.
      const reason = slot.initError ?? info.error
      const running = slot.inflight.shift()
      if (running !== undefined) {
        this.clearTimer(running)
        if (!running.cancelled && running.state !== SETTLED) {
          running.state = SETTLED
          this.fail(running, this.crashed(running.name, slot, info, reason))
        }
      }
      this.requeue(slot)
      if (was === STARTING) {
        this.startupFailures++
        if (slot.initError !== undefined) this.initError = slot.initError
        this.lastStartupError = { ...info, slot: slot.id, reason }
        for (const waiter of this.readyWaiters.splice(0)) waiter(reason ?? describeExit(info))
      }
    } else {
      // Stopped on purpose; anything still in flight was cancelled or terminated.
      for (const task of slot.inflight) this.clearTimer(task)
      slot.inflight.length = 0
    }
    if (this.state === "open" || (this.state === "closing" && this.waiting > 0)) this.dispatch()
    this.checkExited()
  }

  private failStartup(): void {
    const info = this.lastStartupError
    while (this.qhead < this.queue.length) {
      const task = this.queue[this.qhead++]!
      if (task.cancelled) continue
      this.waiting--
      task.state = SETTLED
      this.fail(
        task,
        this.crashed(task.name, { id: info?.slot ?? 0 } as Slot, info ?? { code: null, signal: null, error: undefined }, `the worker could not start${info?.reason ? `: ${info.reason}` : ""}`)
      )
    }
  }

  // ---------------------------------------------------------------- timers

  private clearTimer(task: Task): void {
    if (task.timer !== undefined) {
      task.timer()
      task.timer = undefined
    }
  }

  private onTaskTimeout(task: Task): void {
    task.timer = undefined
    const slot = task.worker
    if (task.state !== RUNNING || slot === undefined || slot.inflight[0] !== task) return
    task.state = SETTLED
    if (!task.cancelled) {
      this.fail(task, new TaskTimeoutError({ pool: this.pool, task: task.name, timeoutMillis: this.options.taskTimeoutMillis! }))
    }
    this.replace(slot)
  }

  private armAbortTimer(slot: Slot, task: Task): void {
    this.clearTimer(task)
    task.timer = this.options.timers.set(this.options.abortTimeoutMillis, () => {
      task.timer = undefined
      if (slot.inflight[0] === task && slot.state !== DEAD && slot.state !== STOPPING) this.replace(slot)
    })
  }

  // ---------------------------------------------------------------- settle

  private succeed(task: Task, value: unknown): void {
    this.completed++
    this.histogram.record(performance.now() - task.submittedAt)
    const settle = task.settle
    task.settle = undefined
    settle?.(true, value)
  }

  private fail(task: Task, error: TaskFailure): void {
    this.failed++
    this.histogram.record(performance.now() - task.submittedAt)
    task.state = SETTLED
    const settle = task.settle
    task.settle = undefined
    settle?.(false, error)
  }

  private unknownTask(name: string): InvalidArgumentError {
    return new InvalidArgumentError({
      operation: `${this.pool}.submit`,
      argument: "the task name",
      value: name,
      expected: this.names === undefined ? "a task of the worker module" : `one of ${[...this.names].map((n) => JSON.stringify(n)).join(", ")}`
    })
  }

  private notCloneable(name: string, value: unknown, why: string): InvalidArgumentError {
    return new InvalidArgumentError({
      operation: `${this.pool}.submit(${JSON.stringify(name)})`,
      argument: "every argument",
      value: safeDescribe(value),
      expected: `a value that can cross to the worker, but ${why}`
    })
  }

  private crashed(task: string, slot: Slot, info: ExitInfo, reason: string | undefined): WorkerCrashedError {
    return new WorkerCrashedError({ pool: this.pool, task, workerId: slot.id, exitCode: info.code, signal: info.signal, reason })
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Resolves once one worker is ready (the module loads and the pool can
   * serve; the rest keep starting and take tasks as they come up), or with
   * the start-up error.
   */
  whenReady(callback: (error: string | undefined) => void): void {
    if (this.starting === 0 || this.live > this.starting) return callback(undefined)
    this.readyWaiters.push((error) => {
      if (error !== undefined || this.starting === 0 || this.live > this.starting) callback(error)
      else this.whenReady(callback)
    })
  }

  close(): void {
    if (this.state !== "open") return
    this.state = "closing"
    this.maybeFinishClose()
  }

  private maybeFinishClose(): void {
    if (this.state !== "closing" || this.waiting > 0) return
    for (const slot of this.slots) {
      if (slot.inflight.length === 0 || slot.state === STARTING) this.stopSlot(slot)
    }
    this.checkExited()
  }

  terminate(): void {
    if (this.state === "terminated") return this.checkExited()
    this.state = "terminated"
    const error = new PoolClosedError({ pool: this.pool, operation: "terminate", state: "terminated" })
    while (this.qhead < this.queue.length) {
      const task = this.queue[this.qhead++]!
      if (task.cancelled) continue
      this.fail(task, error)
    }
    this.queue.length = 0
    this.qhead = 0
    this.waiting = 0
    for (const slot of [...this.slots]) {
      for (const task of slot.inflight) {
        this.clearTimer(task)
        if (!task.cancelled && task.state !== SETTLED) this.fail(task, error)
      }
      slot.inflight.length = 0
      this.stopSlot(slot)
    }
    for (const waiter of this.readyWaiters.splice(0)) waiter("the pool was terminated")
    this.checkExited()
  }

  /** Calls back once every worker has exited (after `close` or `terminate`). */
  whenExited(callback: () => void): void {
    if (this.state !== "open" && this.slots.size === 0) return callback()
    this.exitWaiters.push(callback)
  }

  private checkExited(): void {
    if (this.state === "open" || this.slots.size > 0) return
    for (const waiter of this.exitWaiters.splice(0)) waiter()
  }

  stats(): CoreStats {
    let busy = 0
    let idle = 0
    let size = 0
    for (const slot of this.slots) {
      if (slot.state === STOPPING || slot.state === DEAD) continue
      size++
      if (slot.inflight.length > 0) busy++
      else if (slot.state === READY) idle++
    }
    return {
      size,
      starting: this.starting,
      busy,
      idle,
      queued: this.waiting,
      completed: this.completed,
      failed: this.failed,
      cancelled: this.cancelledCount,
      stolen: this.stolen
    }
  }

  private trySend(slot: Slot, message: Array<unknown>, transferList: Array<any> | undefined): void {
    try {
      slot.transport.send(message, transferList)
    } catch {
      // the worker is going away; its exit handler cleans up
    }
  }
}

const describeExit = (info: ExitInfo): string =>
  info.error ?? (info.signal !== null ? `signal ${info.signal}` : `exit code ${info.code}`)

const safeDescribe = (value: unknown): unknown => {
  try {
    JSON.stringify(value)
    return value
  } catch {
    return Object.prototype.toString.call(value)
  }
}
