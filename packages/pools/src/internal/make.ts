/**
 * The constructor both kinds of pool share (`ThreadPool.make` and
 * `ProcessPool.make` call it with their transport, which names the kind):
 * checks the options, starts the workers in the caller's `Scope`, waits for
 * the first (or every) one to be ready, and returns the Effect API over the
 * core.
 *
 * @internal
 */
import { Effect, type Scope } from "effect"
import { existsSync } from "node:fs"
import { availableParallelism } from "node:os"
import { isAbsolute } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Registry from "@weft/primitives/Registry"
import { count, millis } from "@weft/primitives/validate"
import { InvalidArgumentError, WorkerCrashedError } from "../errors.ts"
import type { Options, Pool } from "../Pool.ts"
import type { WorkerDefinition } from "../worker.ts"
import { type Config, Core, type Timers } from "./core.ts"
import { poolOf, terminateAndWait } from "./instance.ts"
import type { TransportKind } from "./transport.ts"

export const make = <W extends WorkerDefinition>(
  options: Options,
  kind: TransportKind
): Effect.Effect<Pool<W>, InvalidArgumentError | WorkerCrashedError, Scope.Scope> =>
  Effect.flatMap(makeCore(options, kind), ({ config, core }) => {
    const pool = poolOf(core, config)
    listed(pool, core, options.name)
    return Effect.as(Effect.addFinalizer(() => Effect.sync(() => Registry.unregister(pool))), pool)
  })

/**
 * Lists the pool for `Inspect.snapshot`: a thread pool at thread scope, a
 * process pool at process scope, with what is running, queued and who works.
 */
const listed = (pool: object, core: Core, name: string | undefined): void => {
  const kind = core.pool
  Registry.register(pool, { kind, scope: kind === "ThreadPool" ? "thread" : "process", name }, () => {
    const { busy, idle, size, starting } = core.counts()
    return {
      holders: [],
      waiters: [],
      counts: { running: busy, queued: core.queued, workers: size, idle, starting, max: core.options.size }
    }
  })
}

/** `make` without the Effect API on top: the started core and its config. */
const makeCore = (
  options: Options,
  kind: TransportKind
): Effect.Effect<{ readonly core: Core; readonly config: Config }, InvalidArgumentError | WorkerCrashedError, Scope.Scope> =>
  Effect.gen(function*() {
    const pool = kind.pool
    const operation = `${pool}.make`
    const config = yield* validate(operation, options)
    const context = yield* Effect.context<never>()
    const runCallback = Effect.runCallbackWith(context)
    const timers: Timers = {
      set: (millis, f) => {
        const interrupt = runCallback(Effect.sleep(millis), {
          onExit: (exit) => {
            if (exit._tag === "Success") f()
          }
        })
        return () => interrupt()
      }
    }
    const core = new Core({ kind, ...config, timers })
    yield* Effect.addFinalizer(() => terminateAndWait(core))
    const all = config.ready === "all"
    core.spawn(all ? config.size : config.minSize)
    const startError = yield* Effect.callback<string | undefined>((resume) => {
      core.whenReady(all, (error) => resume(Effect.succeed(error)))
    })
    if (startError !== undefined) {
      const init = core.initError
      if (init !== undefined) {
        return yield* new InvalidArgumentError({
          operation,
          argument: "module",
          value: config.moduleUrl,
          expected: `a module exporting defineWorker({ ... }) or task functions (${init})`
        })
      }
      return yield* new WorkerCrashedError({ pool, task: "(start-up)", workerId: 0, exitCode: null, signal: null, reason: startError })
    }
    return { core, config }
  })

/** Checks the options of a pool; the piscina drop-in calls it before it starts a core itself. */
export const validate = (operation: string, options: Options): Effect.Effect<Config, InvalidArgumentError> =>
  Effect.suspend(() => {
    const bad = (argument: string, value: unknown, expected: string) =>
      Effect.fail(new InvalidArgumentError({ operation, argument, value, expected }))
    if (options === null || typeof options !== "object") return bad("options", options, "an object with at least a module")
    const moduleUrl = toModuleUrl(options.module)
    if (moduleUrl === undefined) return bad("module", String(options.module), "a file URL or an absolute path")
    if (!/\.(m?js|c?js|m?ts)$/.test(moduleUrl)) return bad("module", moduleUrl, "a .js, .mjs or .ts file")
    if (!existsSync(fileURLToPath(moduleUrl))) return bad("module", moduleUrl, "an existing file")
    const size = options.size ?? Math.max(1, availableParallelism())
    const minSize = options.minSize ?? size
    const maxQueued = options.maxQueued ?? Number.POSITIVE_INFINITY
    const maxTasksPerWorker = options.maxTasksPerWorker ?? Number.POSITIVE_INFINITY
    const countError = count(operation, "size", size, 1) ??
      count(operation, "minSize", minSize, 0) ??
      (options.maxQueued === undefined ? undefined : count(operation, "maxQueued", maxQueued, 1)) ??
      (options.maxTasksPerWorker === undefined ? undefined : count(operation, "maxTasksPerWorker", maxTasksPerWorker, 1))
    if (countError !== undefined) return Effect.fail(countError)
    if (minSize > size) return bad("minSize", minSize, `at most size (${size})`)
    const optional = (name: string, value: unknown, min: "zero" | "positive") =>
      value === undefined ? undefined : millis(operation, name, value, { min })
    const idle = optional("idleTimeout", options.idleTimeout, "zero")
    if (idle instanceof InvalidArgumentError) return Effect.fail(idle)
    const taskTimeout = optional("taskTimeout", options.taskTimeout, "positive")
    if (taskTimeout instanceof InvalidArgumentError) return Effect.fail(taskTimeout)
    const abort = optional("abortTimeout", options.abortTimeout, "zero")
    if (abort instanceof InvalidArgumentError) return Effect.fail(abort)
    const limits = (options as { readonly resourceLimits?: unknown }).resourceLimits
    if (limits !== undefined) {
      if (limits === null || typeof limits !== "object") return bad("resourceLimits", limits, "an object of limits in MB")
      for (const [key, value] of Object.entries(limits)) {
        if (!resourceLimitKeys.includes(key)) return bad("resourceLimits", key, `one of ${resourceLimitKeys.join(", ")}`)
        if (value !== undefined && !(typeof value === "number" && value > 0 && Number.isFinite(value))) {
          return bad(`resourceLimits.${key}`, value, "a positive number of MB")
        }
      }
    }
    if (options.name !== undefined && typeof options.name !== "string") return bad("name", options.name, "a string")
    const ready = options.ready ?? "first"
    if (ready !== "first" && ready !== "all") return bad("ready", ready, "\"first\" or \"all\"")
    return Effect.succeed({
      moduleUrl,
      size,
      minSize,
      idleTimeoutMillis: idle ?? 10_000,
      maxQueued,
      maxTasksPerWorker,
      taskTimeoutMillis: taskTimeout === Number.POSITIVE_INFINITY ? undefined : taskTimeout,
      abortTimeoutMillis: abort ?? 1_000,
      ready
    })
  })

const resourceLimitKeys = ["maxOldGenerationSizeMb", "maxYoungGenerationSizeMb", "codeRangeSizeMb", "stackSizeMb"]

const toModuleUrl = (module: unknown): string | undefined => {
  if (module instanceof URL) return module.protocol === "file:" ? module.href : undefined
  if (typeof module !== "string") return undefined
  if (module.startsWith("file:")) {
    try {
      return new URL(module).href
    } catch {
      return undefined
    }
  }
  return isAbsolute(module) ? pathToFileURL(module).href : undefined
}
