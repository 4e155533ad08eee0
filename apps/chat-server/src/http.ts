/**
 * The HTTP side, on Hono, served on 127.0.0.1 with `@hono/node-server` (which
 * runs unchanged on Node, Bun and Deno: all three provide `node:http`).
 *
 *   GET /health -> 200 { ok: true, workers, listening } | 503 (a worker is missing or still starting)
 *   GET /stats  -> 200 { port, workers: [{ id, pid, connections }], connections, relayed, restarts }
 */
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createAdaptorServer } from "@hono/node-server"
import { Effect, type Scope } from "effect"
import { Hono } from "hono"

export interface WorkerStats {
  readonly id: number
  readonly pid: number | undefined
  readonly connections: number
  readonly listening: boolean
}

export interface Stats {
  readonly port: number
  /** How many workers the primary keeps running. */
  readonly wanted: number
  readonly workers: ReadonlyArray<WorkerStats>
  /** Chat messages relayed by the primary (each once, however many workers it went to). */
  readonly relayed: number
  /** Workers replaced after they died. */
  readonly restarts: number
}

export const makeApp = (stats: () => Stats): Hono => {
  const app = new Hono()
  app.get("/health", (c) => {
    const s = stats()
    const listening = s.workers.filter((w) => w.listening).length
    return c.json({ ok: listening === s.wanted, workers: s.wanted, listening }, listening === s.wanted ? 200 : 503)
  })
  app.get("/stats", (c) => {
    const s = stats()
    return c.json({
      port: s.port,
      workers: s.workers.map((w) => ({ id: w.id, pid: w.pid, connections: w.connections })),
      connections: s.workers.reduce((n, w) => n + w.connections, 0),
      relayed: s.relayed,
      restarts: s.restarts
    })
  })
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}; try GET /stats, GET /health` }, 404))
  return app
}

/** Serves the app on 127.0.0.1:port (0: a free one) until the scope closes; the bound port. */
export const serve = (app: Hono, port: number): Effect.Effect<number, Error, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.callback<Server, Error>((resume) => {
        const server = createAdaptorServer({ fetch: app.fetch }) as Server
        const onError = (error: Error) => resume(Effect.fail(new Error(`cannot listen on 127.0.0.1:${port}: ${error.message}`)))
        server.once("error", onError)
        server.listen(port, "127.0.0.1", () => {
          server.off("error", onError)
          resume(Effect.succeed(server))
        })
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections?.()
        })
    ),
    (server) => (server.address() as AddressInfo).port
  )
