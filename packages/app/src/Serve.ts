/**
 * Serves a Hono app (or any `fetch` handler) on the runtime's own HTTP server,
 * as Hono documents it for each runtime, with WebSocket upgrades:
 *
 * | runtime | server | WebSockets |
 * | --- | --- | --- |
 * | Node | `@hono/node-server` (`createAdaptorServer`) | its `upgradeWebSocket`, over a `ws` `WebSocketServer` |
 * | Bun | `Bun.serve` | `hono/bun`'s `upgradeWebSocket` and `websocket` |
 * | Deno | `Deno.serve` | `hono/deno`'s `upgradeWebSocket` |
 *
 * `serve` binds 127.0.0.1 unless told otherwise, on `port` (0, the default: a
 * free one), and returns the bound port. The server lives in the `Scope`:
 * closing it stops listening and cuts every open connection (long-lived
 * Server-Sent Events streams and WebSockets included), so nothing holds the
 * process open afterwards.
 *
 * Write routes once with this module's `upgradeWebSocket`: it is the helper of
 * the runtime running the code.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hono } from "hono"
 * import { Serve } from "@weft/app"
 *
 * const app = new Hono()
 * app.get("/health", (c) => c.json({ ok: true }))
 * app.get("/echo", Serve.upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(String(event.data)) })))
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* Serve.serve(app, { port: 0 })
 *   console.log(`listening on ${server.url}`)
 *   return yield* Effect.never
 * }))
 * ```
 *
 * @module
 */
import type { Server as NodeServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { Socket } from "node:net"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { dual } from "effect/Function"
import type { UpgradeWebSocket } from "hono/ws"
import * as Host from "./Host.ts"
import * as Runtime from "./Runtime.ts"

/**
 * What `serve` serves: a Hono app, or anything with Hono's `fetch` signature.
 *
 * @example
 * ```ts
 * const handler: Serve.Fetchable = { fetch: () => new Response("hi") }
 * ```
 */
export interface Fetchable {
  readonly fetch: (request: Request, env?: any, ctx?: any) => Response | Promise<Response>
}

/**
 * Where to listen.
 *
 * @example
 * ```ts
 * const options: Serve.Options = { port: 8080 } // on 127.0.0.1
 * ```
 */
export interface Options {
  /** The TCP port; 0 (the default) picks a free one. */
  readonly port?: number | undefined
  /** The address to bind; default `127.0.0.1` (loopback only); `0.0.0.0` or `::` for every interface. */
  readonly hostname?: string | undefined
  /**
   * The port is shared by `node:cluster` workers (see `Workers`): served
   * through `node:http` on every runtime, the server node:cluster shares,
   * instead of `Bun.serve` or `Deno.serve`. For HTTP and SSE: this module's
   * `upgradeWebSocket` is the runtime's own server's, so WebSocket routes
   * need `shared` off on Bun and Deno.
   */
  readonly shared?: boolean | undefined
}

/**
 * A running server.
 *
 * @example
 * ```ts
 * const server: Serve.Server = yield* Serve.serve(app)
 * await fetch(`${server.url}/health`)
 * ```
 */
export interface Server {
  /** The bound port (the free one picked when asked for port 0). */
  readonly port: number
  readonly hostname: string
  /** `http://hostname:port` (an IPv6 address bracketed), without a trailing slash. */
  readonly url: string
}

/**
 * The server could not listen: the port is taken, not allowed, or the
 * address does not exist on this machine. The message names the address.
 *
 * @example
 * ```ts
 * Serve.serve(app, { port: 8080 }).pipe(
 *   Effect.catchTag("ServeError", (e) => Effect.logError(e.message)) // "cannot listen on 127.0.0.1:8080: the port is taken"
 * )
 * ```
 */
export class ServeError extends Data.TaggedError("ServeError")<{
  readonly hostname: string
  readonly port: number
  /** Why, e.g. "the port is taken". */
  readonly reason: string
  /** `true` when another process already listens there (EADDRINUSE). */
  readonly inUse: boolean
}> {
  override get message(): string {
    return `cannot listen on ${Host.authority(this.hostname, this.port)}: ${this.reason}`
  }
}

const listenError = (hostname: string, port: number, error: unknown): ServeError => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  const name = error instanceof Error ? error.name : ""
  const text = error instanceof Error ? error.message : String(error)
  const inUse = code === "EADDRINUSE" || name === "AddrInUse" || /address already in use|EADDRINUSE|port .* in use/i.test(text)
  return new ServeError({ hostname, port, inUse, reason: inUse ? "the port is taken" : text })
}

type Started = { readonly port: number; readonly close: () => Promise<void> }

/** Node: `@hono/node-server` with a `ws` server for upgrades (created with `noServer`, as it requires). */
const serveNode = async (app: Fetchable, hostname: string, port: number): Promise<Started> => {
  const [{ createAdaptorServer }, { WebSocketServer }] = await Promise.all([import("@hono/node-server"), import("ws")])
  const wss = new WebSocketServer({ noServer: true })
  // `as never`: ws's own types and exactOptionalPropertyTypes disagree on `options.noServer`.
  const server = createAdaptorServer({ fetch: app.fetch, hostname, websocket: { server: wss as never } }) as NodeServer
  // Upgraded sockets leave the HTTP server's books; keep every socket to cut them on close. (Not an
  // "upgrade" listener: with a second one, @hono/node-server leaves a refused handshake unanswered.)
  const sockets = new Set<Socket>()
  server.on("connection", (socket: Socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, hostname, () => {
      server.off("error", reject)
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const client of wss.clients) client.terminate()
        for (const socket of sockets) socket.destroy()
        server.closeAllConnections()
      })
  }
}

/** Bun: `Bun.serve`, with `hono/bun`'s `websocket` handlers. */
const serveBun = async (app: Fetchable, hostname: string, port: number): Promise<Started> => {
  const { websocket } = await import("hono/bun")
  // idleTimeout 0: no timeout, as on Node and Deno; Bun's default (10 s) cuts a quiet SSE stream.
  const server = Bun.serve({ hostname, port, fetch: app.fetch, websocket, idleTimeout: 0 })
  return { port: server.port!, close: () => server.stop(true) }
}

interface DenoServer {
  readonly addr: { readonly port: number }
  readonly finished: Promise<void>
  shutdown(): Promise<void>
}

interface DenoApi {
  serve(
    options: { port: number; hostname: string; signal?: AbortSignal; onListen?: (addr: unknown) => void },
    handler: (request: Request) => Response | Promise<Response>
  ): DenoServer
}

/** Deno: `Deno.serve` (`hono/deno`'s upgrade helper needs nothing at serve time). */
const serveDeno = async (app: Fetchable, hostname: string, port: number): Promise<Started> => {
  const deno = (globalThis as unknown as { Deno: DenoApi }).Deno
  // Aborting the signal closes the listener and cuts open responses (SSE streams, WebSockets).
  const abort = new AbortController()
  const server = deno.serve({ hostname, port, signal: abort.signal, onListen: () => {} }, (request) => app.fetch(request))
  return {
    port: server.addr.port,
    close: async () => {
      abort.abort()
      await server.finished
    }
  }
}

const start = (app: Fetchable, hostname: string, port: number, shared: boolean): Promise<Started> =>
  shared || Runtime.current === "node"
    ? serveNode(app, hostname, port)
    : Runtime.current === "bun"
    ? serveBun(app, hostname, port)
    : serveDeno(app, hostname, port)

/**
 * Serves `app` on `hostname:port` (default 127.0.0.1, a free port) until the
 * scope closes; fails with `ServeError` if it cannot listen.
 *
 * @example
 * ```ts
 * const server = yield* Serve.serve(app, { port: 0 })
 * // or, data-last: yield* Serve.serve({ port: 8080 })(app)
 * console.log(server.url) // http://127.0.0.1:41234
 * ```
 */
export const serve: {
  (options?: Options): (app: Fetchable) => Effect.Effect<Server, ServeError, Scope.Scope>
  (app: Fetchable, options?: Options): Effect.Effect<Server, ServeError, Scope.Scope>
} = dual(
  (args) => typeof (args[0] as Partial<Fetchable> | undefined)?.fetch === "function",
  (app: Fetchable, options: Options = {}): Effect.Effect<Server, ServeError, Scope.Scope> => {
    const hostname = options.hostname ?? "127.0.0.1"
    const port = options.port ?? 0
    return Effect.map(
      Effect.acquireRelease(
        Effect.tryPromise({ try: () => start(app, hostname, port, options.shared === true), catch: (error) => listenError(hostname, port, error) }),
        (started) => Effect.promise(() => started.close())
      ),
      (started): Server => ({ port: started.port, hostname, url: Host.url(hostname, started.port) })
    )
  }
)

const adapter: { readonly upgradeWebSocket: UpgradeWebSocket } = Runtime.current === "bun"
  ? await import("hono/bun")
  : Runtime.current === "deno"
  ? await import("hono/deno")
  : await import("@hono/node-server")

/**
 * Hono's WebSocket helper for the runtime running this code (`@hono/node-server`,
 * `hono/bun` or `hono/deno`); use it in routes served by `serve`.
 *
 * @example
 * ```ts
 * app.get("/ws", Serve.upgradeWebSocket((c) => ({
 *   onOpen: (_event, ws) => ws.send("hello"),
 *   onMessage: (event, ws) => ws.send(`you said ${event.data}`),
 *   onClose: () => console.log("gone")
 * })))
 * ```
 */
export const upgradeWebSocket: UpgradeWebSocket = adapter.upgradeWebSocket
