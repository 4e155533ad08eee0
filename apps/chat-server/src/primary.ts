/**
 * The primary process: forks the workers (node:cluster; they share one TCP
 * port and the primary hands out connections round robin), relays every room
 * line from any worker to all workers, replaces a worker that dies, serves the
 * HTTP side, and stops every worker when its scope closes.
 *
 * The relay: each worker opens one loopback TCP connection to the primary
 * (JSON lines, see messages.ts). Each worker sends in its clients' order, the
 * primary handles lines one at a time and forwards each to every worker in
 * that order, so every client sees every room line exactly once and all
 * clients see the same order.
 */
import cluster, { type Worker } from "node:cluster"
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import { Effect, type Scope } from "effect"
import * as Http from "./http.ts"
import { type Deliver, type FromWorker, readJsonLines } from "./messages.ts"

export interface PrimaryOptions {
  /** TCP port for the chat; 0 picks a free one. */
  readonly port: number
  readonly httpPort: number
  readonly workers: number
  readonly maxLine: number
  readonly log: (line: string) => void
}

export interface Running {
  readonly port: number
  readonly httpPort: number
}

interface Entry {
  readonly worker: Worker
  readonly pid: number | undefined
  relay: net.Socket | undefined
  connections: number
  listening: boolean
}

/**
 * With round robin the primary keys the shared socket by the port workers ask
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

export const runPrimary = (options: PrimaryOptions): Effect.Effect<Running, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const port = options.port === 0 ? yield* freePort : options.port
    const entries = new Map<number, Entry>()
    let relayed = 0
    let restarts = 0
    let stopping = false
    let failure: string | undefined
    const listeners = new Set<() => void>()
    const notify = () => {
      for (const f of [...listeners]) f()
    }
    /** Resolves when `done()` holds; re-checked on every worker event. */
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

    const deliver = (message: Deliver) => {
      const line = JSON.stringify(message) + "\n"
      for (const entry of entries.values()) {
        if (entry.relay !== undefined && !entry.relay.destroyed) entry.relay.write(line)
      }
    }

    const token = randomBytes(16).toString("hex")
    const onMessage = (entry: Entry, message: FromWorker) => {
      switch (message.t) {
        case "listening":
          entry.listening = true
          options.log(`worker ${entry.worker.id} pid ${entry.pid} listening`)
          break
        case "listen-error":
          failure ??= message.message
          break
        case "connections":
          entry.connections = message.count
          break
        case "broadcast":
          if (message.chat) relayed++
          deliver({ t: "deliver", room: message.room, line: message.line })
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
          readJsonLines<FromWorker>(socket, (message) => {
            if (entry !== undefined) return onMessage(entry, message)
            // The first line names the worker and proves it is ours.
            const claimed = message.t === "hello" && message.token === token ? entries.get(message.id) : undefined
            if (claimed === undefined || claimed.relay !== undefined) return void socket.destroy()
            entry = claimed
            entry.relay = socket
          })
        })
        server.once("error", (error) => resume(Effect.fail(new Error(`cannot open the relay on 127.0.0.1: ${error.message}`))))
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.sync(() => server.close())
    )
    const relayPort = (relayServer.address() as net.AddressInfo).port

    const fork = () => {
      const worker = cluster.fork({
        WEFT_CHAT_PORT: String(port),
        WEFT_CHAT_MAX_LINE: String(options.maxLine),
        WEFT_CHAT_RELAY_PORT: String(relayPort),
        WEFT_CHAT_RELAY_TOKEN: token
      })
      entries.set(worker.id, { worker, pid: worker.process.pid, relay: undefined, connections: 0, listening: false })
      worker.on("error", () => {})
    }

    const onExit = (worker: Worker, code: number | null, signal: string | null) => {
      const entry = entries.get(worker.id)
      entries.delete(worker.id)
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
          for (const entry of entries.values()) entry.worker.process.kill("SIGTERM")
          yield* Effect.timeoutOption(until(() => entries.size === 0), "3 seconds")
          for (const entry of entries.values()) entry.worker.process.kill("SIGKILL")
          yield* Effect.timeoutOption(until(() => entries.size === 0), "2 seconds")
          cluster.off("exit", onExit)
        })
    )

    const ready = () => failure !== undefined || [...entries.values()].filter((e) => e.listening).length >= options.workers
    yield* until(ready).pipe(
      Effect.timeout("20 seconds"),
      Effect.mapError(() => new Error(`the workers did not all listen on 127.0.0.1:${port} within 20 s`))
    )
    if (failure !== undefined) return yield* Effect.fail(new Error(failure))

    const httpPort = yield* Http.serve(
      Http.makeApp(() => ({
        port,
        wanted: options.workers,
        workers: [...entries.values()].map((e) => ({ id: e.worker.id, pid: e.pid, connections: e.connections, listening: e.listening })),
        relayed,
        restarts
      })),
      options.httpPort
    )
    return { port, httpPort }
  })
