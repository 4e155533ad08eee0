/**
 * The web side of the chat, in the primary: a `Hub` for WebSocket clients
 * (the registry's endpoint 0, talked to by function calls, not a relay) and
 * the Hono routes `GET /` (the page) and `GET /ws` (the socket). A WebSocket
 * text message is one line of the plain protocol, both ways, so a browser
 * user is in the same rooms, with the same nicks, as nc and IRC users.
 *
 * @example
 * const web = Web.make({ maxLine: 4096, ..., toRegistry: (message) => registry... })
 * const app = Http.makeApp(stats, (app) => Web.routes(app, web, Serve.upgradeWebSocket))
 */
import type { Hono } from "hono"
import type { UpgradeWebSocket, WSContext } from "hono/ws"
import { Hub, type Transport } from "./hub.ts"
import * as Irc from "./irc.ts"
import type { FromHub } from "./messages.ts"
import * as Page from "./page.ts"
import * as Plain from "./plain.ts"

/** The registry's name for the primary's own hub. */
export const ENDPOINT = 0

/** The web hub's settings. */
export interface WebOptions {
  readonly maxLine: number
  readonly floodBurst: number
  readonly floodRate: number
  readonly idleMs: number
  readonly maxBacklog: number
  readonly serverName?: string | undefined
  /** To the registry (called on a later microtask, never from inside the registry's own call). */
  readonly toRegistry: (message: FromHub) => void
}

/**
 * The web hub: WebSocket clients of the primary, talking to the registry by function calls.
 *
 * @example
 * const web = Web.make({ maxLine: 4096, floodBurst: 200, floodRate: 200, idleMs: 120_000, maxBacklog: 1 << 20, toRegistry })
 */
export const make = (options: WebOptions): Hub =>
  new Hub({
    handlers: { plain: Plain.make(options.maxLine), web: Plain.make(options.maxLine), irc: Irc.make({ serverName: options.serverName }) },
    flood: { burst: options.floodBurst, rate: options.floodRate, maxQueued: Math.max(64 * 1024, options.maxLine * 16) },
    maxBacklog: options.maxBacklog,
    idleMs: options.idleMs,
    send: (message) => queueMicrotask(() => options.toRegistry(message)),
    where: `web (pid ${process.pid})`
  })

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** Lines out as one WebSocket message each. */
const wsTransport = (ws: WSContext): Transport => ({
  write: (data) => {
    for (const line of decoder.decode(data).split("\n")) if (line !== "") ws.send(line)
  },
  backlog: () => (ws.raw as { bufferedAmount?: number } | undefined)?.bufferedAmount ?? 0,
  end: () => ws.close(1000, "bye"),
  destroy: () => ws.close(1008, "not reading")
})

/** `GET /` the page, `GET /ws` the socket. */
export const routes = (app: Hono, hub: Hub, upgradeWebSocket: UpgradeWebSocket<any, any>): void => {
  const page = Page.html()
  app.get("/", (c) => c.html(page))
  app.get("/favicon.ico", (c) => c.body(null, 204))
  app.get(
    "/ws",
    upgradeWebSocket(() => {
      let conn: ReturnType<Hub["open"]> | undefined
      return {
        onOpen: (_event: Event, ws: WSContext) => {
          conn = hub.open("web", wsTransport(ws))
        },
        onMessage: (event: MessageEvent, _ws: WSContext) => {
          const data = event.data
          const bytes = typeof data === "string" ? encoder.encode(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : undefined
          if (bytes === undefined || conn === undefined) return
          // One message, one line: the newline the reader frames on.
          const line = new Uint8Array(bytes.length + 1)
          line.set(bytes)
          line[bytes.length] = 10
          conn.push(line)
        },
        onClose: () => conn?.closed("left"),
        onError: () => conn?.closed("left")
      }
    })
  )
}
