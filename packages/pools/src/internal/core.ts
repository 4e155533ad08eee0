/**
 * The queue and the dispatch of a pool, shared by `ThreadPool` and
 * `ProcessPool`. Plain JavaScript on purpose: it sits on the hot path of
 * every task, so it has no fibers and no allocation beyond one record per
 * task. The Effect API (`instance.ts`) wraps it.
 *
 * - one FIFO queue: tasks go to workers in submission order;
 * - a worker runs its tasks one at a time, so the first unfinished task sent
 *   to it is the running one and the rest have not started;
 * - how many tasks wait on a busy worker is decided per task by what its name
 *   is expected to cost (`cost.ts`): many tiny ones, nothing behind a slow
 *   or unknown one;
 * - tasks submitted in the same tick go out in one message per worker, and
 *   workers send results back in batches;
 * - a worker that runs dry while the queue is empty takes tasks not yet
 *   started from the busiest one (`steal.ts`).
 *
 * Its neighbours: `args.ts` prepares arguments, `slot.ts` starts and stops
 * workers (and alone changes a worker's state), `steal.ts` moves tasks
 * between them, `task.ts` is one task (and `Tasks`, which alone changes a
 * task's state, keeping the waiting count and the workers' load in step).
 *
 * @internal
 */
import {
  InvalidArgumentError,
  PoolClosedError,
  PoolFullError,
  type PoolKind,
  TaskError,
  TaskTimeoutError,
  WorkerCrashedError
} from "../errors.ts"
import type { Stats, SubmitError } from "../Pool.ts"
import { notCloneable, prepare } from "./args.ts"
import { Costs, emptyLoad, fits, MAX_DEPTH, record } from "./cost.ts"
import { Histogram } from "./histogram.ts"
import * as P from "./protocol.ts"
import { cancelIdleTimer, gone, type Slot, SlotState, trySend, Workers } from "./slot.ts"
import { askGiveBack, claimFor, givenBack, steal, takeClaim } from "./steal.ts"
import { type Settle, type Task, Tasks, TaskState } from "./task.ts"
import type { ExitInfo, TransportKind } from "./transport.ts"

const REFILL_AT = MAX_DEPTH / 2

export interface Timers {
  /** Runs `f` after `millis`; returns a function that cancels it. */
  readonly set: (millis: number, f: () => void) => () => void
}

/** The checked options of a pool (see `Pool.Options`). */
export interface Config {
  readonly moduleUrl: string
  readonly size: number
  readonly minSize: number
  readonly idleTimeoutMillis: number
  readonly maxQueued: number
  readonly maxTasksPerWorker: number
  readonly taskTimeoutMillis: number | undefined
  readonly abortTimeoutMillis: number
  readonly ready: "first" | "all"
}

export interface CoreOptions extends Config {
  readonly kind: TransportKind
  readonly timers: Timers
}

export class Core {
  readonly pool: PoolKind
  readonly histogram = new Histogram()
  state: "open" | "closing" | "terminated" = "open"
  names: Set<string> | undefined = undefined
  /** Why the last worker that failed to start could not load the module. */
  initError: string | undefined = undefined

  private readonly costs = new Costs()
  /** Every task's state changes go through it, so it keeps the count of waiting ones. */
  private readonly tasks = new Tasks()
  private readonly workers: Workers
  private readonly queue: Array<Task> = []
  private qhead = 0
  private dispatchScheduled = false
  private inResults = false
  private startupFailures = 0
  private lastStartupError: ExitInfo & { readonly slot: number; readonly reason: string | undefined } | undefined
  private completed = 0
  private failed = 0
  private cancelledCount = 0
  /** Tasks moved from a busy worker to an idle one before they started. */
  private stolen = 0
  private readonly exitWaiters: Array<() => void> = []
  private readonly readyWaiters: Array<(error: string | undefined) => void> = []

  /** Told when a worker with no task dies of an uncaught error (the piscina drop-in's `'error'` event). */
  onWorkerError: ((error: string) => void) | undefined = undefined

  readonly options: CoreOptions
  constructor(options: CoreOptions) {
    this.options = options
    this.pool = options.kind.pool
    this.workers = new Workers(options.kind, options.moduleUrl, {
      message: (slot, message) => this.onMessage(slot, message),
      exit: (slot, info) => this.onExit(slot, info)
    })
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
    if (this.tasks.waiting >= this.options.maxQueued && this.dispatchScheduled && !this.inResults) {
      // Tasks submitted this tick may be about to start on idle workers: dispatch now, then count.
      this.dispatch()
    }
    if (this.tasks.waiting >= this.options.maxQueued) {
      settle(false, new PoolFullError({ pool: this.pool, maxQueued: this.options.maxQueued }))
      return undefined
    }
    const prepared = prepare(this.options.kind, name, rawArgs)
    if (prepared instanceof InvalidArgumentError) {
      settle(false, prepared)
      return undefined
    }
    const task = this.tasks.make(name, prepared.args, prepared.transferList, this.costs.of(name), settle)
    this.queue.push(task)
    if (this.startupFailures >= 3 && this.workers.live === 0) this.startupFailures = 0
    // Start the worker this task needs now, not at the dispatch: the pool's
    // size is right as soon as submit returns (dispatch stays batched).
    if (this.workers.live < this.options.size) this.growFor()
    if (!this.dispatchScheduled) {
      this.dispatchScheduled = true
      queueMicrotask(this.dispatch)
    }
    return task
  }

  /** The caller no longer wants the task (its fiber was interrupted). */
  cancel(task: Task): void {
    if (task.cancelled || task.state === TaskState.settled) return
    this.tasks.cancel(task)
    this.cancelledCount++
    const slot = task.worker
    if (slot === undefined || gone(slot)) return
    trySend(slot, [P.CANCEL, task.id])
    if (task.state === TaskState.running) this.armAbortTimer(slot, task)
  }

  /**
   * Like `cancel`, but a running task's worker is replaced at once instead of
   * after `abortTimeout` (piscina stops the thread of an aborted task).
   */
  abort(task: Task): void {
    const slot = task.worker
    const running = task.state === TaskState.running
    this.cancel(task)
    if (running && slot !== undefined && slot.inflight[0] === task && !gone(slot)) {
      this.replace(slot)
    }
  }

  /**
   * Fails every task that has not started with `error`, as if its caller
   * had cancelled it (piscina's `close({ force: true })`); running ones go on.
   */
  dropUnstarted(error: unknown): void {
    const unstarted: Array<Task> = []
    for (let i = this.qhead; i < this.queue.length; i++) {
      const task = this.queue[i]!
      if (!task.cancelled && task.state === TaskState.queued) unstarted.push(task)
    }
    for (const slot of this.workers.slots) {
      for (const task of slot.inflight) if (!task.cancelled && task.state === TaskState.sent) unstarted.push(task)
    }
    for (const task of unstarted) {
      const settle = task.settle
      this.cancel(task)
      settle?.(false, error)
    }
  }

  /** What each live worker's transport exposes (a thread worker: its `Worker`). */
  handles(): Array<unknown> {
    const out: Array<unknown> = []
    for (const slot of this.workers.slots) {
      if (!gone(slot)) out.push(slot.transport.handle)
    }
    return out
  }

  /** Workers alive, starting, busy and idle right now. */
  counts(): { size: number; starting: number; busy: number; idle: number } {
    return this.workers.counts()
  }

  /** Tasks submitted and not started (queued, or sent behind a running task). */
  get queued(): number {
    return this.tasks.waiting
  }

  /** Spawns a worker when the tasks not yet sent outnumber the idle and starting workers. */
  private growFor(): void {
    if (this.startupFailures >= 3) return
    const unsent = this.queue.length - this.qhead
    const { idle } = this.workers.counts()
    if (unsent > idle + this.workers.starting) this.workers.spawn()
  }

  // ---------------------------------------------------------------- dispatch

  private readonly dispatch = (): void => {
    this.dispatchScheduled = false
    if (this.state === "terminated") return
    if (this.qhead < this.queue.length && this.workers.slots.size > 0) {
      const now = performance.now()
      // First one task to every idle worker, then fill each as far as `fits` allows.
      for (const slot of this.workers.slots) {
        if (this.qhead >= this.queue.length) break
        if (slot.state === SlotState.ready && slot.inflight.length === 0) this.fill(slot, now, true)
      }
      for (const slot of this.workers.slots) {
        if (this.qhead >= this.queue.length) break
        // Refill a worker once half its window is free, so tasks travel many to a message.
        if (slot.state === SlotState.ready && slot.inflight.length <= REFILL_AT) this.fill(slot, now, false)
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

  /** Sends `slot` the tasks at the head of the queue that fit (just one when `one`), in one message. */
  private fill(slot: Slot, now: number, one: boolean): void {
    let message: Array<unknown> | undefined
    let transferList: Array<any> | undefined
    const batch: Array<Task> = []
    const max = this.options.maxTasksPerWorker
    while (this.qhead < this.queue.length && slot.sent < max) {
      const task = this.queue[this.qhead]!
      if (task.cancelled) {
        this.qhead++
        continue
      }
      if (!fits(slot, task, now)) break
      this.qhead++
      message ??= [P.RUN]
      task.claim = claimFor(slot, task)
      message.push(task.id, task.claim, task.name, task.args)
      if (task.transferList !== undefined) {
        transferList ??= []
        for (const t of task.transferList) transferList.push(t)
      }
      batch.push(task)
      task.worker = slot
      slot.inflight.push(task)
      slot.sent++
      if (slot.inflight.length === 1) this.markRunning(slot, task, now)
      else this.tasks.moveTo(task, TaskState.sent)
      if (one) break
    }
    if (message === undefined) return
    cancelIdleTimer(slot)
    if (slot.transport.idle !== undefined && slot.inflight.length === batch.length) slot.transport.idle(false)
    if (slot.sent >= max) this.workers.retire(slot)
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
        takeClaim(slot, task)
        const index = slot.inflight.indexOf(task)
        if (index >= 0) slot.inflight.splice(index, 1)
        slot.sent--
        this.clearTimer(task)
        const why = `it could not be cloned (${String((error as Error)?.message ?? error)})`
        this.fail(task, notCloneable(this.pool, task.name, task.args, why))
      }
    }
    if (slot.sent < this.options.maxTasksPerWorker) this.workers.unretire(slot)
    const head = slot.inflight[0]
    if (head !== undefined && head.state === TaskState.sent) this.markRunning(slot, head, performance.now())
    if (slot.inflight.length === 0) this.onIdle(slot)
  }

  /** `task` is now the first unfinished one of `slot`: its run (and its timeout) starts. */
  private markRunning(slot: Slot, task: Task, now: number): void {
    this.tasks.moveTo(task, TaskState.running)
    slot.headSince = now
    const timeout = this.options.taskTimeoutMillis
    if (timeout !== undefined && !task.cancelled) {
      task.timer = this.options.timers.set(timeout, () => this.onTaskTimeout(task))
    }
  }

  private grow(): void {
    if (this.state !== "open" && this.tasks.waiting === 0) return
    const workers = this.workers
    if (this.startupFailures >= 3) {
      if (workers.live === 0) this.failStartup()
      return
    }
    const wanted = this.queue.length - this.qhead
    while (workers.live < this.options.size && (workers.starting < wanted || workers.live < this.options.minSize)) {
      workers.spawn()
    }
  }

  // ---------------------------------------------------------------- workers

  /** Starts `n` workers now (at `make`). */
  spawn(n: number): void {
    for (let i = 0; i < n; i++) this.workers.spawn()
  }

  private onMessage(slot: Slot, message: Array<any>): void {
    switch (message[0]) {
      case P.RESULTS:
        return this.onResults(slot, message)
      case P.GIVEN_BACK:
        return this.onGivenBack(slot, message)
      case P.READY: {
        if (!this.workers.ready(slot)) return
        this.startupFailures = 0
        this.names ??= new Set(message[1] as Array<string>)
        for (const waiter of this.readyWaiters.splice(0)) waiter(undefined)
        if (this.state === "closing" && this.tasks.waiting === 0) this.workers.stop(slot)
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
    const now = performance.now()
    const inflight = slot.inflight
    for (let i = 1; i < message.length; i += 4) {
      const id = message[i] as number
      let index = 0
      if (inflight[0]?.id !== id) {
        index = inflight.findIndex((t) => t.id === id)
        if (index < 0) continue
      }
      const status = message[i + 1] as number
      const value = message[i + 2]
      const micros = message[i + 3] as number
      const task = inflight[index]!
      inflight.splice(index, 1)
      if (micros >= 0) {
        record(task.cost, micros / 1000)
        task.runMillis = micros / 1000
      }
      if (task.timer !== undefined) this.clearTimer(task)
      if (index === 0 && inflight.length > 0) this.markRunning(slot, inflight[0]!, now)
      if (status === P.CANCELLED) takeClaim(slot, task) // the worker never took it: free its word
      this.tasks.moveTo(task, TaskState.settled)
      if (task.cancelled) continue
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
      }
    }
  }

  /** A process worker handed back tasks it had not started: they go to the front of the queue. */
  private onGivenBack(slot: Slot, message: Array<any>): void {
    const back = givenBack(this.tasks, slot, message.slice(1) as Array<number>)
    for (const task of back) this.clearTimer(task)
    const head = slot.inflight[0]
    if (head !== undefined && head.state === TaskState.sent) this.markRunning(slot, head, performance.now())
    this.requeueFront(back)
    if (slot.inflight.length === 0) this.onIdle(slot)
    this.dispatch()
  }

  /** Puts tasks back at the front of the queue, in order; cancelled ones are dropped. */
  private requeueFront(tasks: Array<Task>): void {
    const back = tasks.filter((task) => {
      if (!task.cancelled) return true
      this.tasks.moveTo(task, TaskState.settled)
      return false
    })
    if (back.length === 0) return
    this.stolen += back.length
    this.queue.splice(this.qhead, 0, ...back)
  }

  private onIdle(slot: Slot): void {
    if (slot.inflight.length > 0) return
    slot.transport.idle?.(true)
    if (slot.state === SlotState.retiring) return this.workers.stop(slot)
    if (slot.state !== SlotState.ready) return
    if (this.state === "closing" && this.tasks.waiting === 0) return this.workers.stop(slot)
    if (this.qhead === this.queue.length) {
      // Ran dry with nothing queued: take over tasks another worker has not started.
      if (slot.claims !== undefined) {
        const stolen = steal(this.tasks, this.workers.slots, slot)
        if (stolen.length > 0) {
          this.requeueFront(stolen)
          return this.dispatch()
        }
      } else {
        askGiveBack(this.workers.slots, slot)
      }
    }
    if (this.workers.live > this.options.minSize && slot.idleTimer === undefined && this.qhead === this.queue.length) {
      slot.idleTimer = this.options.timers.set(this.options.idleTimeoutMillis, () => {
        slot.idleTimer = undefined
        if (slot.state === SlotState.ready && slot.inflight.length === 0 && this.workers.live > this.options.minSize) this.workers.stop(slot)
      })
    }
  }

  /**
   * Kills a worker whose running task is stuck (cancelled, or timed out and
   * failed); once it has exited, its other tasks go back to the queue.
   */
  private replace(slot: Slot): void {
    const running = slot.inflight.shift()
    if (running !== undefined) {
      this.clearTimer(running)
      this.tasks.moveTo(running, TaskState.settled)
    }
    slot.replaced = true
    this.workers.stop(slot)
    this.dispatch()
  }

  /**
   * The tasks of a worker that died (crashed, or was replaced): each one that
   * started there fails with `WorkerCrashedError` (it ran, or began to, once;
   * its result is lost with the worker), and each one that certainly did not
   * goes back to the front of the queue, in order. What started is known
   * exactly from a thread worker's claim words and a process worker's
   * progress file; a thread task sent without a claim word is taken to have
   * started only if it was the running one.
   */
  private salvage(slot: Slot, info: ExitInfo, reason: string | undefined): void {
    const inflight = slot.inflight
    const startedUpTo = info.lastStarted !== undefined
      ? inflight.findIndex((task) => task.id === info.lastStarted)
      : slot.replaced ? -1 : 0
    const back: Array<Task> = []
    for (let i = 0; i < inflight.length; i++) {
      const task = inflight[i]!
      this.clearTimer(task)
      if (task.cancelled || task.state === TaskState.settled) {
        this.tasks.moveTo(task, TaskState.settled)
        continue
      }
      const ran = task.claim >= 0 && slot.claims !== undefined ? !takeClaim(slot, task) : i <= startedUpTo
      if (ran) {
        this.fail(task, this.crashed(task.name, slot, info, reason))
        continue
      }
      this.tasks.moveTo(task, TaskState.queued)
      task.worker = undefined
      task.claim = -1
      back.push(task)
    }
    inflight.length = 0
    emptyLoad(slot)
    if (back.length > 0) this.queue.splice(this.qhead, 0, ...back)
  }

  private onExit(slot: Slot, info: ExitInfo): void {
    const was = this.workers.exited(slot)
    if (was === SlotState.ready && slot.inflight.length === 0 && info.error !== undefined) {
      // Died with no task to fail: only a listener can hear of it.
      this.onWorkerError?.(info.error)
    }
    if (was !== SlotState.stopping || slot.replaced) {
      // A crash, or a replaced worker: sort out what ran there.
      const reason = slot.initError ?? info.error
      this.salvage(slot, info, reason)
      if (was === SlotState.starting) {
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
    if (this.state === "open" || (this.state === "closing" && this.tasks.waiting > 0)) this.dispatch()
    this.checkExited()
  }

  private failStartup(): void {
    const info = this.lastStartupError ?? { code: null, signal: null, error: undefined, slot: 0, reason: undefined }
    const why = `the worker could not start${info.reason ? `: ${info.reason}` : ""}`
    while (this.qhead < this.queue.length) {
      const task = this.queue[this.qhead++]!
      if (task.cancelled) continue
      this.fail(task, new WorkerCrashedError({ pool: this.pool, task: task.name, workerId: info.slot, exitCode: info.code, signal: info.signal, reason: why }))
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
    if (task.state !== TaskState.running || slot === undefined || slot.inflight[0] !== task) return
    this.tasks.moveTo(task, TaskState.settled)
    if (!task.cancelled) {
      this.fail(task, new TaskTimeoutError({ pool: this.pool, task: task.name, timeoutMillis: this.options.taskTimeoutMillis! }))
    }
    this.replace(slot)
  }

  private armAbortTimer(slot: Slot, task: Task): void {
    this.clearTimer(task)
    task.timer = this.options.timers.set(this.options.abortTimeoutMillis, () => {
      task.timer = undefined
      if (slot.inflight[0] === task && !gone(slot)) this.replace(slot)
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

  private fail(task: Task, error: SubmitError): void {
    this.failed++
    this.histogram.record(performance.now() - task.submittedAt)
    this.tasks.moveTo(task, TaskState.settled)
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

  private crashed(task: string, slot: Slot, info: ExitInfo, reason: string | undefined): WorkerCrashedError {
    return new WorkerCrashedError({ pool: this.pool, task, workerId: slot.id, exitCode: info.code, signal: info.signal, reason })
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Calls back once the pool can serve, or with the start-up error: with
   * `all`, once no worker is starting any more; otherwise once one worker is
   * ready (the rest keep starting and take tasks as they come up).
   */
  whenReady(all: boolean, callback: (error: string | undefined) => void): void {
    const { live, starting } = this.workers
    if (starting === 0 || (!all && live > starting)) return callback(undefined)
    this.readyWaiters.push((error) => {
      if (error !== undefined) callback(error)
      else this.whenReady(all, callback)
    })
  }

  close(): void {
    if (this.state !== "open") return
    this.state = "closing"
    this.maybeFinishClose()
  }

  private maybeFinishClose(): void {
    if (this.state !== "closing" || this.tasks.waiting > 0) return
    for (const slot of this.workers.slots) {
      if (slot.inflight.length === 0 || slot.state === SlotState.starting) this.workers.stop(slot)
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
    for (const slot of [...this.workers.slots]) {
      for (const task of slot.inflight) {
        this.clearTimer(task)
        if (!task.cancelled && task.state !== TaskState.settled) this.fail(task, error)
      }
      slot.inflight.length = 0
      this.workers.stop(slot)
    }
    for (const waiter of this.readyWaiters.splice(0)) waiter("the pool was terminated")
    this.checkExited()
  }

  /** Calls back once every worker has exited (after `close` or `terminate`). */
  whenExited(callback: () => void): void {
    if (this.state !== "open" && this.workers.slots.size === 0) return callback()
    this.exitWaiters.push(callback)
  }

  private checkExited(): void {
    if (this.state === "open" || this.workers.slots.size > 0) return
    for (const waiter of this.exitWaiters.splice(0)) waiter()
  }

  stats(): Stats {
    return {
      ...this.workers.counts(),
      queued: this.tasks.waiting,
      completed: this.completed,
      failed: this.failed,
      cancelled: this.cancelledCount,
      stolen: this.stolen,
      latency: this.histogram.summary()
    }
  }
}

const describeExit = (info: ExitInfo): string =>
  info.error ?? (info.signal !== null ? `signal ${info.signal}` : `exit code ${info.code}`)
