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
import * as Serve from "@weft/app/Serve"
// One module, not the package index: the primary loads only what it uses.
import * as Condition from "@weft/primitives/Condition"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "./http.ts"
import { leanWorkers } from "./lean.ts"
import { type Counters, type FromHub, makeOutbox, readJsonLines, type ToHub } from "./messages.ts"
import { Registry } from "./registry.ts"
import * as Web from "./web.ts"
import { MAX_BACKLOG } from "./worker.ts"

/** The primary's settings, from the command line. */
export interface PrimaryOptions {
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
  readonly pid: number | undefined
  relay: net.Socket | undefined
  outbox: { readonly push: (line: string) => void } | undefined
  counters: Counters
  listening: boolean
}

const noCounters: Counters = { connections: 0, messagesIn: 0, messagesOut: 0, droppedSlow: 0, floodDelayed: 0, floodKicked: 0 }

/**
 * With round robin the primary keys a shared socket by the port workers ask
 * for, and closes it when the last worker leaves: a replacement asking for port
 * 0 after that would get a new port. So port 0 is resolved once, here.
 */
const freePort = Effect.callback<number, Error>((resume) => {
  const probe = net.createServer()
  probe.once("error", (error) => resume(Effect.fail(error)))
  probe.listen(0, "127.0.0.1", () => {
    const port = (probe.address() as net.AddressInfo).port
    probe.close(() => resume(Effect.succeed(port)))
  })
})

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Resolves once none of `pids` is alive (polled: a process's death has no portable event). */
const waitGone = (pids: ReadonlyArray<number>) =>
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
 * Starts the workers, the registry and the HTTP side; everything stops (clients told, workers
 * gone) when the scope closes.
 *
 * @example
 * const { port, ircPort, httpPort } = yield* runPrimary({ port: 0, ircPort: 0, httpPort: 0, workers: 2, ... })
 */
export const runPrimary = (options: PrimaryOptions): Effect.Effect<Running, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const port = options.port === 0 ? yield* freePort : options.port
    const ircPort = options.ircPort === 0 ? yield* freePort : options.ircPort
    const entries = new Map<number, Entry>()
    let restarts = 0
    let stopping = false
    let failure: string | undefined
    // The workers' state (`entries`, `failure`) changes in cluster and relay callbacks; start-up and
    // shutdown wait for a predicate over it. That is a condition variable: wait under its lock until
    // the predicate holds, re-checked on every notification.
    const changed = yield* Condition.make()
    const notify = () => void Effect.runFork(changed.withLock(changed.notifyAll))
    /** Waits until `done()` holds, at most `timeout`; whether it does. */
    const until = (done: () => boolean, timeout: Duration.Input) => Effect.orDie(changed.withLock(changed.waitUntil(done, timeout)))

    const web = Web.make({
      maxLine: options.maxLine,
      floodBurst: options.floodBurst,
      floodRate: options.floodRate,
      idleMs: options.idleMs,
      maxBacklog: MAX_BACKLOG,
      serverName: options.serverName,
      toRegistry: (message) => fromHub(Web.ENDPOINT, message)
    })
    const registry = new Registry({
      quietAbove: options.quietAbove,
      serverName: options.serverName,
      deliver: (endpoints: ReadonlyArray<number>, message: ToHub) => {
        // Serialized once, however many workers it goes to.
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
          entry.listening = true
          options.log(`worker ${id} pid ${entry.pid} listening`)
          break
        case "listen-error":
          failure ??= message.message
          break
      }
      notify()
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

    const fork = () => {
      const worker = cluster.fork({
        WEFT_CHAT: JSON.stringify({
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
      })
      entries.set(worker.id, { worker, pid: worker.process.pid, relay: undefined, outbox: undefined, counters: noCounters, listening: false })
      worker.on("error", () => {})
    }

    const onExit = (worker: Worker, code: number | null, signal: string | null) => {
      const entry = entries.get(worker.id)
      entries.delete(worker.id)
      registry.dropEndpoint(worker.id, "left (server worker died)")
      if (!stopping) {
        const how = signal ?? `code ${code}`
        if (entry?.listening) {
          options.log(`worker ${worker.id} pid ${entry.pid} exited (${how}); starting a replacement`)
          restarts++
          fork()
        } else {
          // Dying before listening would die again: no crash loop.
          failure ??= `worker ${worker.id} exited (${how}) before it listened`
          options.log(`${failure}; not replaced`)
        }
      }
      notify()
    }

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        cluster.on("exit", onExit)
        for (let i = 0; i < options.workers; i++) fork()
      }),
      () =>
        Effect.gen(function*() {
          stopping = true
          const pids = [...entries.values()].flatMap((e) => e.pid === undefined ? [] : [e.pid])
          // Asked over the relay first: on Deno a worker's SIGTERM handler does not always run.
          for (const entry of entries.values()) entry.outbox?.push(JSON.stringify({ t: "stop" } satisfies ToHub) + "\n")
          yield* until(() => entries.size === 0, "3 seconds")
          for (const entry of entries.values()) entry.worker.process.kill("SIGTERM")
          yield* until(() => entries.size === 0, "2 seconds")
          for (const entry of entries.values()) entry.worker.process.kill("SIGKILL")
          yield* until(() => entries.size === 0, "2 seconds")
          cluster.off("exit", onExit)
          // Deno reports a worker's exit when its channel closes: wait for the process itself, so
          // that it finishes its goodbyes (and is not cut short when this process exits).
          yield* Effect.timeoutOption(waitGone(pids), "3 seconds")
          for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL")
        })
    )

    const ready = () => failure !== undefined || [...entries.values()].filter((e) => e.listening).length >= options.workers
    if (!(yield* until(ready, "20 seconds"))) {
      return yield* Effect.fail(new Error(`the workers did not all listen on 127.0.0.1:${port} and :${ircPort} within 20 s`))
    }
    if (failure !== undefined) return yield* Effect.fail(new Error(failure))

    const stats = (): Http.Stats => ({
      port,
      ircPort,
      wanted: options.workers,
      workers: [
        ...[...entries.values()].map((e) => ({ id: String(e.worker.id), pid: e.pid, listening: e.listening, ...e.counters })),
        { id: "web", pid: process.pid, listening: false, ...web.counters() }
      ],
      users: registry.userCount,
      rooms: registry.roomList(),
      messages: registry.messages,
      restarts
    })
    const app = Http.makeApp(stats, (app) => Web.routes(app, web, Serve.upgradeWebSocket))
    const served = yield* Serve.serve(app, { port: options.httpPort }).pipe(
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
