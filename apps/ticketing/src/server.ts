/**
 * `serve`: the API on 127.0.0.1 (or `--host`), in this process, or in N processes sharing
 * one port through `node:cluster` (the primary forks them and takes no
 * requests itself). Every process opens the same store; the store's lock
 * keeps them exact.
 *
 * Hono is served with `@hono/node-server`, which runs unchanged on Node,
 * Bun and Deno (each provides `node:http`).
 *
 * @example
 * ```ts
 * const served = yield* Server.listen(app, { port: 0 })
 * served.url // "http://127.0.0.1:40123"
 * ```
 *
 * @module
 */
import cluster, { type Worker } from "node:cluster"
import type { Server } from "node:http"
import * as net from "node:net"
import { createAdaptorServer } from "@hono/node-server"
import * as Host from "@weft/app/Host"
import { Effect, type Scope } from "effect"
import type { Hono } from "hono"

/**
 * Where the API listens.
 *
 * @example
 * ```ts
 * const { port, url } = yield* Server.listen(app, { port: 0 })
 * ```
 */
export interface Served {
  readonly port: number
  readonly url: string
}

/**
 * Serves a Hono app on `host:port` (default 127.0.0.1; port 0: a free one)
 * until the scope closes.
 *
 * @example
 * ```ts
 * const served = yield* Server.listen(app, { port: 8080, host: "0.0.0.0" })
 * ```
 */
export const listen = (
  app: Hono,
  options: { readonly port?: number; readonly host?: string | undefined } = {}
): Effect.Effect<Served, Error, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.callback<Server, Error>((resume) => {
        const host = options.host ?? Host.loopback
        const server = createAdaptorServer({ fetch: app.fetch }) as Server
        const onError = (error: Error) => resume(Effect.fail(new Error(`cannot listen on ${Host.authority(host, options.port ?? 0)}: ${error.message}`)))
        server.once("error", onError)
        server.listen(options.port ?? 0, host, () => {
          server.off("error", onError)
          resume(Effect.succeed(server))
        })
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections?.()
        }).pipe(Effect.timeoutOption("3 seconds"), Effect.asVoid)
    ),
    (server) => {
      const port = (server.address() as net.AddressInfo).port
      return { port, url: Host.url(options.host ?? Host.loopback, port) }
    }
  )

/**
 * A free port on `host` (default loopback). Resolved once in the primary: with
 * port 0, Bun's cluster workers would each pick a different one.
 *
 * @example
 * ```ts
 * const port = yield* Server.freePort()
 * ```
 */
export const freePort = (host: string = Host.loopback): Effect.Effect<number, Error> => Effect.callback<number, Error>((resume) => {
  const probe = net.createServer()
  probe.once("error", (error) => resume(Effect.fail(error)))
  probe.listen(0, host, () => {
    const port = (probe.address() as net.AddressInfo).port
    probe.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * Forks `workers` cluster workers with `env` (this same program runs in each
 * and takes its worker branch), waits until all of them listen, replaces one
 * that dies after it listened, and stops them all (SIGTERM, then SIGKILL)
 * when the scope closes.
 *
 * @example
 * ```ts
 * yield* Server.forkWorkers(2, { WEFT_TICKETS_PORT: "8080" }, console.log)
 * ```
 */
export const forkWorkers = (
  workers: number,
  env: Record<string, string>,
  log: (line: string) => void
): Effect.Effect<void, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const live = new Map<number, { worker: Worker; listening: boolean }>()
    let stopping = false
    let failure: string | undefined
    const listeners = new Set<() => void>()
    const notify = () => {
      for (const f of [...listeners]) f()
    }
    const until = (done: () => boolean) =>
      Effect.callback<void>((resume) => {
        const check = () => {
          if (done()) {
            listeners.delete(check)
            resume(Effect.void)
          }
        }
        listeners.add(check)
        check()
        return Effect.sync(() => listeners.delete(check))
      })
    const fork = () => {
      const worker = cluster.fork(env)
      worker.on("error", () => {})
      live.set(worker.id, { worker, listening: false })
    }
    const onListening = (worker: Worker) => {
      const entry = live.get(worker.id)
      if (entry !== undefined && !entry.listening) {
        entry.listening = true
        log(`worker pid ${worker.process.pid} listening`)
      }
      notify()
    }
    const onExit = (worker: Worker, code: number | null, signal: string | null) => {
      const entry = live.get(worker.id)
      live.delete(worker.id)
      if (!stopping) {
        const how = signal ?? `code ${code}`
        if (entry?.listening) {
          log(`worker pid ${worker.process.pid} exited (${how}); starting a replacement`)
          fork()
        } else {
          failure ??= `worker pid ${worker.process.pid} exited (${how}) before it listened`
        }
      }
      notify()
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        cluster.on("listening", onListening)
        cluster.on("exit", onExit)
        for (let i = 0; i < workers; i++) fork()
      }),
      () =>
        Effect.gen(function*() {
          stopping = true
          for (const { worker } of live.values()) worker.process.kill("SIGTERM")
          yield* Effect.timeoutOption(until(() => live.size === 0), "3 seconds")
          for (const { worker } of live.values()) worker.process.kill("SIGKILL")
          yield* Effect.timeoutOption(until(() => live.size === 0), "2 seconds")
          cluster.off("listening", onListening)
          cluster.off("exit", onExit)
        })
    )
    yield* until(() => failure !== undefined || [...live.values()].filter((e) => e.listening).length >= workers).pipe(
      Effect.timeout("30 seconds"),
      Effect.mapError(() => new Error(`the ${workers} workers did not all listen within 30 s`))
    )
    if (failure !== undefined) return yield* Effect.fail(new Error(failure))
  })
