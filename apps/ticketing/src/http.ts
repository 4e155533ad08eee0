/**
 * The ticket API on Hono, served on 127.0.0.1 with `@hono/node-server`
 * (which runs unchanged on Node, Bun and Deno: all three provide `node:http`).
 *
 *   GET  /tickets  -> 200 { count }
 *   POST /buy      -> 200 { ok: true, left } | 409 { ok: false, error: "sold out", left: 0 }
 *   POST /reset    { count } -> 200 { ok: true, count } | 400 { error } (count not a non-negative integer)
 *
 * A missing or corrupt ticket file answers 500 `{ error }` naming the file and
 * what is wrong. Any number of servers may share one ticket file: every buy
 * and reset runs under the file's FileLock.
 */
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { createAdaptorServer } from "@hono/node-server"
import { Effect, type Scope } from "effect"
import { Hono } from "hono"
import type { TicketStore } from "./store.ts"

export const makeApp = (store: TicketStore): Hono => {
  const app = new Hono()
  const fileError = (error: { readonly message: string }) => ({ error: error.message })

  app.get("/tickets", (c) =>
    Effect.runPromise(store.search.pipe(
      Effect.match({ onSuccess: (count) => c.json({ count }), onFailure: (e) => c.json(fileError(e), 500) })
    )))

  app.post("/buy", (c) =>
    Effect.runPromise(store.buy.pipe(
      Effect.match({
        onSuccess: (p) => p.ok ? c.json({ ok: true, left: p.left }) : c.json({ ok: false, error: "sold out", left: 0 }, 409),
        onFailure: (e) => c.json(fileError(e), 500)
      })
    )))

  app.post("/reset", async (c) => {
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      return c.json({ error: `the body must be JSON like {"count": 3}` }, 400)
    }
    const count = typeof body === "object" && body !== null ? (body as { count?: unknown }).count : undefined
    return Effect.runPromise(store.reset(count).pipe(
      Effect.match({
        onSuccess: () => c.json({ ok: true, count }),
        onFailure: (e) => c.json(fileError(e), e._tag === "InvalidCountError" ? 400 : 500)
      })
    ))
  })

  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}; try GET /tickets, POST /buy, POST /reset` }, 404))
  return app
}

export interface Served {
  readonly port: number
  readonly url: string
}

/** Serves the API on `hostname:port` (port 0: a free one) until the scope closes. */
export const serve = (
  store: TicketStore,
  options: { readonly port?: number; readonly hostname?: string } = {}
): Effect.Effect<Served, Error, Scope.Scope> => {
  const hostname = options.hostname ?? "127.0.0.1"
  return Effect.map(
    Effect.acquireRelease(
      Effect.callback<Server, Error>((resume) => {
        const server = createAdaptorServer({ fetch: makeApp(store).fetch }) as Server
        const onError = (error: Error) => resume(Effect.fail(new Error(`cannot listen on ${hostname}:${options.port ?? 0}: ${error.message}`)))
        server.once("error", onError)
        server.listen(options.port ?? 0, hostname, () => {
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
    (server) => {
      const port = (server.address() as AddressInfo).port
      return { port, url: `http://${hostname}:${port}` }
    }
  )
}
