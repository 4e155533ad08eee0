/**
 * The HTTP side, on Hono, in the primary:
 *
 *   GET /health  -> 200 { ok: true, workers, listening[, cluster] } | 503 (a worker is missing or still
 *                   starting, or on a cluster this instance is cut off from its database)
 *   GET /stats   -> 200 { port, ircPort, workers: [...], connections, users, rooms, messages, relayed, restarts }
 *   GET /metrics -> Prometheus text: connections, messages in and out, dropped slow consumers,
 *                   flood-delayed lines, per worker; users, rooms and room messages
 *
 * @example
 * const app = Http.makeApp(() => stats)
 * const served = await (await Serve.runtime()).serve(app, 0)
 */
import * as Guard from "@weft/app/Guard"
import * as Inspector from "@weft/app/Inspector"
import { Hono } from "hono"
import type { Counters, RoomInfo } from "./messages.ts"

/** One hub's figures as /stats and /metrics show them. */
export interface WorkerStats extends Counters {
  /** "1", "2", ... for workers; "web" for the primary's WebSocket clients. */
  readonly id: string
  readonly pid: number | undefined
  readonly listening: boolean
}

/** What the HTTP side reports, read fresh on every request. */
export interface Stats {
  readonly port: number
  readonly ircPort: number
  /** How many workers the primary keeps running. */
  readonly wanted: number
  readonly workers: ReadonlyArray<WorkerStats>
  readonly users: number
  readonly rooms: ReadonlyArray<RoomInfo>
  /** Room messages sequenced by the registry (each once, however many workers it went to). */
  readonly messages: number
  /** Workers replaced after they died. */
  readonly restarts: number
  /** On a cluster (`--cluster`): whether this instance is part of the chat now (not cut off from its database). */
  readonly cluster?: "joining" | "up" | "down" | undefined
}

const metric = (name: string, type: "gauge" | "counter", help: string, samples: ReadonlyArray<[string, number]>) =>
  [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, value]) => `${name}${labels} ${value}`)].join("\n")

/** The Prometheus text exposition (format 0.0.4) of `s`. */
export const metrics = (s: Stats): string => {
  const per = (f: (w: WorkerStats) => number) => s.workers.map((w): [string, number] => [`{worker="${w.id}"}`, f(w)])
  return [
    metric("chat_connections", "gauge", "Open client connections.", per((w) => w.connections)),
    metric("chat_messages_in_total", "counter", "Lines received from clients and processed.", per((w) => w.messagesIn)),
    metric("chat_messages_out_total", "counter", "Lines written to clients.", per((w) => w.messagesOut)),
    metric("chat_dropped_slow_consumers_total", "counter", "Clients cut for not reading their output.", per((w) => w.droppedSlow)),
    metric("chat_flood_delayed_lines_total", "counter", "Lines delayed by flood control (processed later, not dropped).", per((w) => w.floodDelayed)),
    metric("chat_flood_disconnects_total", "counter", "Clients cut for too much unprocessed input.", per((w) => w.floodKicked)),
    metric("chat_users", "gauge", "Registered users.", [["", s.users]]),
    metric("chat_rooms", "gauge", "Rooms with at least one member.", [["", s.rooms.length]]),
    metric("chat_room_messages_total", "counter", "Room messages sequenced.", [["", s.messages]]),
    metric("chat_worker_restarts_total", "counter", "Workers replaced after they died.", [["", s.restarts]])
  ].join("\n") + "\n"
}

/**
 * The app; `extend` adds routes (the chat page) before the 404 handler. Every
 * route, the WebSocket too, is behind `@weft/app`'s `Guard` (`guard`: where
 * the server listens and the page's scripts): a foreign `Host` gets 421,
 * another origin's upgrade or POST 403.
 */
export const makeApp = (stats: () => Stats, extend?: (app: Hono) => void, guard: Guard.Options = {}): Hono => {
  const app = new Hono()
  app.use(Guard.make({ maxBody: 4096, ...guard }))
  app.get("/health", (c) => {
    const s = stats()
    const listening = s.workers.filter((w) => w.listening).length
    const ok = listening >= s.wanted && (s.cluster === undefined || s.cluster === "up")
    return c.json({ ok, workers: s.wanted, listening, ...(s.cluster === undefined ? {} : { cluster: s.cluster }) }, ok ? 200 : 503)
  })
  app.get("/stats", (c) => {
    const s = stats()
    return c.json({
      port: s.port,
      ircPort: s.ircPort,
      workers: s.workers.map(({ listening: _, ...w }) => w),
      connections: s.workers.reduce((n, w) => n + w.connections, 0),
      users: s.users,
      rooms: s.rooms,
      messages: s.messages,
      relayed: s.messages,
      restarts: s.restarts
    })
  })
  // The chat's figures, then Effect's metrics (Weft's contention metrics among them).
  app.get("/metrics", async (c) =>
    c.text(metrics(stats()) + await Inspector.metricsText(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }))
  // GET /inspect and /inspect/events: the primitives of this process, for npm start's inspector page.
  Inspector.routes(app, { label: "chat-server", metrics: false })
  extend?.(app)
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}; try GET /stats, GET /health, GET /metrics` }, 404))
  return app
}
