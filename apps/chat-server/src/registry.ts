/**
 * The one registry of users and rooms for the whole cluster, and the
 * sequencer of every room line. It lives in the primary and is driven by the
 * hubs' messages, one at a time (a single JavaScript thread: no locks), so:
 *
 * - a nick is checked and taken in one step: of two clients racing for one
 *   nick on different workers, the first message to arrive wins and the other
 *   gets `nick-taken`;
 * - every room event is emitted in one order, and each hub's relay connection
 *   is ordered, so every member on every worker sees the room's lines exactly
 *   once and in that order;
 * - a room's events go only to the hubs (`endpoint`s) with members in it.
 *
 * Join, part, quit and rename notices go only to rooms of at most
 * `quietAbove` members: in a bigger room they would be N² writes for N
 * arrivals (`/who` still lists everyone), as big IRC channels and chat apps do.
 *
 * @example
 * const registry = new Registry({ quietAbove: 50, deliver: (endpoints, message) => ... })
 * registry.open(1, 7, "plain", undefined) // connection 7 of hub 1: a guest in lobby
 * registry.command(1, 7, { c: "say", room: "lobby", text: "hi", kind: "say" })
 */
import type { Command, ErrorCode, Event, Joined, Proto, Reply, RoomInfo, ToHub } from "./messages.ts"

interface User {
  readonly uid: number
  nick: string
  readonly endpoint: number
  readonly conn: number
  readonly proto: Proto
  readonly rooms: Set<Room>
  /** Where plain lines go: the room joined last (or the one before, after a part). */
  current: Room | undefined
}

interface Room {
  readonly name: string
  readonly key: string
  topic: string
  readonly members: Set<User>
  /** Members per hub: who gets this room's events. */
  readonly endpoints: Map<number, number>
}

/** How the registry is tuned, and how it reaches the hubs. */
export interface RegistryOptions {
  /** Rooms with more members than this get no join/part/quit/rename notices. */
  readonly quietAbove: number
  /** Sends one message to each of these hubs (serialize it once). */
  readonly deliver: (endpoints: ReadonlyArray<number>, message: ToHub) => void
}

/** Where plain and web users start. */
export const LOBBY = "lobby"

/**
 * The registry. See the module comment.
 *
 * @example
 * const registry = new Registry({ quietAbove: 50, deliver })
 * registry.open(1, 7, "irc", "ann") // welcome, then the JOIN of lobby
 */
export class Registry {
  private readonly users = new Map<string, User>()
  private readonly conns = new Map<number, Map<number, User>>()
  private readonly rooms = new Map<string, Room>()
  private nextUid = 0
  private nextGuest = 0
  /** Room messages sequenced (say, me, notice). */
  messages = 0
  private readonly options: RegistryOptions
  constructor(options: RegistryOptions) {
    this.options = options
  }

  get userCount(): number {
    return this.users.size
  }
  get roomCount(): number {
    return this.rooms.size
  }
  roomList(): Array<RoomInfo> {
    return [...this.rooms.values()]
      .map((room) => ({ room: room.name, members: room.members.size, topic: room.topic }))
      .sort((a, b) => a.room.localeCompare(b.room))
  }
  /** The user on this connection, if it registered. */
  nickOf(endpoint: number, conn: number): string | undefined {
    return this.conns.get(endpoint)?.get(conn)?.nick
  }

  /** Registers a connection: `nick` undefined gives a guest nick. Plain and web users start in lobby. */
  open(endpoint: number, conn: number, proto: Proto, nick: string | undefined): void {
    const reply = (r: Reply) => this.options.deliver([endpoint], { t: "r", c: conn, r })
    if (this.conns.get(endpoint)?.has(conn)) return
    if (nick !== undefined && this.users.has(nick.toLowerCase())) {
      return reply({ r: "refused", code: "nick-taken", nick, text: `nick ${nick} is taken` })
    }
    let name = nick
    while (name === undefined || this.users.has(name.toLowerCase())) name = `guest${++this.nextGuest}`
    const user: User = { uid: ++this.nextUid, nick: name, endpoint, conn, proto, rooms: new Set(), current: undefined }
    this.users.set(name.toLowerCase(), user)
    let byConn = this.conns.get(endpoint)
    if (byConn === undefined) this.conns.set(endpoint, byConn = new Map())
    byConn.set(conn, user)
    const joined = proto === "irc" ? undefined : this.enter(user, LOBBY)
    reply({ r: "welcome", nick: name, uid: user.uid, joined })
    if (proto === "irc") this.join(user, LOBBY)
  }

  /** Runs one user's command. A connection that did not register is ignored (its hub knows better). */
  command(endpoint: number, conn: number, cmd: Command): void {
    // Registered or not: an echo only keeps the connection's answers in order.
    if (cmd.c === "echo") return this.options.deliver([endpoint], { t: "r", c: conn, r: { r: "echo", seq: cmd.seq, lines: cmd.lines } })
    const user = this.conns.get(endpoint)?.get(conn)
    if (user === undefined) return
    switch (cmd.c) {
      case "say": {
        if (cmd.room === undefined && user.current === undefined) return this.noRoom(user)
        const room = cmd.room === undefined ? user.current! : this.rooms.get(cmd.room.toLowerCase())
        if (room === undefined || !room.members.has(user)) {
          return this.error(user, "not-in-room", cmd.room!, `you are not in ${cmd.room}: /join ${cmd.room} first`, cmd.kind === "notice")
        }
        this.messages++
        return this.toRoom(room, { e: "msg", room: room.name, nick: user.nick, uid: user.uid, text: cmd.text, kind: cmd.kind })
      }
      case "msg": {
        const target = this.users.get(cmd.to.toLowerCase())
        if (target === undefined) return this.error(user, "no-such-nick", cmd.to, `no one is called ${cmd.to}`, cmd.notice)
        this.options.deliver([target.endpoint], { t: "to", cs: [target.conn], e: { e: "pm", from: user.nick, text: cmd.text, notice: cmd.notice } })
        return this.reply(user, { r: "pm-echo", to: target.nick, text: cmd.text, notice: cmd.notice })
      }
      case "nick": {
        const key = cmd.nick.toLowerCase()
        const holder = this.users.get(key)
        if (holder !== undefined && holder !== user) return this.error(user, "nick-taken", cmd.nick, `nick ${cmd.nick} is taken`)
        if (cmd.nick === user.nick) return
        const old = user.nick
        this.users.delete(old.toLowerCase())
        user.nick = cmd.nick
        this.users.set(key, user)
        this.reply(user, { r: "renamed", old, nick: cmd.nick })
        return this.notify(user, { e: "nick", old, nick: cmd.nick })
      }
      case "join":
        return this.join(user, cmd.room)
      case "part": {
        if (cmd.room === undefined && user.current === undefined) return this.noRoom(user)
        const room = cmd.room === undefined ? user.current! : this.rooms.get(cmd.room.toLowerCase())
        if (room === undefined || !room.members.has(user)) return this.error(user, "not-in-room", cmd.room!, `you are not in ${cmd.room}`)
        this.leave(user, room)
        this.reply(user, { r: "parted", room: room.name, reason: cmd.reason, current: user.current?.name })
        if (room.members.size > 0 && room.members.size <= this.options.quietAbove) {
          this.toRoom(room, { e: "part", room: room.name, nick: user.nick, reason: cmd.reason })
        }
        return
      }
      case "who": {
        if (cmd.room === undefined && user.current === undefined) return this.noRoom(user)
        const room = cmd.room === undefined ? user.current : this.rooms.get(cmd.room.toLowerCase())
        return this.reply(user, {
          r: "who",
          room: room?.name ?? cmd.room!,
          exists: room !== undefined,
          nicks: room === undefined ? [] : [...room.members].map((m) => m.nick),
          kind: cmd.kind
        })
      }
      case "rooms":
        return this.reply(user, { r: "rooms", rooms: this.roomList() })
      case "topic": {
        if (cmd.room === undefined && user.current === undefined) return this.noRoom(user)
        const room = cmd.room === undefined ? user.current : this.rooms.get(cmd.room.toLowerCase())
        if (cmd.text === undefined) {
          if (room === undefined) return this.error(user, "no-such-room", cmd.room!, `there is no room ${cmd.room}`)
          return this.reply(user, { r: "topic", room: room.name, topic: room.topic })
        }
        if (room === undefined || !room.members.has(user)) return this.error(user, "not-in-room", cmd.room!, `you are not in ${cmd.room}`)
        room.topic = cmd.text
        return this.toRoom(room, { e: "topic", room: room.name, nick: user.nick, topic: cmd.text })
      }
      case "quit":
        this.reply(user, { r: "bye", reason: cmd.reason })
        return this.remove(user, cmd.reason === undefined ? "quit" : `quit: ${cmd.reason}`)
    }
  }

  /** The connection closed: its user (if any) leaves every room. */
  close(endpoint: number, conn: number, reason: string): void {
    const user = this.conns.get(endpoint)?.get(conn)
    if (user !== undefined) this.remove(user, reason)
  }

  /** A hub is gone (its worker died): all its users leave. */
  dropEndpoint(endpoint: number, reason: string): void {
    const byConn = this.conns.get(endpoint)
    if (byConn === undefined) return
    for (const user of [...byConn.values()]) this.remove(user, reason)
    this.conns.delete(endpoint)
  }

  private reply(user: User, r: Reply): void {
    this.options.deliver([user.endpoint], { t: "r", c: user.conn, r })
  }

  private noRoom(user: User): void {
    this.error(user, "not-in-room", "", "you are in no room: /join ROOM first")
  }

  private error(user: User, code: ErrorCode, arg: string, text: string, quiet = false): void {
    this.reply(user, { r: "error", code, arg, text, quiet })
  }

  private toRoom(room: Room, e: Event): void {
    if (room.endpoints.size === 0) return
    this.options.deliver([...room.endpoints.keys()], { t: "room", k: room.key, e })
  }

  /** Sends `e` to everyone sharing a room of notice size with `user` (each once), not to `user`. */
  private notify(user: User, e: Event): void {
    const byEndpoint = new Map<number, Set<number>>()
    for (const room of user.rooms) {
      if (room.members.size > this.options.quietAbove) continue
      for (const member of room.members) {
        if (member === user) continue
        let conns = byEndpoint.get(member.endpoint)
        if (conns === undefined) byEndpoint.set(member.endpoint, conns = new Set())
        conns.add(member.conn)
      }
    }
    for (const [endpoint, conns] of byEndpoint) this.options.deliver([endpoint], { t: "to", cs: [...conns], e })
  }

  private join(user: User, name: string): void {
    const joined = this.enter(user, name)
    this.reply(user, joined)
  }

  /** Adds `user` to room `name` (made if new), telling the members first; the joiner's `joined`. */
  private enter(user: User, name: string): Joined {
    const key = name.toLowerCase()
    let room = this.rooms.get(key)
    if (room === undefined) {
      room = { name, key, topic: "", members: new Set(), endpoints: new Map() }
      this.rooms.set(key, room)
    }
    const again = room.members.has(user)
    if (!again) {
      // Before adding: the joiner's hub learns of its membership from `joined`, after this.
      if (room.members.size < this.options.quietAbove) this.toRoom(room, { e: "join", room: room.name, nick: user.nick })
      room.members.add(user)
      room.endpoints.set(user.endpoint, (room.endpoints.get(user.endpoint) ?? 0) + 1)
      user.rooms.add(room)
    }
    user.current = room
    return {
      r: "joined",
      room: room.name,
      topic: room.topic,
      members: room.members.size,
      again,
      nicks: user.proto === "irc" ? [...room.members].map((m) => m.nick) : undefined
    }
  }

  private leave(user: User, room: Room): void {
    room.members.delete(user)
    user.rooms.delete(room)
    if (user.current === room) user.current = [...user.rooms].at(-1)
    const left = (room.endpoints.get(user.endpoint) ?? 1) - 1
    if (left === 0) room.endpoints.delete(user.endpoint)
    else room.endpoints.set(user.endpoint, left)
    if (room.members.size === 0) this.rooms.delete(room.key)
  }

  private remove(user: User, reason: string): void {
    this.notify(user, { e: "quit", nick: user.nick, reason })
    for (const room of [...user.rooms]) this.leave(user, room)
    this.users.delete(user.nick.toLowerCase())
    this.conns.get(user.endpoint)?.delete(user.conn)
  }
}
