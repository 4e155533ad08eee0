/**
 * The primary process: forks the workers (node:cluster; they share the chat
 * and IRC ports and the primary hands out connections round robin), holds the
 * `Registry` of users and rooms, replaces a worker that dies, serves the HTTP
 * side, and stops every worker when its scope closes.
 *
 * Each worker opens one loopback TCP relay connection to the primary (JSON
 * lines, see messages.ts) and sends its clients' commands over it; the primary
 * runs them one at a time through the registry and sends replies and room
 * events back, a room's events only to the workers with members in it.
 */
import cluster, { type Worker } from "node:cluster"
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import * as Host from "@weft/app/Host"
import * as Serve from "@weft/app/Serve"
import * as Workers from "@weft/app/Workers"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "./http.ts"
import * as Page from "./page.ts"
import { leanWorkers } from "./lean.ts"
import { type Counters, type FromHub, makeOutbox, readJsonLines, type ToHub } from "./messages.ts"
import * as Clustered from "./cluster.ts"
import { Registry } from "./registry.ts"
import * as Web from "./web.ts"
import { MAX_BACKLOG } from "./worker.ts"

/** The primary's settings, from the command line. */
export interface PrimaryOptions {
  /** The address every listener binds (`--host`); default 127.0.0.1. */
  readonly host?: string | undefined
  /** `--public-host`: a name the web side answers to besides the address and the host name. */
  readonly publicHost?: string | undefined
  /** TCP port for the plain chat; 0 picks a free one. */
  readonly port: number
  /** TCP port for IRC; 0 picks a free one. */
  readonly ircPort: number
  readonly httpPort: number
  readonly workers: number
  readonly maxLine: number
  readonly quietAbove: number
  readonly floodBurst: number
  readonly floodRate: number
  readonly idleMs: number
  /** IRC: the server's name; operators (name, scrypt hash); the connection password. */
  readonly serverName?: string | undefined
  readonly opers?: ReadonlyArray<readonly [string, string]> | undefined
  readonly password?: string | undefined
  /** `--cluster`: the PostgreSQL URL every instance of one chat shares (none: this machine is the chat). */
  readonly cluster?: string | undefined
  readonly log: (line: string) => void
}

/** The bound ports. */
export interface Running {
  readonly port: number
  readonly ircPort: number
  readonly httpPort: number
}

interface Entry {
  readonly worker: Worker
  relay: net.Socket | undefined
  outbox: { readonly push: (line: string) => void } | undefined
  counters: Counters
}

const noCounters: Counters = { connections: 0, messagesIn: 0, messagesOut: 0, droppedSlow: 0, floodDelayed: 0, floodKicked: 0 }

/**
 * Starts the workers, the registry and the HTTP side; everything stops (clients told, workers
 * gone) when the scope closes.
 *
 * @example
 * const { port, ircPort, httpPort } = yield* runPrimary({ port: 0, ircPort: 0, httpPort: 0, workers: 2, ... })
 */
export const runPrimary = (options: PrimaryOptions): Effect.Effect<Running, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? Host.loopback
    // Port 0 is resolved once, here: node:cluster keys a shared socket by the port its workers ask for.
    const port = options.port === 0 ? yield* Workers.freePort(host) : options.port
    const ircPort = options.ircPort === 0 ? yield* Workers.freePort(host) : options.ircPort
    /** Each live worker's relay: its outbox and the counters it last reported. */
    const entries = new Map<number, Entry>()
    /** Set with the first worker, before any relay can report. */
    let supervisor: Workers.Workers | undefined

    const web = Web.make({
      maxLine: options.maxLine,
      floodBurst: options.floodBurst,
      floodRate: options.floodRate,
      idleMs: options.idleMs,
      maxBacklog: MAX_BACKLOG,
      serverName: options.serverName,
      toRegistry: (message) => fromHub(Web.ENDPOINT, message)
    })
    /** To hubs of this process and its workers: one message, serialized once however many workers it goes to. */
    const deliver = (endpoints: ReadonlyArray<number>, message: ToHub) => {
      let line: string | undefined
      for (const endpoint of endpoints) {
        if (endpoint === Web.ENDPOINT) {
          web.receive(message)
          continue
        }
        const entry = entries.get(endpoint)
        if (entry?.outbox === undefined) continue
        line ??= JSON.stringify(message) + "\n"
        entry.outbox.push(line)
      }
    }
    // One registry here, or this machine's replica of the cluster's (the same seam either way).
    const registry: Clustered.Sequencer & { readonly status?: () => Clustered.Status } = options.cluster === undefined
      ? new Registry({ quietAbove: options.quietAbove, serverName: options.serverName, deliver })
      : yield* Clustered.make({
        url: options.cluster,
        quietAbove: options.quietAbove,
        serverName: options.serverName,
        deliver,
        endpoints: () => [Web.ENDPOINT, ...entries.keys()],
        log: options.log
      })

    const token = randomBytes(16).toString("hex")
    /** A hub's message for the registry: from a worker's relay, or from the web hub. */
    function fromHub(endpoint: number, message: FromHub) {
      switch (message.t) {
        case "open":
          return registry.open(endpoint, message.c, message.proto, message.nick, message.user, message.real)
        case "cmd":
          return registry.command(endpoint, message.c, message.cmd)
        case "close":
          return registry.close(endpoint, message.c, message.reason)
      }
    }
    const onMessage = (entry: Entry, message: FromHub) => {
      const id = entry.worker.id
      switch (message.t) {
        case "open":
        case "cmd":
        case "close":
          return fromHub(id, message)
        case "stats":
          entry.counters = message.s
          return
        case "listening":
          return supervisor?.ready(id)
        case "listen-error":
          return supervisor?.fail(message.message)
      }
    }
    const relayServer = yield* Effect.acquireRelease(
      Effect.callback<net.Server, Error>((resume) => {
        const server = net.createServer((socket) => {
          socket.setNoDelay(true)
          socket.on("error", () => {}) // 'close' follows; the worker's 'exit' does the bookkeeping
          let entry: Entry | undefined
          readJsonLines<FromHub>(socket, (message) => {
            if (entry !== undefined) return onMessage(entry, message)
            // The first line names the worker and proves it is ours.
            const claimed = message.t === "hello" && message.token === token ? entries.get(message.id) : undefined
            if (claimed === undefined || claimed.relay !== undefined) return void socket.destroy()
            entry = claimed
            entry.relay = socket
            entry.outbox = makeOutbox((data) => {
              if (!socket.destroyed) socket.write(data)
            })
          })
        })
        server.once("error", (error) => resume(Effect.fail(new Error(`cannot open the relay on 127.0.0.1: ${error.message}`))))
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.sync(() => server.close())
    )
    const relayPort = (relayServer.address() as net.AddressInfo).port

    // On Node, workers run a stripped copy of their modules with a small young generation (lean.ts).
    const lean = leanWorkers()
    if (lean !== undefined) cluster.setupPrimary({ exec: lean.entry, execArgv: [...lean.execArgv] })

    const workers = yield* Workers.fork({
      count: options.workers,
      env: {
        WEFT_CHAT: JSON.stringify({
          host,
          port,
          ircPort,
          maxLine: options.maxLine,
          relayPort,
          token,
          floodBurst: options.floodBurst,
          floodRate: options.floodRate,
          idleMs: options.idleMs,
          serverName: options.serverName,
          opers: options.opers,
          password: options.password
        })
      },
      log: options.log,
      // A worker listens when it says so over its relay: both its ports are bound then.
      listening: "manual",
      startTimeout: "20 seconds",
      onFork: (worker, workers) => {
        supervisor = workers
        entries.set(worker.id, { worker, relay: undefined, outbox: undefined, counters: noCounters })
      },
      onExit: (worker) => {
        entries.delete(worker.id)
        registry.dropEndpoint(worker.id, "left (server worker died)")
      },
      // Asked over the relay first: on Deno a worker's SIGTERM handler does not always run.
      ask: (worker) => entries.get(worker.id)?.outbox?.push(JSON.stringify({ t: "stop" } satisfies ToHub) + "\n")
    }).pipe(Effect.mapError((error) => new Error(error.reason)))

    const stats = (): Http.Stats => ({
      port,
      ircPort,
      wanted: options.workers,
      workers: [
        ...[...workers.live.values()].map((w) => ({
          id: String(w.worker.id),
          pid: w.pid,
          listening: w.listening,
          ...(entries.get(w.worker.id)?.counters ?? noCounters)
        })),
        { id: "web", pid: process.pid, listening: false, ...web.counters() }
      ],
      users: registry.userCount,
      rooms: registry.roomList(),
      messages: registry.messages,
      restarts: workers.restarts,
      cluster: registry.status?.()
    })
    const app = Http.makeApp(stats, (app) => Web.routes(app, web, Serve.upgradeWebSocket), {
      host,
      publicHost: options.publicHost,
      scripts: [Page.script]
    })
    const served = yield* Serve.serve(app, { port: options.httpPort, hostname: host }).pipe(
      Effect.mapError((error) => new Error(error.message))
    )
    // Released before the server: web users are told, and their goodbyes sent, before it closes.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        if (web.size === 0) return Effect.void
        web.shutdown("server shutting down")
        return Effect.sleep("100 millis")
      })
    )
    return { port, ircPort, httpPort: served.port }
  })
