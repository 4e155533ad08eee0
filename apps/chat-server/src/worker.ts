/**
 * A chat worker (one of the cluster's processes). It accepts plain-line and
 * IRC clients on the two shared ports and runs them in a `Hub`; every command
 * goes to the registry in the primary over one loopback relay connection, and
 * the registry's replies and room events come back the same way, in one order.
 *
 * A worker loads only what it uses: node:net and this app's own modules (no
 * Effect, no Hono), so the memory per process stays close to a bare runtime's.
 */
import cluster from "node:cluster"
import * as net from "node:net"
import { Hub, type Transport } from "./hub.ts"
import * as Irc from "./irc.ts"
import { type FromHub, makeOutbox, readJsonLines, type ToHub } from "./messages.ts"
import * as Plain from "./plain.ts"

/** A worker's settings, passed by the primary in the `WEFT_CHAT` environment variable. */
export interface WorkerOptions {
  /** The address the chat and IRC listeners bind (`--host`); default 127.0.0.1. */
  readonly host?: string | undefined
  readonly port: number
  readonly ircPort: number
  readonly maxLine: number
  /** The primary's relay: 127.0.0.1:relayPort, first line `hello` with this token. */
  readonly relayPort: number
  readonly token: string
  readonly floodBurst: number
  readonly floodRate: number
  readonly idleMs: number
  readonly serverName?: string | undefined
  readonly opers?: ReadonlyArray<readonly [string, string]> | undefined
  readonly password?: string | undefined
}

/** A client that does not read and lets this much output queue up is disconnected. */
export const MAX_BACKLOG = 1024 * 1024

const socketTransport = (socket: net.Socket): Transport => ({
  write: (data) => void socket.write(data),
  backlog: () => socket.writableLength,
  end: () => {
    socket.end()
    // A peer that never reads would hold the half-closed socket: give up after a while.
    setTimeout(() => socket.destroy(), 2_000).unref()
  },
  destroy: () => socket.destroy()
})

/**
 * Runs one worker: the plain and IRC listeners, the hub, the relay to the primary.
 *
 * @example
 * runWorker(JSON.parse(process.env.WEFT_CHAT ?? "{}"))
 */
export const runWorker = (options: WorkerOptions): void => {
  const id = cluster.worker?.id ?? 0
  let stopping = false
  const relay = net.connect(options.relayPort, "127.0.0.1")
  relay.setNoDelay(true)
  relay.on("error", () => {}) // 'close' follows
  // Without its primary a worker is an orphan: tell its clients, and leave.
  relay.on("close", () => stop(true))
  // node:cluster makes a worker exit at once when its primary disconnects unexpectedly (its own
  // listener calls process.exit): this one runs first and says goodbye, then exits by itself.
  process.prependListener("disconnect", () => {
    if (cluster.worker !== undefined) (cluster.worker as { exitedAfterDisconnect: boolean }).exitedAfterDisconnect = true
    stop(true)
  })
  const outbox = makeOutbox((data) => {
    if (!relay.destroyed) relay.write(data)
  })
  const send = (message: FromHub) => outbox.push(JSON.stringify(message) + "\n")
  send({ t: "hello", token: options.token, id })

  const hub = new Hub({
    handlers: { plain: Plain.make(options.maxLine), web: Plain.make(options.maxLine), irc: Irc.make({ serverName: options.serverName, opers: new Map(options.opers ?? []), password: options.password }) },
    flood: { burst: options.floodBurst, rate: options.floodRate, maxQueued: Math.max(64 * 1024, options.maxLine * 16) },
    maxBacklog: MAX_BACKLOG,
    idleMs: options.idleMs,
    send,
    where: `worker ${id} (pid ${process.pid})`
  })
  readJsonLines<ToHub>(relay, (message) => message.t === "stop" ? stop() : hub.receive(message))

  // Counters for /stats and /metrics, sent when they change, at most 10 times a second.
  let reported = ""
  const report = setInterval(() => {
    const counters = hub.counters()
    const json = JSON.stringify(counters)
    if (json !== reported) {
      reported = json
      send({ t: "stats", s: counters })
    }
  }, 100)
  report.unref()

  const accept = (proto: "plain" | "irc") => (socket: net.Socket) => {
    if (stopping) return void socket.destroy()
    socket.setNoDelay(true)
    socket.setKeepAlive(true, options.idleMs)
    const conn = hub.open(proto, socketTransport(socket))
    socket.on("data", (chunk: Buffer) => conn.push(chunk))
    socket.on("error", () => {}) // ECONNRESET and friends: 'close' follows
    socket.on("close", () => conn.closed("left"))
  }
  const servers = [net.createServer(accept("plain")), net.createServer(accept("irc"))]
  const host = options.host ?? "127.0.0.1"
  const ports = [options.port, options.ircPort]
  let listening = 0
  servers.forEach((server, i) => {
    server.on("error", (error) => {
      send({ t: "listen-error", message: `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${ports[i]}: ${error.message}` })
      setTimeout(() => process.exit(1), 100)
    })
    server.listen(ports[i], host, () => {
      if (++listening === servers.length) send({ t: "listening" })
    })
  })

  /** Tells every client, closes, exits; `orphan`: the primary is gone already. */
  function stop(orphan = false) {
    if (stopping) return
    stopping = true
    // Clients first: closing a server talks to the primary, which may be gone already.
    hub.shutdown("server shutting down")
    // An orphan's listening sockets close with it: closing them asks the primary, which is gone
    // (on Deno that is an uncaught broken pipe, which would cut the goodbyes short).
    if (!orphan) for (const server of servers) {
      try {
        server.close()
      } catch {
        // Deno: the IPC channel to a departed primary is a broken pipe; the port closes with us.
      }
    }
    // Give the goodbyes a moment to flush, then go.
    const exit = () => process.exit(0)
    const poll = setInterval(() => {
      if (hub.size === 0) setTimeout(exit, 20)
    }, 20)
    poll.unref()
    setTimeout(exit, 1_500)
  }
  process.on("SIGTERM", () => stop())
  // A write to the relay after the primary died must be an error to handle, not a signal that kills
  // (Node ignores SIGPIPE; Deno does not).
  try {
    process.on("SIGPIPE", () => {})
  } catch {
    // a runtime that cannot listen for it
  }
  // Ctrl-C reaches the whole process group; the primary decides, and sends SIGTERM.
  process.on("SIGINT", () => {})
}
