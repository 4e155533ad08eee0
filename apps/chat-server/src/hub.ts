/**
 * A hub: the connections of one process (a worker's TCP clients, or the
 * primary's web clients), whatever protocol they speak. It frames their input,
 * paces it (flood control), hands each line to the connection's protocol
 * handler, fans the registry's room events out to its local members, and
 * writes output coalesced (every line for one connection in one event-loop
 * turn goes out in one write) and serialized once per message and format.
 *
 * Flood control (flood.ts) is Ergo's "fakelag": a connection may send `burst`
 * lines at once; past that its lines are processed at `rate` per second,
 * delayed, never dropped. Input waiting beyond `maxQueued` bytes disconnects it, with a
 * notice saying why. Output waiting beyond `maxBacklog` bytes (a client that
 * stopped reading) disconnects it too. IRC connections quiet for `idleMs` get a
 * PING and are dropped if nothing comes back in another `idleMs`; TCP
 * connections also use keep-alive probes.
 *
 * @example
 * const hub = new Hub({ ...options, send: (message) => relay.push(JSON.stringify(message) + "\n") })
 * const conn = hub.open("plain", { write, backlog: () => socket.writableLength, end, destroy })
 * socket.on("data", (chunk) => conn.push(chunk))
 * socket.on("close", () => conn.closed())
 */
import { Buffer } from "node:buffer"
import * as Flood from "./flood.ts"
import type { Counters, Event, FromHub, Proto, Reply, ToHub } from "./messages.ts"
import { type Frame, LineReader } from "./protocol.ts"

/** Where a connection's bytes go: a TCP socket, or a WebSocket. */
export interface Transport {
  write(data: Uint8Array): void
  /** Bytes accepted by `write` and not yet sent. */
  backlog(): number
  /** Closes after what was written is sent. */
  end(): void
  destroy(): void
}

/** A protocol: how a connection's lines become commands, and replies and events become lines. */
export interface Handler {
  readonly allowControls: boolean
  /** Longest line accepted, in bytes. */
  readonly maxLine: number
  /** The line ending this protocol writes. */
  readonly eol: string
  /** Renders events the same way for every connection of this protocol (the pm event aside). */
  readonly format: "plain" | "irc"
  /** Whether a sender gets its own room messages back. */
  readonly echo: boolean
  start(session: Session): void
  line(session: Session, text: string): void
  malformed(session: Session, reason: string, tooLong: boolean, lossy: string | undefined): void
  reply(session: Session, r: Reply): void
  /** The lines for an event, or undefined when this connection should not see it. */
  event(session: Session, e: Event): string | undefined
  /** The last line before the server closes the connection for `reason`. */
  farewell(session: Session, reason: string): string
  /** A dead-peer probe (IRC PING), if the protocol has one. */
  ping?(session: Session): string
}

export type { FloodOptions } from "./flood.ts"

/** A hub's protocols, limits, and its way to the registry. */
export interface HubOptions {
  readonly handlers: Readonly<Record<Proto, Handler>>
  readonly flood: Flood.FloodOptions
  /** Unsent output, in bytes, that disconnects a client that does not read. */
  readonly maxBacklog: number
  /** Quiet time before a dead-peer probe, in ms. */
  readonly idleMs: number
  /** To the registry. */
  readonly send: (message: FromHub) => void
  /** Named in the welcome line, e.g. "worker 1 (pid 42)". */
  readonly where: string
}

/** One connection's state: its user, rooms, output, flood bucket and registration. */
export class Session {
  readonly id: number
  readonly proto: Proto
  readonly handler: Handler
  readonly transport: Transport
  readonly reader: LineReader
  readonly hub: Hub
  nick: string | undefined
  uid = 0
  registered = false
  /** Rooms this connection is in: lower-case key to the room's name, in joining order. */
  readonly rooms = new Map<string, string>()
  /** The current room's key (plain and web: where plain lines go). */
  current: string | undefined
  closed = false
  // Output waiting for this turn's flush.
  /** One chunk as is, several in an array (most turns bring one line: no array for it). */
  out: Uint8Array | Array<Uint8Array> | undefined
  outBytes = 0
  // Flood control: the bucket (flood.ts) and the lines waiting for it.
  tokens: number
  stamp: number
  queue: Array<Frame> | undefined
  queuedBytes = 0
  timer: ReturnType<typeof setTimeout> | undefined
  // Dead-peer detection.
  heard: number
  pinged = false
  /** What the protocol keeps for this connection (IRC: its registration fields); set by the protocol. */
  own: unknown = undefined
  /** Registration asked of the registry and not answered yet: later lines wait. */
  awaiting = false
  /** Lines wait while a slow check runs (an operator's password): `Hub.resume` lets them go. */
  paused = false
  // Per-connection order: a line answered here (PING, a 461) must not overtake the registry's
  // answers to this connection's earlier lines. `sent` counts commands sent to the registry, `synced`
  // is the last count it has answered all of; while they differ, local answers are `held` and sent
  // round through the registry (an `echo`), which returns them behind everything sent before.
  sent = 0
  synced = 0
  /** Inside the handler of one of this connection's lines. */
  local = false
  held: Array<string> | undefined
  /** `sent` when registration was asked for: its answer settles everything up to there. */
  opened = -1
  /** Close once the held answers are out (QUIT before registration). */
  quitting = false

  constructor(hub: Hub, id: number, proto: Proto, handler: Handler, transport: Transport, burst: number) {
    this.hub = hub
    this.id = id
    this.proto = proto
    this.handler = handler
    this.transport = transport
    this.reader = new LineReader(handler.maxLine, handler.allowControls)
    this.tokens = burst
    this.stamp = this.heard = Date.now()
  }

  /** Writes one line (no line ending) to this connection, after the answers to its earlier lines. */
  say(line: string): void {
    if (this.local && this.sent !== this.synced) (this.held ??= []).push(line)
    else this.hub.write(this, encode(line + this.handler.eol))
  }

  /** Sends a command for this connection to the registry (after the local answers held before it). */
  send(message: FromHub): void {
    if (this.held !== undefined) this.release()
    if (message.t === "cmd" || message.t === "open") this.sent++
    if (message.t === "open") this.opened = this.sent
    this.hub.options.send(message)
  }

  /** Sends the held local answers round through the registry, to come back in their place. */
  release(): void {
    const lines = this.held!
    this.held = undefined
    this.hub.options.send({ t: "cmd", c: this.id, cmd: { c: "echo", seq: ++this.sent, lines } })
  }
}

/** Node's own byte type: a socket writes a `Buffer` as is, where a plain `Uint8Array` is wrapped per write. */
const encode = (text: string): Uint8Array => Buffer.from(text, "utf8")

/** What the transport's owner feeds: bytes in, and the close. */
export interface Connection {
  /** Bytes from the client. */
  push(chunk: Uint8Array): void
  /** The transport closed (by either side). */
  closed(reason?: string): void
  readonly session: Session
}

/**
 * The connections of one process. See the module comment.
 *
 * @example
 * const conn = hub.open("irc", transport)
 * conn.push(bytes("NICK ann\r\nUSER ann 0 * :Ann\r\n"))
 */
export class Hub {
  readonly options: HubOptions
  private readonly sessions = new Map<number, Session>()
  private readonly rooms = new Map<string, Set<Session>>()
  private readonly probed = new Set<Session>()
  private dirty: Array<Session> = []
  private flushing = false
  private nextId = 0
  private sweeper: ReturnType<typeof setInterval> | undefined
  messagesIn = 0
  messagesOut = 0
  droppedSlow = 0
  floodDelayed = 0
  floodKicked = 0

  constructor(options: HubOptions) {
    this.options = options
  }

  get size(): number {
    return this.sessions.size
  }

  counters(): Counters {
    return {
      connections: this.sessions.size,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      droppedSlow: this.droppedSlow,
      floodDelayed: this.floodDelayed,
      floodKicked: this.floodKicked
    }
  }

  /** A new connection speaking `proto`. */
  open(proto: Proto, transport: Transport): Connection {
    const handler = this.options.handlers[proto]
    const session = new Session(this, ++this.nextId, proto, handler, transport, this.options.flood.burst)
    this.sessions.set(session.id, session)
    if (handler.ping !== undefined) {
      this.probed.add(session)
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(50, this.options.idleMs / 4))
      this.sweeper.unref?.()
    }
    handler.start(session)
    return {
      session,
      push: (chunk) => this.input(session, chunk),
      closed: (reason = "left") => this.gone(session, reason)
    }
  }

  /** A message from the registry. */
  receive(message: ToHub): void {
    switch (message.t) {
      case "r": {
        const session = this.sessions.get(message.c)
        if (session !== undefined) this.reply(session, message.r)
        return
      }
      case "room": {
        const members = this.rooms.get(message.k)
        if (members !== undefined) this.fanOut(members, message.e)
        return
      }
      case "to": {
        const targets: Array<Session> = []
        for (const c of message.cs) {
          const s = this.sessions.get(c)
          if (s !== undefined) targets.push(s)
        }
        this.fanOut(targets, message.e)
        return
      }
      case "kick": {
        const targets = message.cs === undefined ? [...this.sessions.values()] : message.cs.map((c) => this.sessions.get(c))
        for (const session of targets) if (session !== undefined) this.kick(session, message.reason)
        return
      }
      case "stop":
        return
    }
  }

  /** Tells every connection `reason`, flushes, and closes them all. */
  shutdown(reason: string): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    for (const session of this.sessions.values()) {
      if (session.closed) continue
      session.say(session.handler.farewell(session, reason))
      this.flushOne(session)
      session.closed = true
      session.transport.end()
    }
  }

  /** Says goodbye and closes one connection (after its output is sent). */
  kick(session: Session, reason: string): void {
    if (session.closed) return
    session.say(session.handler.farewell(session, reason))
    this.finish(session)
  }

  /** Closes one connection after its output is sent, with no last word. */
  finish(session: Session): void {
    if (session.closed) return
    this.flushOne(session)
    session.closed = true
    session.transport.end()
  }

  // ---- membership (on the registry's replies, which arrive in order with its events)

  /**
   * The registry's answer applied to the connection and to the membership, the same for every
   * protocol: the protocol only renders it (`Handler.reply`). A plain or web connection's current
   * room follows its joins and leaves.
   */
  private keepBooks(session: Session, r: Reply): void {
    switch (r.r) {
      case "welcome":
        session.registered = true
        session.awaiting = false
        session.nick = r.nick
        session.uid = r.uid
        if (r.joined !== undefined) {
          this.joined(session, r.joined.room.toLowerCase(), r.joined.room)
          session.current = r.joined.room.toLowerCase()
        }
        return
      case "refused":
        session.awaiting = false
        return
      case "joined":
        this.joined(session, r.room.toLowerCase(), r.room)
        session.current = r.room.toLowerCase()
        return
      case "parted":
      case "kicked":
        this.parted(session, r.room.toLowerCase())
        session.current = r.current?.toLowerCase()
        return
      case "renamed":
        session.nick = r.nick
        return
    }
  }

  private joined(session: Session, key: string, name: string): void {
    session.rooms.set(key, name)
    let members = this.rooms.get(key)
    if (members === undefined) this.rooms.set(key, members = new Set())
    members.add(session)
  }

  parted(session: Session, key: string): void {
    session.rooms.delete(key)
    const members = this.rooms.get(key)
    if (members === undefined) return
    members.delete(session)
    if (members.size === 0) this.rooms.delete(key)
  }

  // ---- output

  write(session: Session, bytes: Uint8Array): void {
    if (session.closed) return
    const out = session.out
    if (out === undefined) {
      session.out = bytes
      this.dirty.push(session)
      if (!this.flushing) {
        this.flushing = true
        setImmediate(() => this.flush())
      }
    } else if (Array.isArray(out)) {
      out.push(bytes)
    } else {
      session.out = [out, bytes]
    }
    session.outBytes += bytes.length
    this.messagesOut++
    if (session.outBytes + session.transport.backlog() > this.options.maxBacklog) {
      // It stopped reading: cut it, as a notice would only queue behind the rest.
      this.droppedSlow++
      session.closed = true
      session.out = undefined
      session.transport.destroy()
    }
  }

  private flush(): void {
    this.flushing = false
    const dirty = this.dirty
    this.dirty = []
    for (const session of dirty) this.flushOne(session)
  }

  private flushOne(session: Session): void {
    const out = session.out
    if (out === undefined) return
    session.out = undefined
    session.outBytes = 0
    if (session.closed) return
    session.transport.write(Array.isArray(out) ? concat(out) : out)
  }

  /** One event to many sessions: rendered once per format, the same bytes written to each. */
  private fanOut(sessions: Iterable<Session>, e: Event): void {
    const cache = e.e === "pm" ? undefined : new Map<string, Uint8Array>()
    for (const session of sessions) {
      if (session.closed) continue
      const handler = session.handler
      // IRC clients show their own messages themselves; plain clients get them back, in order.
      if (!handler.echo && e.e === "msg" && e.uid === session.uid) continue
      if (cache !== undefined) {
        let bytes = cache.get(handler.format)
        if (bytes === undefined) {
          const text = handler.event(session, e)
          if (text === undefined) continue
          cache.set(handler.format, bytes = encode(text + handler.eol))
        }
        this.write(session, bytes)
      } else {
        const text = handler.event(session, e)
        if (text !== undefined) this.write(session, encode(text + handler.eol))
      }
    }
  }

  private reply(session: Session, r: Reply): void {
    if (r.r === "echo") {
      if (r.seq === session.sent) session.synced = r.seq
      for (const line of r.lines) this.write(session, encode(line + session.handler.eol))
      if (session.quitting && session.synced === session.sent) this.finish(session)
      return
    }
    if ((r.r === "welcome" || r.r === "refused") && session.opened === session.sent) session.synced = session.sent
    this.keepBooks(session, r)
    session.handler.reply(session, r)
    // Registration settled: the lines that came after it are handled now.
    if (r.r === "welcome" || r.r === "refused") this.drain(session)
  }

  // ---- input and flood control

  private input(session: Session, chunk: Uint8Array): void {
    if (session.closed) return
    session.heard = Date.now()
    session.pinged = false
    for (const frame of session.reader.push(chunk)) {
      if (session.closed) return
      if (session.queue === undefined && this.ready(session) && this.take(session)) {
        this.process(session, frame)
        continue
      }
      const size = frame._tag === "Line" ? frame.text.length + 1 : 64
      if (session.queue === undefined) session.queue = []
      session.queue.push(frame)
      session.queuedBytes += size
      if (this.ready(session)) this.floodDelayed++
      if (session.queuedBytes > this.options.flood.maxQueued) {
        this.floodKicked++
        session.queue = undefined
        this.kick(session, `flooding: over ${this.options.flood.maxQueued} bytes of input waiting to be processed`)
        return
      }
      this.schedule(session)
    }
  }

  /**
   * Plain and web connections wait for their nick before their lines count; IRC registers with
   * lines, and the lines after NICK/USER wait until the registry has answered them.
   */
  private ready(session: Session): boolean {
    return !session.paused && (session.registered || (session.proto === "irc" && !session.awaiting))
  }

  private take(session: Session): boolean {
    return Flood.take(session, Date.now(), this.options.flood)
  }

  private schedule(session: Session): void {
    if (session.timer !== undefined || !this.ready(session)) return
    const wait = Flood.delay(session, this.options.flood)
    session.timer = setTimeout(() => {
      session.timer = undefined
      this.drain(session)
    }, wait)
  }

  /** Lets a paused connection's lines go on. */
  resume(session: Session): void {
    session.paused = false
    this.drain(session)
  }

  private drain(session: Session): void {
    while (session.queue !== undefined && !session.closed && this.ready(session)) {
      if (!this.take(session)) return this.schedule(session)
      const frame = session.queue.shift()!
      session.queuedBytes -= frame._tag === "Line" ? frame.text.length + 1 : 64
      if (session.queue.length === 0) {
        session.queue = undefined
        session.queuedBytes = 0
      }
      this.process(session, frame)
    }
  }

  private process(session: Session, frame: Frame): void {
    this.messagesIn++
    session.local = true
    try {
      if (frame._tag === "Malformed") session.handler.malformed(session, frame.reason, frame.reason.startsWith("line too long"), frame.lossy)
      else session.handler.line(session, frame.text)
    } catch (error) {
      // A bug in a handler must cost one line, not the worker.
      session.say(`! error: internal error: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      session.local = false
      if (session.held !== undefined) session.release()
    }
  }

  private gone(session: Session, reason: string): void {
    if (!this.sessions.delete(session.id)) return
    session.closed = true
    session.out = undefined
    session.queue = undefined
    if (session.timer !== undefined) clearTimeout(session.timer)
    this.probed.delete(session)
    for (const key of [...session.rooms.keys()]) this.parted(session, key)
    if (session.registered || session.awaiting) this.options.send({ t: "close", c: session.id, reason })
  }

  private sweep(): void {
    const now = Date.now()
    const idle = this.options.idleMs
    for (const session of this.probed) {
      if (session.closed) continue
      if (!session.pinged && now - session.heard > idle) {
        session.pinged = true
        session.heard = now
        session.say(session.handler.ping!(session))
      } else if (session.pinged && now - session.heard > idle) {
        this.kick(session, `ping timeout: no answer in ${idle / 1000} s`)
      }
    }
  }
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(parts as Array<Uint8Array>)
