/**
 * The program every pool worker runs, in a worker thread or a forked child
 * process. It imports the user's module, checks its default export is a
 * `defineWorker` result, says READY with the task names, then runs tasks one
 * at a time in the order they arrive, sending results back in batches.
 *
 * Running one task at a time is what lets the pool keep several tasks in
 * flight per worker and still know which one is running: the first
 * unfinished task sent to a worker is the one running there, the others have
 * not started (so they can be moved to another worker if this one dies).
 *
 * It does not import `effect` unless a task returns an Effect.
 *
 * @internal
 */
import { parentPort, workerData } from "node:worker_threads"
import { isTransfer, isWorkerDefinition, type TaskContext, type TaskFunction } from "../worker.ts"
import * as P from "./protocol.ts"

const port = parentPort
const isThread = port !== null && port !== undefined
const moduleUrl: string = isThread ? (workerData as { module: string }).module : process.argv[2]!
// Claim words shared with the pool (threads only): a task runs here only if
// this worker takes its word first; otherwise the pool moved it elsewhere.
const claimBuffer = isThread ? (workerData as { claims?: SharedArrayBuffer }).claims : undefined
const claims = claimBuffer !== undefined ? new Int32Array(claimBuffer) : undefined
const json = !isThread

const post: (message: Array<unknown>, transferList?: Array<any>) => void = isThread
  ? (message, transferList) => port.postMessage(message, transferList)
  : (message) => {
    process.send!(message)
  }

if (!isThread) {
  // The parent went away (exited or closed the channel): no orphans.
  process.on("disconnect", () => process.exit(0))
}

const CURRENT = Symbol.for("@weft/pools/currentTask")
const global = globalThis as { [CURRENT]?: TaskContext | undefined }

let tasks: Record<string, TaskFunction> = Object.create(null)

// Pending tasks, flat: id, claim, name, args. A cancelled entry has its name set to null.
let pending: Array<any> = []
let head = 0
let active = false
let running: { id: number; controller: AbortController } | undefined

// Results not yet sent, flat: id, status, value.
let out: Array<unknown> = [P.RESULTS, 0]
let outTransfer: Array<any> | undefined
let firstOutAt = 0
let busySince = -1

const FLUSH_RESULTS = 16 * 3 + 2
const FLUSH_MILLIS = 1

let effectModule: Promise<any> | undefined

const push = (id: number, status: number, value: unknown): void => {
  if (status === P.OK && value !== null && typeof value === "object") {
    if (isTransfer(value)) {
      if (isThread && value.transferList.length > 0) {
        outTransfer ??= []
        for (const t of value.transferList) outTransfer.push(t)
      }
      value = value.value
    }
    if (json) {
      const problem = P.jsonProblem(value, "the result")
      if (problem !== undefined) {
        status = P.NOT_CLONEABLE
        value = problem
      }
    }
  } else if (json && status === P.OK) {
    const problem = P.jsonProblem(value, "the result")
    if (problem !== undefined) {
      status = P.NOT_CLONEABLE
      value = problem
    }
  }
  if (out.length === 2) firstOutAt = performance.now()
  out.push(id, status, value)
}

const flush = (): void => {
  if (out.length === 2) return
  const now = performance.now()
  out[1] = busySince < 0 ? 0 : now - busySince
  busySince = active ? now : -1
  const message = out
  const transferList = outTransfer
  out = [P.RESULTS, 0]
  outTransfer = undefined
  try {
    post(message, transferList)
  } catch {
    // Some result could not be cloned: send them one by one, and report the
    // ones that fail instead of losing them.
    for (let i = 2; i < message.length; i += 3) {
      const single = [P.RESULTS, i === 2 ? message[1] : 0, message[i], message[i + 1], message[i + 2]]
      try {
        post(single, transferList)
      } catch (error) {
        post([P.RESULTS, 0, message[i], P.NOT_CLONEABLE, `the result could not be cloned: ${String((error as Error)?.message ?? error)}`])
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
    (pending.length - head) * 3 <= (out.length - 2) * 4 ||
    performance.now() - firstOutAt >= FLUSH_MILLIS
  ) flush()
}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  u !== null && (typeof u === "object" || typeof u === "function") && typeof (u as any).then === "function"

const isEffect = (u: unknown): boolean =>
  u !== null && typeof u === "object" && "~effect/Effect" in (u as object)

const finish = (id: number, status: number, value: unknown): void => {
  running = undefined
  push(id, status, value)
  pump()
}

/** Calls a task; returns true when it went async (the pump must stop until it ends). */
const call = (id: number, fn: TaskFunction, args: Array<unknown>, controller: AbortController): boolean => {
  const context: TaskContext = { signal: controller.signal, taskId: id }
  let result: unknown
  global[CURRENT] = context
  try {
    result = fn.apply(context, args)
  } catch (error) {
    global[CURRENT] = undefined
    push(id, P.FAILED, P.toRemoteError(error))
    maybeFlush()
    return false
  }
  global[CURRENT] = undefined
  if (isEffect(result)) {
    running = { id, controller }
    flush()
    effectModule ??= import("effect/Effect")
    effectModule.then((Effect) => Effect.runPromise(result, { signal: controller.signal })).then(
      (value) => finish(id, P.OK, value),
      (error) => finish(id, P.FAILED, P.toRemoteError(error))
    )
    return true
  }
  if (isThenable(result)) {
    running = { id, controller }
    flush()
    result.then(
      (value) => finish(id, P.OK, value),
      (error) => finish(id, P.FAILED, P.toRemoteError(error))
    )
    return true
  }
  push(id, P.OK, result)
  maybeFlush()
  return false
}

/** Turns the handles of Weft primitives back into working primitives. */
const attachArgs = async (wrapped: { [P.ATTACH]: Array<number>; args: Array<any> }): Promise<Array<unknown>> => {
  const primitives: any = await import("@weft/primitives")
  effectModule ??= import("effect/Effect")
  const Effect = await effectModule
  const args = wrapped.args
  for (const i of wrapped[P.ATTACH]) {
    const handle = args[i]
    const module = handle._tag === "ManagerHandle" ? primitives.Manager : primitives[handle._tag]
    args[i] = await Effect.runPromise(module.attach(handle))
  }
  return args
}

const pump = (): void => {
  active = true
  if (busySince < 0) busySince = performance.now()
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
      push(id, P.UNKNOWN_TASK, name)
      continue
    }
    const controller = new AbortController()
    if (!Array.isArray(args)) {
      running = { id, controller }
      flush()
      attachArgs(args as any).then(
        (attached) => {
          running = undefined
          if (!call(id, fn, attached, controller)) pump()
        },
        (error) => finish(id, P.FAILED, P.toRemoteError(error))
      )
      return
    }
    if (call(id, fn, args, controller)) return
  }
  pending = []
  head = 0
  active = false
  flush()
}

const cancel = (id: number): void => {
  if (running !== undefined && running.id === id) {
    running.controller.abort(new DOMException("The task was cancelled", "AbortError"))
    return
  }
  for (let i = head; i < pending.length; i += 4) {
    if (pending[i] === id && pending[i + 2] !== null) {
      pending[i + 2] = null
      push(id, P.CANCELLED, undefined)
      if (!active) flush()
      return
    }
  }
}

const onMessage = (message: Array<any>): void => {
  if (message[0] === P.RUN) {
    for (let i = 1; i < message.length; i++) pending.push(message[i])
    if (!active) pump()
  } else if (message[0] === P.CANCEL) {
    cancel(message[1] as number)
  }
}

const start = async (): Promise<void> => {
  let definition: unknown
  try {
    const mod = await import(moduleUrl)
    definition = mod.default
  } catch (error) {
    post([P.INIT_FAILED, `could not import ${moduleUrl}: ${String((error as Error)?.stack ?? error)}`])
    return
  }
  if (!isWorkerDefinition(definition)) {
    post([P.INIT_FAILED, `${moduleUrl} has no defineWorker({ ... }) default export`])
    return
  }
  tasks = Object.assign(Object.create(null), definition.tasks)
  if (isThread) port.on("message", onMessage)
  else process.on("message", onMessage as (message: unknown) => void)
  post([P.READY, Object.keys(tasks)])
}

void start()
