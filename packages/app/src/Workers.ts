/**
 * A `node:cluster` primary's workers, supervised: fork N (this same program
 * runs in each and takes its worker branch), wait until all of them listen,
 * replace one that dies after it listened (one that dies before would die
 * again: it fails the start instead of looping), and stop them all when the
 * scope closes: asked first where the app can ask, then SIGTERM, then
 * SIGKILL, and waited for until their processes are gone.
 *
 * A worker "listens" when node:cluster says so (`listening: "cluster"`, the
 * default: its first `listen`), or when the app says so (`"manual"`: the app
 * calls `ready(id)`, for workers that open several listeners or report over
 * a channel of their own). A worker whose parent dies exits on its own:
 * node:cluster's IPC channel closes, and the worker side listens for that
 * (`process.on("disconnect", ...)`).
 *
 * `freePort(host)` resolves port 0 once, in the primary: node:cluster keys a
 * shared socket by the port its workers ask for, so a replacement asking for
 * port 0 would get another port (and on Bun each worker would).
 *
 * @example
 * ```ts
 * import cluster from "node:cluster"
 * import { Effect } from "effect"
 * import { Workers } from "@weft/app"
 *
 * if (cluster.isPrimary) {
 *   const program = Effect.scoped(Effect.gen(function*() {
 *     const port = yield* Workers.freePort("127.0.0.1")
 *     yield* Workers.fork({ count: 2, env: { PORT: String(port) }, log: console.log })
 *     return yield* Effect.never
 *   }))
 * }
 * ```
 *
 * @module
 */
import cluster, { type Worker } from "node:cluster"
import * as net from "node:net"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Host from "./Host.ts"

/**
 * How to run the workers.
 *
 * @example
 * ```ts
 * const options: Workers.Options = { count: 4, env: { PORT: "8080" } }
 * ```
 */
export interface Options {
  /** How many workers to keep running. */
  readonly count: number
  /** Added to each worker's environment (node:cluster's `fork(env)`). */
  readonly env?: Record<string, string> | undefined
  /** Lines about the workers (listening, replaced, failed); default: none. */
  readonly log?: ((line: string) => void) | undefined
  /** `"cluster"` (default): listening when its first `listen` completes; `"manual"`: when `ready(id)` is called. */
  readonly listening?: "cluster" | "manual" | undefined
  /** How long the start waits for every worker to listen; default 30 s. */
  readonly startTimeout?: Duration.Input | undefined
  /**
   * Called with each new worker (the first ones and replacements), before it
   * can listen, and the supervisor (for `ready` and `fail` while the start
   * is still waiting).
   */
  readonly onFork?: ((worker: Worker, workers: Workers) => void) | undefined
  /** Called when a worker has exited (before a replacement is forked). */
  readonly onExit?: ((worker: Worker) => void) | undefined
  /** Asks a worker to stop, before SIGTERM (for runtimes whose SIGTERM handler may not run). */
  readonly ask?: ((worker: Worker) => void) | undefined
}

/**
 * The running workers.
 *
 * @example
 * ```ts
 * const workers = yield* Workers.fork({ count: 2 })
 * workers.live.size // 2
 * ```
 */
export interface Workers {
  /** The live workers by id, each with its pid and whether it listens. */
  readonly live: ReadonlyMap<number, Entry>
  /** How many workers were replaced after dying. */
  readonly restarts: number
  /** `listening: "manual"`: worker `id` listens now. */
  ready(id: number): void
  /** A worker reports that it cannot listen: the start fails with `reason`. */
  fail(reason: string): void
}

/**
 * One live worker.
 *
 * @example
 * ```ts
 * for (const entry of workers.live.values()) console.log(entry.pid, entry.listening)
 * ```
 */
export interface Entry {
  readonly worker: Worker
  readonly pid: number | undefined
  readonly listening: boolean
}

/**
 * The workers did not all start: one died or reported a failure before it
 * listened, or they were not all listening in time.
 *
 * @example
 * ```ts
 * Workers.fork({ count: 2 }).pipe(Effect.catchTag("WorkersError", (e) => Effect.log(e.reason)))
 * ```
 */
export class WorkersError extends Data.TaggedError("WorkersError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Once none of `pids` is alive (polled: a process's death has no portable event; Deno reports a worker's exit when its channel closes). */
const gone = (pids: ReadonlyArray<number>): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setInterval(() => {
      if (!pids.some(alive)) {
        clearInterval(timer)
        resume(Effect.void)
      }
    }, 20)
    return Effect.sync(() => clearInterval(timer))
  })

/**
 * Forks `options.count` workers of this program and supervises them until the
 * scope closes (see the module doc). Fails with `WorkersError` if they do not
 * all listen.
 *
 * @example
 * ```ts
 * const workers = yield* Workers.fork({ count: 2, env: { PORT: "8080" }, log: console.log })
 * ```
 */
export const fork = (options: Options): Effect.Effect<Workers, WorkersError, Scope.Scope> =>
  Effect.gen(function*() {
    const live = new Map<number, { worker: Worker; pid: number | undefined; listening: boolean }>()
    const log = options.log ?? (() => {})
    let stopping = false
    let failure: string | undefined
    let restarts = 0
    const waiting = new Set<() => void>()
    const changed = () => {
      for (const check of [...waiting]) check()
    }
    /** Whether `done()` holds within `timeout`, re-checked on every change. */
    const until = (done: () => boolean, timeout: Duration.Input): Effect.Effect<boolean> =>
      Effect.map(
        Effect.timeoutOption(
          Effect.callback<void>((resume) => {
            const check = () => {
              if (!done()) return
              waiting.delete(check)
              resume(Effect.void)
            }
            waiting.add(check)
            check()
            return Effect.sync(() => waiting.delete(check))
          }),
          timeout
        ),
        (o) => o._tag === "Some"
      )

    const start = () => {
      const worker = cluster.fork(options.env)
      worker.on("error", () => {})
      live.set(worker.id, { worker, pid: worker.process.pid, listening: false })
      options.onFork?.(worker, workers)
    }
    const ready = (id: number) => {
      const entry = live.get(id)
      if (entry === undefined || entry.listening) return
      entry.listening = true
      log(`worker ${id} pid ${entry.pid} listening`)
      changed()
    }
    const workers: Workers = {
      live,
      get restarts() {
        return restarts
      },
      ready,
      fail: (reason) => {
        failure ??= reason
        changed()
      }
    }
    const onListening = (worker: Worker) => {
      if (options.listening !== "manual") ready(worker.id)
    }
    const onExit = (worker: Worker, code: number | null, signal: string | null) => {
      const entry = live.get(worker.id)
      if (entry === undefined) return
      live.delete(worker.id)
      options.onExit?.(worker)
      if (!stopping) {
        const how = signal ?? `code ${code}`
        if (entry.listening) {
          log(`worker ${worker.id} pid ${entry.pid} exited (${how}); starting a replacement`)
          restarts++
          start()
        } else {
          failure ??= `worker ${worker.id} pid ${entry.pid} exited (${how}) before it listened`
          log(`${failure}; not replaced`)
        }
      }
      changed()
    }

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        cluster.on("listening", onListening)
        cluster.on("exit", onExit)
        for (let i = 0; i < options.count; i++) start()
      }),
      () =>
        Effect.gen(function*() {
          stopping = true
          const pids = [...live.values()].flatMap((e) => e.pid === undefined ? [] : [e.pid])
          if (options.ask !== undefined) {
            for (const { worker } of live.values()) options.ask(worker)
            yield* until(() => live.size === 0, "3 seconds")
          }
          for (const { worker } of live.values()) worker.process.kill("SIGTERM")
          yield* until(() => live.size === 0, "3 seconds")
          for (const { worker } of live.values()) worker.process.kill("SIGKILL")
          yield* until(() => live.size === 0, "2 seconds")
          cluster.off("listening", onListening)
          cluster.off("exit", onExit)
          // Wait for the processes themselves, so that they finish their goodbyes.
          yield* Effect.timeoutOption(gone(pids), "3 seconds")
          for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL")
        })
    )

    const timeout = options.startTimeout ?? "30 seconds"
    const all = () => failure !== undefined || [...live.values()].filter((e) => e.listening).length >= options.count
    if (!(yield* until(all, timeout))) {
      return yield* new WorkersError({
        reason: `the ${options.count} workers did not all listen within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
      })
    }
    if (failure !== undefined) return yield* new WorkersError({ reason: failure })
    return workers
  })

/**
 * A free TCP port on `host` (default loopback), found by binding port 0 and
 * closing it: what a `node:cluster` primary gives its workers instead of 0.
 *
 * @example
 * ```ts
 * const port = yield* Workers.freePort("127.0.0.1")
 * ```
 */
export const freePort = (host: string = Host.loopback): Effect.Effect<number, WorkersError> =>
  Effect.callback<number, WorkersError>((resume) => {
    const probe = net.createServer()
    probe.once("error", (error) => resume(Effect.fail(new WorkersError({ reason: `no free port on ${host}: ${error.message}` }))))
    probe.listen(0, host, () => {
      const port = (probe.address() as net.AddressInfo).port
      probe.close(() => resume(Effect.succeed(port)))
    })
  })
