/**
 * The worker module of the piscina drop-in: one task, `run(filename, name,
 * task)`, which loads `filename` once per thread (as piscina takes it:
 * `export default fn`, named exports, `module.exports = fn`, a default
 * export that is a Promise of a function) and calls its function `name` with
 * `task`. A sync function's result goes back without a Promise in between.
 *
 * @internal
 */
import { pathToFileURL } from "node:url"
import { tasksOf } from "../internal/tasksOf.ts"
import { defineWorker, type TaskFunction } from "../worker.ts"

// Read by `Piscina.isWorkerThread` in the user's modules, loaded after this.
;(globalThis as Record<symbol, unknown>)[Symbol.for("@weft/pools/compat/piscina/worker")] = true

type Handlers = Record<string, TaskFunction>

const loaded = new Map<string, Handlers>()
const loading = new Map<string, Promise<Handlers>>()

const load = (filename: string): Promise<Handlers> => {
  let pending = loading.get(filename)
  if (pending === undefined) {
    const url = filename.startsWith("file:") ? filename : pathToFileURL(filename).href
    pending = import(url).then(async (mod) => {
      const handlers = (await tasksOf(mod)) ?? Object.create(null)
      loaded.set(filename, handlers)
      return handlers
    })
    loading.set(filename, pending)
  }
  return pending
}

const call = (handlers: Handlers, filename: string, name: string, task: unknown): unknown => {
  const handler = handlers[name]
  if (typeof handler !== "function") {
    throw new Error(`No handler function "${name}" exported from ${filename}`)
  }
  return (handler as (task: unknown) => unknown)(task)
}

export default defineWorker({
  run: (filename: string, name: string, task: unknown): unknown => {
    const handlers = loaded.get(filename)
    return handlers !== undefined
      ? call(handlers, filename, name, task)
      : load(filename).then((found) => call(found, filename, name, task))
  }
})
