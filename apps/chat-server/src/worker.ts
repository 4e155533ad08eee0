/**
 * A chat worker (one of the cluster's processes). It accepts TCP clients on
 * the shared port, parses their lines, and sends everything meant for a room
 * to the primary; the primary sends it back to every worker, which writes it
 * to its own clients in that room. Nothing is written to a client directly
 * except replies meant only for it (welcome, errors, bye), so every client, on
 * any worker, sees room lines in the one order the primary relayed them.
 */
import cluster from "node:cluster"
import * as net from "node:net"
import { type Deliver, type FromWorker, readJsonLines } from "./messages.ts"
import { HELP, LineReader, parse } from "./protocol.ts"

/** A client that does not read and lets this much queue up is disconnected. */
const MAX_BACKLOG = 1024 * 1024

interface Client {
  readonly socket: net.Socket
  nick: string
  room: string
  closed: boolean
}

export interface WorkerOptions {
  readonly port: number
  readonly maxLine: number
  /** The primary's relay: 127.0.0.1:relayPort, first line `hello` with this token. */
  readonly relayPort: number
  readonly token: string
}

export const runWorker = (options: WorkerOptions): void => {
  const id = cluster.worker?.id ?? 0
  let stopping = false
  const relay = net.connect(options.relayPort, "127.0.0.1")
  relay.setNoDelay(true)
  relay.on("error", () => {}) // 'close' follows
  // Without its primary a worker is an orphan: leave.
  relay.on("close", () => process.exit(stopping ? 0 : 1))
  process.on("disconnect", () => process.exit(0))
  const send = (message: FromWorker) => {
    if (!relay.destroyed) relay.write(JSON.stringify(message) + "\n")
  }
  send({ t: "hello", token: options.token, id })

  const clients = new Set<Client>()
  let counter = 0

  const write = (client: Client, line: string) => {
    if (client.closed) return
    if (client.socket.writableLength > MAX_BACKLOG) {
      client.closed = true
      client.socket.destroy()
      return
    }
    client.socket.write(line + "\n")
  }
  const broadcast = (room: string, line: string, chat = false) => send({ t: "broadcast", room, line, chat })

  readJsonLines<Deliver>(relay, (message) => {
    if (message.t !== "deliver") return
    for (const client of clients) if (client.room === message.room) write(client, message.line)
  })

  const server = net.createServer((socket) => {
    const client: Client = { socket, nick: `guest${id}-${++counter}`, room: "lobby", closed: false }
    clients.add(client)
    send({ t: "connections", count: clients.size })
    socket.setNoDelay(true)
    write(client, `* welcome ${client.nick}: worker ${id} (pid ${process.pid}), room ${client.room}; ${HELP}`)
    broadcast(client.room, `* ${client.nick} joined ${client.room}`)

    const reader = new LineReader(options.maxLine)
    const leave = (how: string) => {
      if (client.closed) return
      client.closed = true
      broadcast(client.room, `* ${client.nick} ${how}`)
    }
    socket.on("data", (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (client.closed) return
        if (frame._tag === "Malformed") {
          write(client, `! error: ${frame.reason}`)
          continue
        }
        const command = parse(frame.text)
        switch (command._tag) {
          case "Empty":
            break
          case "Invalid":
            write(client, `! error: ${command.reason}`)
            break
          case "Message":
            broadcast(client.room, `[${client.room}] ${client.nick}: ${command.text}`, true)
            break
          case "Nick": {
            const old = client.nick
            client.nick = command.name
            write(client, `* you are now ${client.nick}`)
            broadcast(client.room, `* ${old} is now ${client.nick}`)
            break
          }
          case "Join": {
            if (command.room === client.room) break
            broadcast(client.room, `* ${client.nick} left for ${command.room}`)
            client.room = command.room
            write(client, `* you are in ${client.room}`)
            broadcast(client.room, `* ${client.nick} joined ${client.room}`)
            break
          }
          case "Quit":
            write(client, "* bye")
            leave("quit")
            socket.end()
            return
        }
      }
    })
    socket.on("error", () => {}) // ECONNRESET and friends: 'close' follows
    socket.on("close", () => {
      leave("left")
      clients.delete(client)
      send({ t: "connections", count: clients.size })
    })
  })

  server.on("error", (error) => {
    send({ t: "listen-error", message: `cannot listen on 127.0.0.1:${options.port}: ${error.message}` })
    setTimeout(() => process.exit(1), 100)
  })
  server.listen(options.port, "127.0.0.1", () => {
    send({ t: "listening", port: (server.address() as net.AddressInfo).port })
  })

  const stop = () => {
    if (stopping) return
    stopping = true
    for (const client of clients) {
      write(client, "* server shutting down")
      client.closed = true
      client.socket.end()
    }
    server.close()
    // Give the goodbyes a moment to flush, then go.
    setTimeout(() => process.exit(0), 100)
  }
  process.on("SIGTERM", stop)
  // Ctrl-C reaches the whole process group; the primary decides, and sends SIGTERM.
  process.on("SIGINT", () => {})
}
