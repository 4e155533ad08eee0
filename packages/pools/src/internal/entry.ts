/**
 * The program every pool worker runs, in a worker thread or a forked child
 * process. It imports the user's module, finds its tasks (`tasksOf`: a
 * `defineWorker` result, or plain function exports as piscina takes them),
 * says READY with the task names, then runs tasks one at a time in the order
 * they arrive, sending results back in batches.
 *
 * A thread worker learns its module and claim words from its first message
 * (INIT), so that `workerData` is the user's own (piscina's `workerData`).
 *
 * Running one task at a time is what lets the pool keep several tasks in
 * flight per worker and still know which one is running: the first
 * unfinished task sent to a worker is the one running there, the others have
 * not started (so they can be moved to another worker if this one dies).
 * Results travel in batches, so to know that after a crash too, a process
 * worker writes the id of each task it starts to its progress file (8 bytes,
 * overwritten in place; see `transport.ts`), and a thread worker takes each
 * task's claim word.
 *
 * It does not import `effect` unless a task returns an Effect.
 *
 * @internal
 */
import { openSync, rmSync, writeSync } from "node:fs"
import { parentPort } from "node:worker_threads"
import { isTransfer, type TaskContext, type TaskFunction } from "../worker.ts"
import * as P from "./protocol.ts"
import { tasksOf } from "./tasksOf.ts"

const port = parentPort
const isThread = port !== null && port !== undefined
// Claim words shared with the pool (threads only, sent with INIT): a task runs
// here only if this worker takes its word first; otherwise the pool moved it
// elsewhere.
let claims: Int32Array | undefined = undefined
const json = !isThread
// The progress file (processes only): the id of the last task started here.
const progressFd = !isThread && process.argv[3] !== undefined ? openSync(process.argv[3], "r+") : -1
const progress = new Float64Array(1)
const progressBytes = new Uint8Array(progress.buffer)
const started = (id: number): void => {
  if (progressFd < 0) return
  progress[0] = id
  writeSync(progressFd, progressBytes, 0, 8, 0)
}

const post: (message: Array<unknown>, transferList?: Array<any>) => void = isThread
  ? (message, transferList) => port.postMessage(message, transferList)
  : (message) => {
    process.send!(message)
  }

if (!isThread) {
  // The parent went away (exited or closed the channel): no orphans, and no
  // progress file left behind (the parent removes it when it sees the exit).
  process.on("disconnect", () => {
    if (process.argv[3] !== undefined) rmSync(process.argv[3], { force: true })
    process.exit(0)
  })
}

const CURRENT = Symbol.for("@weft/pools/currentTask")
const global = globalThis as { [CURRENT]?: TaskContext | undefined }

let tasks: Record<string, TaskFunction> = Object.create(null)

// Pending tasks, flat: id, claim, name, args. A cancelled entry has its name set to null.
let pending: Array<any> = []
let head = 0
let active = false
let running: { id: number; controller: AbortController } | undefined

// Results not yet sent, flat: id, status, value, micros (the task's own run time).
let out: Array<unknown> = [P.RESULTS]
let outTransfer: Array<any> | undefined
let firstOutAt = 0

const FLUSH_RESULTS = 16 * 4 + 1
const FLUSH_MILLIS = 1

let effectModule: Promise<any> | undefined

const push = (id: number, status: number, value: unknown, startedAt: number): void => {
  if (status === P.OK && value !== null && typeof value === "object" && isTransfer(value)) {
    if (isThread && value.transferList.length > 0) {
      outTransfer ??= []
      for (const t of value.transferList) outTransfer.push(t)
    }
    value = value.value
  }
  if (json && status === P.OK) {
    const problem = P.jsonProblem(value, "the result")
    if (problem !== undefined) {
      status = P.NOT_CLONEABLE
      value = problem
    }
  }
  const now = performance.now()
  if (out.length === 1) firstOutAt = now
  out.push(id, status, value, startedAt < 0 ? -1 : Math.round((now - startedAt) * 1000))
}

const flush = (): void => {
  if (out.length === 1) return
  const message = out
  const transferList = outTransfer
  out = [P.RESULTS]
  outTransfer = undefined
  try {
    post(message, transferList)
  } catch {
    // Some result could not be cloned: send them one by one, and report the
    // ones that fail instead of losing them.
    for (let i = 1; i < message.length; i += 4) {
      const single = [P.RESULTS, message[i], message[i + 1], message[i + 2], message[i + 3]]
      try {
        post(single, transferList)
      } catch (error) {
        post([P.RESULTS, message[i], P.NOT_CLONEABLE, `the result could not be cloned: ${String((error as Error)?.message ?? error)}`, message[i + 3]])
      }
    }
  }
}

// Send results when 16 are waiting, when the oldest has waited 1 ms, or when
// no more tasks are left here than results waiting: then the pool refills this
// worker while it runs the rest (double buffering), so it never sits idle.
const maybeFlush = (): void => {
  if (
    out.length >= FLUSH_RESULTS ||
    (pending.length - head) <= (out.length - 1) ||
    performance.now() - firstOutAt >= FLUSH_MILLIS
  ) flush()
}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  u !== null && (typeof u === "object" || typeof u === "function") && typeof (u as any).then === "function"

const isEffect = (u: unknown): boolean =>
  u !== null && typeof u === "object" && "~effect/Effect" in (u as object)

const finish = (id: number, status: number, value: unknown, startedAt: number): void => {
  running = undefined
  push(id, status, value, startedAt)
  pump()
}

/** Calls a task; returns true when it went async (the pump must stop until it ends). */
const call = (id: number, fn: TaskFunction, args: Array<unknown>, controller: AbortController): boolean => {
  const context: TaskContext = { signal: controller.signal, taskId: id }
  let result: unknown
  global[CURRENT] = context
  const startedAt = performance.now()
  try {
    result = fn.apply(context, args)
  } catch (error) {
    global[CURRENT] = undefined
    push(id, P.FAILED, P.toRemoteError(error), startedAt)
    maybeFlush()
    return false
  }
  global[CURRENT] = undefined
  if (isEffect(result)) {
    running = { id, controller }
    flush()
    effectModule ??= import("effect/Effect")
    effectModule.then((Effect) => Effect.runPromise(result, { signal: controller.signal })).then(
      (value) => finish(id, P.OK, value, startedAt),
      (error) => finish(id, P.FAILED, P.toRemoteError(error), startedAt)
    )
    return true
  }
  if (isThenable(result)) {
    running = { id, controller }
    flush()
    result.then(
      (value) => finish(id, P.OK, value, startedAt),
      (error) => finish(id, P.FAILED, P.toRemoteError(error), startedAt)
    )
    return true
  }
  push(id, P.OK, result, startedAt)
  maybeFlush()
  return false
}

// Named through a variable: pools does not depend on @weft/cluster; only a
// task that was sent a cluster primitive needs it, and then its sender had it.
const clusterPackage = "@weft/cluster"

/**
 * The module that attaches a handle, by its tag: each primitive's own entry
 * (`@weft/primitives/SharedEvent`, `/Manager`, ...), never the package index,
 * so the first task sent a primitive does not wait for every scope to load.
 */
const attacherOf = (tag: string): Promise<{ attach: (handle: unknown) => any }> =>
  tag === "ManagerHandle"
    ? import("@weft/primitives/Manager") as Promise<any>
    : tag === "ClusterHandle"
    ? import(clusterPackage).then((m) => m.Cluster)
    : import(`@weft/primitives/${tag}`) // SharedLock, SharedSemaphore, SharedEvent, SharedQueue (protocol.ts's ATTACHABLE)

/** Turns the handles of Weft primitives back into working primitives. */
const attachArgs = async (wrapped: { [P.ATTACH]: Array<number>; args: Array<any> }): Promise<Array<unknown>> => {
  effectModule ??= import("effect/Effect")
  const Effect = await effectModule
  const args = wrapped.args
  for (const i of wrapped[P.ATTACH]) {
    const handle = args[i]
    args[i] = await Effect.runPromise((await attacherOf(handle._tag)).attach(handle))
  }
  return args
}

const pump = (): void => {
  active = true
  while (head < pending.length) {
    const id = pending[head] as number
    const claim = pending[head + 1] as number
    const name = pending[head + 2] as string | null
    const args = pending[head + 3] as Array<unknown>
    head += 4
    if (name === null) continue
    if (claim >= 0 && claims !== undefined && Atomics.compareExchange(claims, claim, P.claimWord(id), 0) !== P.claimWord(id)) {
      continue // stolen: another worker runs it
    }
    const fn = tasks[name]
    if (fn === undefined) {
      push(id, P.UNKNOWN_TASK, name, -1)
      continue
    }
    started(id)
    const controller = new AbortController()
    if (!Array.isArray(args)) {
      running = { id, controller }
      flush()
      attachArgs(args as any).then(
        (attached) => {
          running = undefined
          if (!call(id, fn, attached, controller)) pump()
        },
        (error) => finish(id, P.FAILED, P.toRemoteError(error), -1)
      )
      return
    }
    if (call(id, fn, args, controller)) return
  }
  pending = []
  head = 0
  active = false
  flushSoon()
}

// Ran dry: send the results once the messages already waiting here have been
// read (they may hold more tasks), so a steady stream of tasks does not turn
// into one message per task each way.
let flushScheduled = false
const flushSoon = (): void => {
  if (flushScheduled || out.length === 1) return
  flushScheduled = true
  setImmediate(() => {
    flushScheduled = false
    if (!active) flush()
  })
}

const cancel = (id: number): void => {
  if (running !== undefined && running.id === id) {
    running.controller.abort(new DOMException("The task was cancelled", "AbortError"))
    return
  }
  for (let i = head; i < pending.length; i += 4) {
    if (pending[i] === id && pending[i + 2] !== null) {
      pending[i + 2] = null
      push(id, P.CANCELLED, undefined, -1)
      if (!active) flush()
      return
    }
  }
}

/**
 * The pool asks for up to `count` tasks back (a worker ran dry elsewhere):
 * hand back the latest ones not started, in order, and never run them. While
 * an async task is running here, all of them wait behind it: hand them all
 * back. Results go first, so the pool knows which task is running here.
 */
const giveBack = (count: number): void => {
  const ids: Array<number> = []
  const limit = running !== undefined ? Number.POSITIVE_INFINITY : count
  for (let i = pending.length - 4; i >= head && ids.length < limit; i -= 4) {
    if (pending[i + 2] === null) continue
    pending[i + 2] = null
    ids.push(pending[i] as number)
  }
  flush()
  post([P.GIVEN_BACK, ...ids.reverse()])
}

const onMessage = (message: Array<any>): void => {
  switch (message[0]) {
    case P.RUN:
      for (let i = 1; i < message.length; i++) pending.push(message[i])
      if (!active) pump()
      return
    case P.CANCEL:
      return cancel(message[1] as number)
    case P.GIVE_BACK:
      return giveBack(message[1] as number)
  }
}

const start = async (moduleUrl: string): Promise<void> => {
  let found: Record<string, TaskFunction> | undefined
  try {
    found = await tasksOf(await import(moduleUrl))
  } catch (error) {
    post([P.INIT_FAILED, `could not import ${moduleUrl}: ${String((error as Error)?.stack ?? error)}`])
    return
  }
  if (found === undefined) {
    post([P.INIT_FAILED, `${moduleUrl} exports no task: neither defineWorker({ ... }) nor a function`])
    return
  }
  tasks = found
  if (isThread) port.on("message", onMessage)
  else process.on("message", onMessage as (message: unknown) => void)
  post([P.READY, Object.keys(tasks)])
}

if (isThread) {
  port.once("message", (init: Array<any>) => {
    if (init[2] !== undefined) claims = new Int32Array(init[2] as SharedArrayBuffer)
    void start(init[1] as string)
  })
} else {
  void start(process.argv[2]!)
}
