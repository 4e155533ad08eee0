/**
 * Serves a Hono app on 127.0.0.1 with each runtime's own server, as Hono
 * documents it: `@hono/node-server` (with a `ws` server for WebSockets) on
 * Node, `Bun.serve` on Bun, `Deno.serve` on Deno. `upgradeWebSocket` is the
 * matching Hono WebSocket helper. Each runtime's module is imported only on
 * that runtime.
 *
 * @example
 * const runtime = await Serve.runtime()
 * app.get("/ws", runtime.upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(String(event.data)) })))
 * const served = await runtime.serve(app, 0)
 * console.log(served.port)
 * await served.close()
 */
import type { Hono } from "hono"
import type { UpgradeWebSocket } from "hono/ws"

export interface Served {
  readonly port: number
  /** Stops accepting, closes open connections (WebSockets too), resolves when done. */
  close(): Promise<void>
}

export interface Runtime {
  readonly name: "node" | "bun" | "deno"
  readonly upgradeWebSocket: UpgradeWebSocket<any, any>
  serve(app: Hono, port: number): Promise<Served>
}

const g = globalThis as { Bun?: any; Deno?: any }

export const runtime = async (): Promise<Runtime> => {
  if (g.Deno !== undefined) {
    const { upgradeWebSocket } = await import("hono/deno")
    return {
      name: "deno",
      upgradeWebSocket,
      serve: (app, port) =>
        new Promise((resolve, reject) => {
          try {
            const server = g.Deno.serve({
              hostname: "127.0.0.1",
              port,
              onListen: ({ port }: { port: number }) =>
                resolve({
                  port,
                  // The hub has closed its WebSockets by now; shutdown waits for open requests.
                  close: () => server.shutdown()
                })
            }, (request: Request, info: unknown) => app.fetch(request, info))
            server.finished.catch(reject)
          } catch (error) {
            reject(error)
          }
        })
    }
  }
  if (g.Bun !== undefined) {
    const { upgradeWebSocket, websocket } = await import("hono/bun")
    return {
      name: "bun",
      upgradeWebSocket,
      serve: async (app, port) => {
        const server = g.Bun.serve({ hostname: "127.0.0.1", port, fetch: app.fetch, websocket })
        return { port: server.port, close: () => server.stop(true) }
      }
    }
  }
  const [{ createAdaptorServer, upgradeWebSocket }, { WebSocketServer }] = await Promise.all([
    import("@hono/node-server"),
    import("ws")
  ])
  return {
    name: "node",
    upgradeWebSocket,
    serve: (app, port) =>
      new Promise((resolve, reject) => {
        const wss = new WebSocketServer({ noServer: true })
        const server = createAdaptorServer({ fetch: app.fetch, websocket: { server: wss as any } }) as import("node:http").Server
        server.once("error", reject)
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject)
          resolve({
            port: (server.address() as import("node:net").AddressInfo).port,
            close: () =>
              new Promise((done) => {
                for (const ws of wss.clients) ws.terminate()
                wss.close()
                server.close(() => done())
                server.closeAllConnections()
              })
          })
        })
      })
  }
}
