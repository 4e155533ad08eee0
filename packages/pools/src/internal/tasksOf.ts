/**
 * The tasks of a worker module: a `defineWorker({ ... })` default export; or,
 * as piscina takes them, a default export that is a function (task
 * `"default"`; `module.exports = fn` imports as one) or a Promise of one, and
 * every exported function by its name (`module.exports = { a, b }` too).
 * `undefined` when the module exports no task at all.
 *
 * @internal
 */
import { isWorkerDefinition, type TaskFunction } from "../worker.ts"

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  u !== null && (typeof u === "object" || typeof u === "function") && typeof (u as any).then === "function"

/** @internal */
export const tasksOf = async (mod: Record<string, unknown>): Promise<Record<string, TaskFunction> | undefined> => {
  let main = mod.default
  if (isThenable(main)) main = await main
  if (isWorkerDefinition(main)) return Object.assign(Object.create(null), main.tasks)
  const found: Record<string, TaskFunction> = Object.create(null)
  const add = (from: unknown) => {
    if (from === null || (typeof from !== "object" && typeof from !== "function")) return
    for (const [name, value] of Object.entries(from)) {
      if (name !== "default" && typeof value === "function" && !(name in found)) found[name] = value as TaskFunction
    }
  }
  if (typeof main === "function") found.default = main as TaskFunction
  add(mod)
  add(main)
  return Object.keys(found).length > 0 ? found : undefined
}
