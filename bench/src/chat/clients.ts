/**
 * The client side of the chat bench: one child process holding a share of the
 * TCP connections, driven by the bench (bench/src/chat/main.ts) over the IPC
 * channel. Senders write payload lines at a fixed rate; every connection reads
 * everything and counts only the lines that carry the payload marker, so
 * welcome text, join notices, `* ` lines and nick changes are skipped at
 * `indexOf` speed. Each payload holds its sender, sequence number and send time
 * (the system-wide monotonic clock, so latency is comparable across processes):
 *
 *   bench ~B~<run>~<sender>~<seq>~<sent-us>~
 *
 * Not a user-facing program: `fork`ed by chat.ts.
 */
import * as net from "node:net"
import * as Histogram from "./histogram.ts"

/** The system-wide monotonic clock (CLOCK_MONOTONIC) in microseconds: the same in every process. */
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

const MARK = Buffer.from("~B~")
const NL = 10
const TILDE = 126

export type Command =
  | {
    readonly t: "connect"
    readonly port: number
    /** Where each client connects, by its global number modulo their count (default: 127.0.0.1 and `port`): instances of one chat on several machines. */
    readonly targets?: ReadonlyArray<readonly [host: string, port: number]> | undefined
    /** Global client numbers this process holds, in connection order. */
    readonly clients: ReadonlyArray<number>
    /** For each client above: its sender ordinal (0..senders-1), or -1 for a listener. */
    readonly senderOf: ReadonlyArray<number>
    readonly senders: number
    readonly concurrency: number
    /** Speak IRC: register as `b<id>`, join #bench, send PRIVMSG. */
    readonly irc?: boolean
  }
  | { readonly t: "stats" }
  | {
    readonly t: "send"
    readonly run: number
    /** Lines per second per sender, and how many each sends. */
    readonly rate: number
    readonly count: number
    /** Monotonic-clock microseconds: the send window. Deliveries up to `endUs` count as "in window". */
    readonly startUs: number
    readonly endUs: number
  }
  | { readonly t: "report" }
  | { readonly t: "close" }

export interface Stats {
  readonly t: "stats"
  /** Bytes read on all connections (payload or not): the bench waits for this to stop growing. */
  readonly bytes: number
  readonly received: number
  readonly closed: number
}

export interface Report {
  readonly t: "report"
  /** Payload lines from other senders (own echoes are not deliveries). */
  readonly received: number
  readonly inWindow: number
  readonly echoes: number
  /** A sender's line that arrived with a sequence number not above the last seen from it. */
  readonly outOfOrder: number
  readonly histogram: Array<number>
  /** Connections the server closed before the bench did, and the end of what each last read. */
  readonly closed: number
  readonly closedTails: Array<string>
  /** Non-payload lines seen by the watched clients (senders and the first one), by shape. */
  readonly otherLines: Record<string, number>
  readonly sent: number
  /** Largest number of bytes waiting in a sender's socket (the server not reading fast enough). */
  readonly maxSendQueue: number
  /** This process's CPU use during the send window, in percent of one core. */
  readonly cpuPercent: number
  readonly lateSendMs: number
}

interface Client {
  readonly id: number
  readonly sender: number
  readonly watched: boolean
  socket: net.Socket | undefined
  pending: Buffer | undefined
  last: Buffer | undefined
  /** Highest sequence number seen per sender. */
  readonly lastSeq: Int32Array
  open: boolean
  seq: number
}

let clients: Array<Client> = []
let bytes = 0
let received = 0
let inWindow = 0
let echoes = 0
let outOfOrder = 0
let closed = 0
let closing = false
let windowEndUs = Number.POSITIVE_INFINITY
let run = -1
const closedTails: Array<string> = []
const otherLines = new Map<string, number>()
const histogram = Histogram.make()
let sent = 0
let maxSendQueue = 0
let cpuPercent = 0
let lateSendMs = 0
let irc = false

const reply = (message: object) => process.send!(message)

/** Reads a non-negative decimal integer at `at`, up to the next `~`; -1 if malformed. */
const readInt = (buf: Buffer, at: number, end: number): [value: number, next: number] => {
  let value = 0
  let i = at
  while (i < end) {
    const c = buf[i]!
    if (c === TILDE) return i === at ? [-1, i] : [value, i + 1]
    if (c < 48 || c > 57) return [-1, i]
    value = value * 10 + (c - 48)
    i++
  }
  return [-1, i]
}

const shape = (line: string): string => line.slice(0, 48).replace(/\d+/g, "#")

const watch = (buf: Buffer, from: number, to: number) => {
  for (const line of buf.toString("utf8", from, to).split("\n")) {
    if (line === "" || line.includes("~B~")) continue
    const key = shape(line)
    if (otherLines.has(key) || otherLines.size < 40) otherLines.set(key, (otherLines.get(key) ?? 0) + 1)
  }
}

const onData = (client: Client, chunk: Buffer) => {
  const at = nowUs()
  bytes += chunk.length
  client.last = chunk
  const buf = client.pending === undefined ? chunk : Buffer.concat([client.pending, chunk])
  const end = buf.lastIndexOf(NL)
  if (end === -1) {
    client.pending = buf.length > 1 << 20 ? buf.subarray(buf.length - 256) : buf
    return
  }
  client.pending = end + 1 < buf.length ? Buffer.from(buf.subarray(end + 1)) : undefined
  if (client.watched) watch(buf, 0, end)
  let pos = 0
  let i: number
  while ((i = buf.indexOf(MARK, pos)) !== -1 && i < end) {
    const lineEnd = buf.indexOf(NL, i)
    pos = lineEnd + 1
    const [runId, a] = readInt(buf, i + 3, lineEnd)
    const [sender, b] = readInt(buf, a, lineEnd)
    const [seq, c] = readInt(buf, b, lineEnd)
    const [sentUs] = readInt(buf, c, lineEnd)
    if (runId !== run || sender < 0 || seq < 0 || sentUs < 0 || sender >= client.lastSeq.length) continue
    if (sender === client.sender) {
      echoes++
      continue
    }
    if (seq <= client.lastSeq[sender]!) outOfOrder++
    else client.lastSeq[sender] = seq
    received++
    if (at <= windowEndUs) inWindow++
    histogram[Histogram.bucketOf(at - sentUs)]!++
  }
}

const connectOne = (client: Client, [host, port]: readonly [string, number]): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host })
    let done = false
    const timer = setTimeout(() => finish(false), 20_000)
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (!ok) socket.destroy()
      resolve(ok)
    }
    socket.setNoDelay(true)
    socket.on("data", (chunk: Buffer) => onData(client, chunk))
    socket.on("error", () => finish(false))
    socket.on("close", () => {
      finish(false)
      if (client.open && !closing) {
        closed++
        if (closedTails.length < 5) closedTails.push((client.last ?? Buffer.alloc(0)).toString("utf8").slice(-300))
      }
      client.open = false
    })
    socket.on("connect", () => {
      client.socket = socket
      client.open = true
      if (irc) socket.write(`NICK b${client.id}\r\nUSER b${client.id} 0 * :bench\r\nJOIN #bench\r\n`)
      finish(true)
    })
  })

const connect = async (command: Extract<Command, { t: "connect" }>) => {
  const start = performance.now()
  irc = command.irc === true
  clients = command.clients.map((id, i) => ({
    id,
    sender: command.senderOf[i]!,
    watched: command.senderOf[i]! >= 0 || i === 0,
    socket: undefined,
    pending: undefined,
    last: undefined,
    lastSeq: new Int32Array(command.senders).fill(-1),
    open: false,
    seq: 0
  }))
  let next = 0
  let failed = 0
  const errors: Array<string> = []
  // A bound on the whole phase: a server that stops accepting must not hold the bench for 20 s a connection.
  const deadline = performance.now() + 60_000
  const lane = async () => {
    while (next < clients.length) {
      const client = clients[next++]!
      if (performance.now() > deadline) {
        failed++
        continue
      }
      // One retry: a full accept backlog drops a SYN now and then.
      const target = command.targets?.[client.id % command.targets.length] ?? ["127.0.0.1", command.port] as const
      if (!(await connectOne(client, target)) && !(await connectOne(client, target))) {
        failed++
        if (errors.length < 3) errors.push(`client ${client.id}`)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, command.concurrency) }, lane))
  reply({ t: "connected", ok: clients.length - failed, failed, errors, ms: performance.now() - start })
}

const send = (command: Extract<Command, { t: "send" }>) => {
  run = command.run
  windowEndUs = command.endUs
  const senders = clients.filter((c) => c.sender >= 0 && c.open)
  const intervalUs = 1e6 / command.rate
  const spread = command.rate > 0 ? intervalUs / Math.max(1, senders.length) : 0
  const cpuStart = process.cpuUsage()
  let cpuTaken = false
  const tick = () => {
    const now = nowUs()
    if (!cpuTaken && now >= command.endUs) {
      cpuTaken = true
      const used = process.cpuUsage(cpuStart)
      cpuPercent = ((used.user + used.system) / (command.endUs - command.startUs)) * 100
    }
    let pending = false
    for (const [k, client] of senders.entries()) {
      while (client.seq < command.count) {
        const due = command.startUs + k * spread + client.seq * intervalUs
        if (due > now) break
        lateSendMs = Math.max(lateSendMs, (now - due) / 1000)
        const socket = client.socket!
        if (!client.open) {
          client.seq = command.count
          break
        }
        const payload = `bench ~B~${command.run}~${client.sender}~${client.seq}~${nowUs()}~`
        socket.write(irc ? `PRIVMSG #bench :${payload}\r\n` : `${payload}\n`)
        maxSendQueue = Math.max(maxSendQueue, socket.writableLength)
        client.seq++
        sent++
      }
      if (client.seq < command.count) pending = true
    }
    if (pending || !cpuTaken) setTimeout(tick, 1)
    else reply({ t: "sent", sent })
  }
  setTimeout(tick, Math.max(0, (command.startUs - nowUs()) / 1000))
}

process.on("message", (command: Command) => {
  switch (command.t) {
    case "connect":
      void connect(command)
      break
    case "stats":
      reply({ t: "stats", bytes, received, closed } satisfies Stats)
      break
    case "send":
      send(command)
      break
    case "report":
      reply({
        t: "report",
        received,
        inWindow,
        echoes,
        outOfOrder,
        histogram: Array.from(histogram),
        closed,
        closedTails,
        otherLines: Object.fromEntries(otherLines),
        sent,
        maxSendQueue,
        cpuPercent,
        lateSendMs
      } satisfies Report)
      break
    case "close":
      closing = true
      for (const client of clients) client.socket?.destroy()
      reply({ t: "closed" })
      setTimeout(() => process.exit(0), 50)
      break
  }
})
process.on("disconnect", () => process.exit(0)) // the bench is gone: no orphans
