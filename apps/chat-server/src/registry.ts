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
 * - a room's events go only to the hubs (`endpoint`s) with members in it;
 * - channel operators, voices, modes, bans and invitations live here too, so
 *   they hold the same for every protocol.
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
import type { Command, ErrorCode, Event, Info, Joined, Proto, Reply, RoomInfo, ToHub, WhoEntry } from "./messages.ts"
import { LIMITS } from "./protocol.ts"

interface User {
  readonly uid: number
  nick: string
  readonly endpoint: number
  readonly conn: number
  readonly proto: Proto
  readonly rooms: Set<Room>
  /** Where plain lines go: the room joined last (or the one before, after a part). */
  current: Room | undefined
  /** IRC's USER name and real name (plain and web users: none, their nick stands in). */
  readonly username: string | undefined
  readonly realname: string | undefined
  away: string | undefined
  oper: boolean
  /** User modes +i (invisible to WHO masks) and +w (gets WALLOPS). */
  invisible: boolean
  wallops: boolean
  /** When it registered, and last spoke (seconds). */
  readonly signon: number
  active: number
}

interface Ban {
  readonly mask: string
  readonly test: RegExp
  readonly by: string
  readonly at: number
}

interface Room {
  readonly name: string
  readonly key: string
  topic: string
  topicBy: string
  topicAt: number
  readonly created: number
  readonly members: Set<User>
  /** Members per hub: who gets this room's events. */
  readonly endpoints: Map<number, number>
  readonly ops: Set<User>
  readonly voices: Set<User>
  /** Flags among `i m n s t`. */
  readonly flags: Set<string>
  password: string | undefined
  limit: number | undefined
  bans: Array<Ban>
  /** Ban exceptions (+e) and invite exceptions (+I): masks let past bans and +i. */
  excepts: Array<Ban>
  invex: Array<Ban>
  readonly invited: Set<User>
}

/** How the registry is tuned, and how it reaches the hubs. */
export interface RegistryOptions {
  /** Rooms with more members than this get no join/part/quit/rename notices. */
  readonly quietAbove: number
  /** Sends one message to each of these hubs (serialize it once). */
  readonly deliver: (endpoints: ReadonlyArray<number>, message: ToHub) => void
  /** The server's name (IRC's WHOIS shows it). */
  readonly serverName?: string | undefined
  /** The time in seconds (default: now): replicas on several machines use the time of the entry they apply, so they agree. */
  readonly clock?: (() => number) | undefined
}

type SavedBan = { readonly mask: string; readonly by: string; readonly at: number }

/** A registry as JSON (`Registry.snapshot`), for a replica that starts from it. */
export interface RegistrySnapshot {
  readonly users: ReadonlyArray<{
    readonly uid: number; readonly nick: string; readonly endpoint: number; readonly conn: number; readonly proto: Proto
    readonly current: string | undefined; readonly username: string | undefined; readonly realname: string | undefined
    readonly away: string | undefined; readonly oper: boolean; readonly invisible: boolean; readonly wallops: boolean
    readonly signon: number; readonly active: number
  }>
  readonly conns: ReadonlyArray<readonly [number, ReadonlyArray<number>]>
  readonly rooms: ReadonlyArray<{
    readonly name: string; readonly topic: string; readonly topicBy: string; readonly topicAt: number; readonly created: number
    readonly members: ReadonlyArray<number>; readonly ops: ReadonlyArray<number>; readonly voices: ReadonlyArray<number>
    readonly flags: string; readonly password: string | undefined; readonly limit: number | undefined
    readonly bans: ReadonlyArray<SavedBan>; readonly excepts: ReadonlyArray<SavedBan>; readonly invex: ReadonlyArray<SavedBan>
    readonly invited: ReadonlyArray<number>
  }>
  /** Each user's rooms (same order as `users`), in the order joined. */
  readonly memberships: ReadonlyArray<ReadonlyArray<string>>
  readonly history: ReadonlyArray<{ nick: string; username: string; realname: string; at: number }>
  /** nextUid, nextGuest, maxUsers, messages. */
  readonly counters: readonly [number, number, number, number]
}

/** Where plain and web users start. */
export const LOBBY = "lobby"
/** Every user's host in masks (real addresses are not shown). @example `${nick}!${user}@${HOST}` */
export const HOST = "weft"
/**
 * What a new room starts with: topic protection and no messages from outside, its maker an
 * operator. The lobby, where every nc and web user is put, is everyone's: no operator, open topic.
 */
const DEFAULT_FLAGS = "nt"
/** How many departed users WHOWAS remembers. */
const WHOWAS_SIZE = 1000

const now = () => Math.floor(Date.now() / 1000)

/** A ban or WHO mask (`*`, `?`) as a case-insensitive regular expression. @example globToRegExp("b*!*@*").test("Bob!bob@weft") // true */
export const globToRegExp = (mask: string): RegExp =>
  new RegExp("^" + mask.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$", "i")

/** A bare nick as a ban mask: `bob` is `bob!*@*`. */
const normalizeMask = (mask: string): string =>
  mask.includes("!") || mask.includes("@") ? (mask.includes("@") ? mask : `${mask}@*`).replace(/^([^!]*)@/, "$1!*@") : `${mask}!*@*`

const userOf = (user: User): string => user.username ?? user.nick
const realOf = (user: User): string => user.realname ?? user.nick

/** The list modes: their list, and IRC's item and end numerics, and how plain users read an item. */
const LISTS = { b: ["367", "368", "banned from"], e: ["348", "349", "excepted from bans in"], I: ["346", "347", "let into"] } as const
const listOf = (room: Room, ch: "b" | "e" | "I"): Array<Ban> => (ch === "b" ? room.bans : ch === "e" ? room.excepts : room.invex)

/** A room operator, or a server operator (who may act as one anywhere). */
const isOp = (room: Room, user: User): boolean => room.ops.has(user) || user.oper

const prefixOf = (room: Room, user: User): string => (room.ops.has(user) ? "@" : "") + (room.voices.has(user) ? "+" : "")

/**
 * The registry. See the module comment.
 *
 * @example
 * const registry = new Registry({ quietAbove: 50, deliver })
 * registry.open(1, 7, "irc", "ann") // welcome; IRC users join rooms themselves
 */
export class Registry {
  private readonly users = new Map<string, User>()
  private readonly conns = new Map<number, Map<number, User>>()
  private readonly rooms = new Map<string, Room>()
  /** Departed and renamed users, newest last, for WHOWAS. */
  private readonly history: Array<{ nick: string; username: string; realname: string; at: number }> = []
  private nextUid = 0
  private nextGuest = 0
  private maxUsers = 0
  /** Room messages sequenced (say, me, notice). */
  messages = 0
  private readonly options: RegistryOptions
  private readonly now: () => number
  constructor(options: RegistryOptions) {
    this.options = options
    this.now = options.clock ?? now
  }

  get userCount(): number {
    return this.users.size
  }
  get roomCount(): number {
    return this.rooms.size
  }
  /** Every room but the secret ones (`viewer`: those it is in too), by name. */
  roomList(viewer?: User): Array<RoomInfo> {
    return [...this.rooms.values()]
      .filter((room) => !room.flags.has("s") || (viewer !== undefined && room.members.has(viewer)))
      .map((room) => ({ room: room.name, members: room.members.size, topic: room.topic }))
      .sort((a, b) => a.room.localeCompare(b.room))
  }
  /**
   * Everything the registry holds, as JSON, in its own iteration orders: a replica that starts
   * from it (`restore`) takes the same decisions as this one from then on.
   */
  snapshot(): RegistrySnapshot {
    const list = (bans: ReadonlyArray<Ban>) => bans.map(({ mask, by, at }) => ({ mask, by, at }))
    return {
      users: [...this.users.values()].map((u) => ({
        uid: u.uid, nick: u.nick, endpoint: u.endpoint, conn: u.conn, proto: u.proto, current: u.current?.key,
        username: u.username, realname: u.realname, away: u.away, oper: u.oper, invisible: u.invisible,
        wallops: u.wallops, signon: u.signon, active: u.active
      })),
      conns: [...this.conns].map(([endpoint, byConn]) => [endpoint, [...byConn.values()].map((u) => u.uid)]),
      rooms: [...this.rooms.values()].map((r) => ({
        name: r.name, topic: r.topic, topicBy: r.topicBy, topicAt: r.topicAt, created: r.created,
        members: [...r.members].map((u) => u.uid), ops: [...r.ops].map((u) => u.uid), voices: [...r.voices].map((u) => u.uid),
        flags: [...r.flags].join(""), password: r.password, limit: r.limit, bans: list(r.bans), excepts: list(r.excepts),
        invex: list(r.invex), invited: [...r.invited].map((u) => u.uid)
      })),
      memberships: [...this.users.values()].map((u) => [...u.rooms].map((r) => r.key)),
      history: this.history.map((h) => ({ ...h })),
      counters: [this.nextUid, this.nextGuest, this.maxUsers, this.messages]
    }
  }

  /** Loads a `snapshot` into this registry, which must be new (nothing registered yet). */
  restore(snapshot: RegistrySnapshot): void {
    const byUid = new Map<number, User>()
    const rooms = new Map<string, Room>()
    const ban = ({ mask, by, at }: { mask: string; by: string; at: number }): Ban => ({ mask, by, at, test: globToRegExp(mask) })
    for (const u of snapshot.users) {
      const user: User = { ...u, rooms: new Set(), current: undefined }
      byUid.set(u.uid, user)
      this.users.set(u.nick.toLowerCase(), user)
    }
    const users = (uids: ReadonlyArray<number>) => uids.map((uid) => byUid.get(uid)!)
    for (const r of snapshot.rooms) {
      const members = users(r.members)
      const endpoints = new Map<number, number>()
      for (const m of members) endpoints.set(m.endpoint, (endpoints.get(m.endpoint) ?? 0) + 1)
      rooms.set(r.name.toLowerCase(), {
        ...r, key: r.name.toLowerCase(), members: new Set(members), endpoints, ops: new Set(users(r.ops)), voices: new Set(users(r.voices)),
        flags: new Set(r.flags), bans: r.bans.map(ban), excepts: r.excepts.map(ban), invex: r.invex.map(ban), invited: new Set(users(r.invited))
      })
    }
    for (const [k, room] of rooms) this.rooms.set(k, room)
    snapshot.users.forEach((u, i) => {
      const user = byUid.get(u.uid)!
      for (const key of snapshot.memberships[i]!) user.rooms.add(rooms.get(key)!)
      user.current = u.current === undefined ? undefined : rooms.get(u.current)
    })
    for (const [endpoint, uids] of snapshot.conns) this.conns.set(endpoint, new Map(users(uids).map((u) => [u.conn, u])))
    this.history.push(...snapshot.history)
    ;[this.nextUid, this.nextGuest, this.maxUsers, this.messages] = snapshot.counters
  }

  /** The hubs with registered users. */
  endpoints(): Array<number> {
    return [...this.conns.keys()]
  }
  /** The user on this connection, if it registered. */
  nickOf(endpoint: number, conn: number): string | undefined {
    return this.conns.get(endpoint)?.get(conn)?.nick
  }

  /**
   * Registers a connection: `nick` undefined gives a guest nick. Plain and web users start in
   * lobby; IRC users join what they choose, as on any IRC server.
   */
  open(endpoint: number, conn: number, proto: Proto, nick: string | undefined, username?: string, realname?: string): void {
    const reply = (r: Reply) => this.options.deliver([endpoint], { t: "r", c: conn, r })
    if (this.conns.get(endpoint)?.has(conn)) return
    if (nick !== undefined && this.users.has(nick.toLowerCase())) {
      return reply({ r: "refused", code: "nick-taken", nick, text: `nick ${nick} is taken` })
    }
    let name = nick
    while (name === undefined || this.users.has(name.toLowerCase())) name = `guest${++this.nextGuest}`
    const t = this.now()
    const user: User = {
      uid: ++this.nextUid,
      nick: name,
      endpoint,
      conn,
      proto,
      rooms: new Set(),
      current: undefined,
      username,
      realname,
      away: undefined,
      oper: false,
      invisible: false,
      wallops: false,
      signon: t,
      active: t
    }
    this.users.set(name.toLowerCase(), user)
    this.maxUsers = Math.max(this.maxUsers, this.users.size)
    let byConn = this.conns.get(endpoint)
    if (byConn === undefined) this.conns.set(endpoint, byConn = new Map())
    byConn.set(conn, user)
    if (proto === "irc") return reply({ r: "welcome", nick: name, uid: user.uid, joined: undefined, lusers: this.lusers() })
    const joined = this.enter(user, this.rooms.get(LOBBY) ?? LOBBY)
    reply({ r: "welcome", nick: name, uid: user.uid, joined })
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
        const quiet = cmd.kind === "notice"
        if (room === undefined) return this.error(user, "no-such-room", cmd.room!, `there is no room ${cmd.room}`, quiet)
        if (!room.members.has(user)) {
          if (room.flags.has("n")) {
            return this.error(user, "cannot-send", room.name, `you are not in ${room.name}: /join ${room.name} first`, quiet)
          }
        } else if (room.flags.has("m") || room.bans.length > 0) {
          const why = this.muted(room, user)
          if (why !== undefined) return this.error(user, "cannot-send", room.name, `you cannot speak in ${room.name}: ${why}`, quiet)
        }
        this.messages++
        user.active = this.now()
        if (cmd.status === undefined) return this.toRoom(room, { e: "msg", room: room.name, nick: user.nick, uid: user.uid, text: cmd.text, kind: cmd.kind })
        // STATUSMSG: to the operators (and voices, for +) only.
        const byEndpoint = new Map<number, Array<number>>()
        for (const member of room.members) {
          if (!room.ops.has(member) && !(cmd.status === "+" && room.voices.has(member))) continue
          let conns = byEndpoint.get(member.endpoint)
          if (conns === undefined) byEndpoint.set(member.endpoint, conns = [])
          conns.push(member.conn)
        }
        const e: Event = { e: "msg", room: room.name, nick: user.nick, uid: user.uid, text: cmd.text, kind: cmd.kind, status: cmd.status }
        for (const [endpoint, cs] of byEndpoint) this.options.deliver([endpoint], { t: "to", cs, e })
        return
      }
      case "msg": {
        const target = this.users.get(cmd.to.toLowerCase())
        if (target === undefined) return this.error(user, "no-such-nick", cmd.to, `no one is called ${cmd.to}`, cmd.notice)
        user.active = this.now()
        this.options.deliver([target.endpoint], { t: "to", cs: [target.conn], e: { e: "pm", from: user.nick, text: cmd.text, notice: cmd.notice } })
        this.reply(user, { r: "pm-echo", to: target.nick, text: cmd.text, notice: cmd.notice })
        if (target.away !== undefined && !cmd.notice) {
          this.info(user, [{ n: "301", p: [target.nick, target.away], plain: `${target.nick} is away: ${target.away}` }])
        }
        return
      }
      case "nick": {
        const key = cmd.nick.toLowerCase()
        const holder = this.users.get(key)
        if (holder !== undefined && holder !== user) return this.error(user, "nick-taken", cmd.nick, `nick ${cmd.nick} is taken`)
        if (cmd.nick === user.nick) return
        const old = user.nick
        this.remember(user)
        this.users.delete(old.toLowerCase())
        user.nick = cmd.nick
        this.users.set(key, user)
        this.reply(user, { r: "renamed", old, nick: cmd.nick })
        return this.notify(user, { e: "nick", old, nick: cmd.nick })
      }
      case "join":
        return this.join(user, cmd.room, cmd.key)
      case "part": {
        if (cmd.room === undefined && user.current === undefined) return this.noRoom(user)
        const room = cmd.room === undefined ? user.current! : this.rooms.get(cmd.room.toLowerCase())
        if (room === undefined) return this.error(user, "no-such-room", cmd.room!, `there is no room ${cmd.room}`)
        if (!room.members.has(user)) return this.error(user, "not-in-room", room.name, `you are not in ${room.name}`)
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
        // A secret room is no one's business but its members'.
        const visible = room !== undefined && (!room.flags.has("s") || room.members.has(user))
        const members = visible ? [...room.members] : []
        const who: Extract<Reply, { r: "who" }> = {
          r: "who",
          room: room?.name ?? cmd.room!,
          exists: visible,
          nicks: members.map((m) => prefixOf(room!, m) + m.nick),
          kind: cmd.kind
        }
        if (user.proto !== "irc") return this.reply(user, who)
        return this.reply(user, {
          ...who,
          users: cmd.kind === "who" ? members.map((m) => this.whoEntry(m, room)) : undefined,
          secret: room?.flags.has("s"),
          ...(cmd.more === true ? { more: true } : {})
        })
      }
      case "whomask": {
        const test = globToRegExp(cmd.mask)
        // Invisible (+i) users hide from masks, not from their exact nick, nor from those sharing a room.
        const wild = /[*?]/.test(cmd.mask) || cmd.mask === "0"
        const users: Array<WhoEntry> = []
        for (const other of this.users.values()) {
          if (cmd.opers && !other.oper) continue
          if (other.invisible && wild && other !== user && !this.share(user, other)) continue
          if (cmd.mask !== "*" && cmd.mask !== "0" && !test.test(other.nick) && !test.test(userOf(other)) && !test.test(realOf(other)) && !test.test(HOST)) continue
          users.push(this.whoEntry(other, undefined))
        }
        return this.reply(user, { r: "whomask", mask: cmd.mask, users })
      }
      case "rooms": {
        const masks = cmd.mask?.map((m) => m.toLowerCase())
        const rooms = this.roomList(user).filter((r) => masks === undefined || masks.includes(r.room.toLowerCase()))
        return this.reply(user, { r: "rooms", rooms })
      }
      case "topic": {
        if (cmd.room === undefined && user.current === undefined) return this.noRoom(user)
        const room = cmd.room === undefined ? user.current : this.rooms.get(cmd.room.toLowerCase())
        if (room === undefined) return this.error(user, "no-such-room", cmd.room!, `there is no room ${cmd.room}`)
        if (cmd.text === undefined) {
          if (room.flags.has("s") && !room.members.has(user)) return this.error(user, "not-in-room", room.name, `you are not in ${room.name}`)
          return this.reply(user, { r: "topic", room: room.name, topic: room.topic, by: room.topicBy, at: room.topicAt })
        }
        if (!room.members.has(user)) return this.error(user, "not-in-room", room.name, `you are not in ${room.name}`)
        if (room.flags.has("t") && !isOp(room, user)) return this.notOp(user, room)
        room.topic = truncate(cmd.text, LIMITS.topic)
        room.topicBy = user.nick
        room.topicAt = this.now()
        return this.toRoom(room, { e: "topic", room: room.name, nick: user.nick, topic: room.topic })
      }
      case "quit":
        this.reply(user, { r: "bye", reason: cmd.reason })
        return this.remove(user, cmd.reason === undefined ? "quit" : `quit: ${cmd.reason}`)
      case "mode":
        return this.mode(user, cmd.room, cmd.modes, cmd.args)
      case "umode":
        return this.umode(user, cmd.nick, cmd.modes)
      case "kick":
        return this.kick(user, cmd.room, cmd.nick, cmd.reason)
      case "invite":
        return this.invite(user, cmd.nick, cmd.room)
      case "invites": {
        const lines: Array<Info> = [...this.rooms.values()].filter((r) => r.invited.has(user)).map((r) => ({ n: "336", p: [`#${r.name}`], plain: `invited to ${r.name}` }))
        lines.push({ n: "337", p: ["End of /INVITE list"] })
        return this.info(user, lines)
      }
      case "whois":
        return this.whois(user, cmd.nick)
      case "whowas": {
        const key = cmd.nick.toLowerCase()
        const found = this.history.filter((h) => h.nick.toLowerCase() === key).reverse()
        const shown = cmd.count > 0 ? found.slice(0, cmd.count) : found
        const lines: Array<Info> = []
        if (shown.length === 0) this.error(user, "was-no-such-nick", cmd.nick, `there was no one called ${cmd.nick}`)
        for (const h of shown) {
          lines.push({ n: "314", p: [h.nick, h.username, HOST, "*", h.realname], plain: `${h.nick} was ${h.username} (${h.realname})` })
          lines.push({ n: "312", p: [h.nick, this.serverName, new Date(h.at * 1000).toUTCString()], plain: `${h.nick} left ${new Date(h.at * 1000).toUTCString()}` })
        }
        lines.push({ n: "369", p: [cmd.nick, "End of WHOWAS"] })
        return this.info(user, lines)
      }
      case "away": {
        const text = cmd.text === undefined || cmd.text === "" ? undefined : truncate(cmd.text, LIMITS.away)
        user.away = text
        return this.info(user, [
          text === undefined
            ? { n: "305", p: ["You are no longer marked as being away"], plain: "you are back" }
            : { n: "306", p: ["You have been marked as being away"], plain: `you are away: ${text}` }
        ])
      }
      case "userhost": {
        const found = cmd.nicks.slice(0, 5).map((n) => this.users.get(n.toLowerCase())).filter((u) => u !== undefined)
        const text = found.map((u) => `${u.nick}${u.oper ? "*" : ""}=${u.away === undefined ? "+" : "-"}${userOf(u)}@${HOST}`).join(" ")
        return this.info(user, [{ n: "302", p: [text], plain: text }])
      }
      case "ison": {
        const text = cmd.nicks.map((n) => this.users.get(n.toLowerCase())?.nick).filter((n) => n !== undefined).join(" ")
        return this.info(user, [{ n: "303", p: [text], plain: `online: ${text}` }])
      }
      case "lusers":
        return this.info(user, this.lusers())
      case "oper":
        user.oper = true
        user.wallops = true
        this.info(user, [{ n: "381", p: ["You are now an IRC operator"], plain: `you are a server operator now (${cmd.name})` }])
        return this.reply(user, { r: "umode", modes: "+ow" })
      case "kill": {
        if (!user.oper) return this.error(user, "not-oper", "", "you are not a server operator")
        const target = this.users.get(cmd.nick.toLowerCase())
        if (target === undefined) return this.error(user, "no-such-nick", cmd.nick, `no one is called ${cmd.nick}`)
        const reason = `Killed (${user.nick} (${cmd.reason}))`
        this.reply(target, { r: "killed", by: user.nick, reason })
        return this.remove(target, reason)
      }
      case "wallops": {
        if (!user.oper) return this.error(user, "not-oper", "", "you are not a server operator")
        const byEndpoint = new Map<number, Array<number>>()
        for (const other of this.users.values()) {
          if (!other.wallops && !other.oper) continue
          let conns = byEndpoint.get(other.endpoint)
          if (conns === undefined) byEndpoint.set(other.endpoint, conns = [])
          conns.push(other.conn)
        }
        for (const [endpoint, cs] of byEndpoint) this.options.deliver([endpoint], { t: "to", cs, e: { e: "wallops", from: user.nick, text: cmd.text } })
        return
      }
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

  private get serverName(): string {
    return this.options.serverName ?? "weft.chat"
  }

  private reply(user: User, r: Reply): void {
    this.options.deliver([user.endpoint], { t: "r", c: user.conn, r })
  }

  private info(user: User, lines: ReadonlyArray<Info>): void {
    this.reply(user, { r: "info", lines })
  }

  private noRoom(user: User): void {
    this.error(user, "not-in-room", "", "you are in no room: /join ROOM first")
  }

  private notOp(user: User, room: Room): void {
    this.error(user, "not-op", room.name, `you are not an operator of ${room.name}`)
  }

  private error(user: User, code: ErrorCode, arg: string, text: string, quiet = false, args?: ReadonlyArray<string>): void {
    this.reply(user, args === undefined ? { r: "error", code, arg, text, quiet } : { r: "error", code, arg, text, quiet, args })
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

  private share(a: User, b: User): boolean {
    for (const room of a.rooms) if (room.members.has(b)) return true
    return false
  }

  private mask(user: User): string {
    return `${user.nick}!${userOf(user)}@${HOST}`
  }

  /** Whether a mask of `list` matches `user` (as `nick!user@host`, or with the nick as user, as prefixes show it). */
  private matches(list: ReadonlyArray<Ban>, user: User): boolean {
    if (list.length === 0) return false
    const a = this.mask(user)
    const b = `${user.nick}!${user.nick}@${HOST}`
    return list.some((ban) => ban.test.test(a) || ban.test.test(b))
  }

  private banned(room: Room, user: User): boolean {
    return this.matches(room.bans, user) && !this.matches(room.excepts, user)
  }

  /** Why `user` may not speak in `room` (moderated, banned), if it may not. */
  private muted(room: Room, user: User): string | undefined {
    if (room.ops.has(user) || room.voices.has(user)) return undefined
    if (room.flags.has("m")) return "the room is moderated (+m)"
    if (this.banned(room, user)) return "you are banned"
    return undefined
  }

  private whoEntry(user: User, room: Room | undefined): WhoEntry {
    const shown = room ?? [...user.rooms].find((r) => !r.flags.has("s"))
    return {
      nick: user.nick,
      user: userOf(user),
      real: realOf(user),
      room: shown?.name ?? "*",
      away: user.away !== undefined,
      oper: user.oper,
      prefix: shown === undefined ? "" : prefixOf(shown, user)
    }
  }

  private lusers(): Array<Info> {
    let invisible = 0
    let opers = 0
    for (const user of this.users.values()) {
      if (user.invisible) invisible++
      if (user.oper) opers++
    }
    const users = this.users.size
    return [
      { n: "251", p: [`There are ${users - invisible} users and ${invisible} invisible on 1 servers`], plain: `${users} users, ${this.rooms.size} rooms` },
      { n: "252", p: [String(opers), "operator(s) online"] },
      { n: "254", p: [String(this.rooms.size), "channels formed"] },
      { n: "255", p: [`I have ${users} clients and 0 servers`] },
      { n: "265", p: [String(users), String(this.maxUsers), `Current local users ${users}, max ${this.maxUsers}`] },
      { n: "266", p: [String(users), String(this.maxUsers), `Current global users ${users}, max ${this.maxUsers}`] }
    ]
  }

  private join(user: User, name: string, password: string | undefined): void {
    const room = this.rooms.get(name.toLowerCase())
    if (room !== undefined && !room.members.has(user)) {
      const invited = room.invited.has(user)
      const fail = (code: ErrorCode, why: string) => this.error(user, code, room.name, `cannot join ${room.name}: ${why}`)
      if (this.banned(room, user) && !invited) return fail("banned", "you are banned (+b)")
      if (room.flags.has("i") && !invited && !this.matches(room.invex, user)) return fail("invite-only", "it is invite only (+i)")
      if (room.password !== undefined && room.password !== password && !invited) return fail("bad-key", "wrong or missing key (+k)")
      if (room.limit !== undefined && room.members.size >= room.limit && !invited) return fail("room-full", `it is full (+l ${room.limit})`)
      room.invited.delete(user)
    } else if (room === undefined && user.rooms.size >= LIMITS.rooms) {
      return this.error(user, "room-full", name, `cannot join ${name}: you are in ${LIMITS.rooms} rooms already`)
    }
    this.reply(user, this.enter(user, room ?? name))
  }

  /** Adds `user` to `room` (made if new, its maker an operator), telling the members first; the joiner's `joined`. */
  private enter(user: User, existing: Room | string): Joined {
    let room: Room
    if (typeof existing === "string") {
      const t = this.now()
      room = {
        name: existing,
        key: existing.toLowerCase(),
        topic: "",
        topicBy: "",
        topicAt: 0,
        created: t,
        members: new Set(),
        endpoints: new Map(),
        ops: new Set(existing.toLowerCase() === LOBBY ? [] : [user]),
        voices: new Set(),
        flags: new Set(existing.toLowerCase() === LOBBY ? "n" : DEFAULT_FLAGS),
        password: undefined,
        limit: undefined,
        bans: [],
        excepts: [],
        invex: [],
        invited: new Set()
      }
      this.rooms.set(room.key, room)
    } else {
      room = existing
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
    const joined: Joined = {
      r: "joined",
      room: room.name,
      topic: room.topic,
      members: room.members.size,
      again,
      nicks: user.proto === "irc" ? [...room.members].map((m) => prefixOf(room, m) + m.nick) : undefined
    }
    // Only what there is: most joins go to plain users in topic-less public rooms.
    if (room.topic === "" && !room.flags.has("s")) return joined
    return { ...joined, topicBy: room.topicBy, topicAt: room.topicAt, secret: room.flags.has("s") }
  }

  private leave(user: User, room: Room): void {
    room.members.delete(user)
    room.ops.delete(user)
    room.voices.delete(user)
    user.rooms.delete(room)
    if (user.current === room) user.current = [...user.rooms].at(-1)
    const left = (room.endpoints.get(user.endpoint) ?? 1) - 1
    if (left === 0) room.endpoints.delete(user.endpoint)
    else room.endpoints.set(user.endpoint, left)
    if (room.members.size === 0) this.rooms.delete(room.key)
  }

  private remember(user: User): void {
    this.history.push({ nick: user.nick, username: userOf(user), realname: realOf(user), at: this.now() })
    if (this.history.length > WHOWAS_SIZE) this.history.splice(0, this.history.length - WHOWAS_SIZE)
  }

  private remove(user: User, reason: string): void {
    this.notify(user, { e: "quit", nick: user.nick, reason })
    for (const room of [...user.rooms]) this.leave(user, room)
    for (const room of this.rooms.values()) room.invited.delete(user)
    this.remember(user)
    this.users.delete(user.nick.toLowerCase())
    this.conns.get(user.endpoint)?.delete(user.conn)
  }

  /** The room a command names (undefined: the current one), or an error already sent. */
  private roomFor(user: User, name: string | undefined): Room | undefined {
    if (name === undefined) {
      if (user.current === undefined) this.noRoom(user)
      return user.current
    }
    const room = this.rooms.get(name.toLowerCase())
    if (room === undefined) this.error(user, "no-such-room", name, `there is no room ${name}`)
    return room
  }

  private modeString(room: Room, member: boolean): [string, Array<string>] {
    let flags = "+" + [...room.flags].sort().join("")
    const args: Array<string> = []
    if (room.password !== undefined) {
      flags += "k"
      args.push(member ? room.password : "*")
    }
    if (room.limit !== undefined) {
      flags += "l"
      args.push(String(room.limit))
    }
    return [flags, args]
  }

  private mode(user: User, name: string | undefined, modes: string | undefined, args: ReadonlyArray<string>): void {
    const room = this.roomFor(user, name)
    if (room === undefined) return
    const member = room.members.has(user)
    if (modes === undefined) {
      const [flags, values] = this.modeString(room, member)
      return this.info(user, [
        { n: "324", p: [`#${room.name}`, flags, ...values], plain: `modes of ${room.name}: ${[flags, ...values].join(" ")}` },
        { n: "329", p: [`#${room.name}`, String(room.created)] }
      ])
    }
    let sign = "+"
    let next = 0
    const applied: Array<[string, string, string | undefined]> = []
    const errors: Array<() => void> = []
    let needOp = false
    let count = 0
    for (const ch of modes) {
      if (ch === "+" || ch === "-") {
        sign = ch
        continue
      }
      if (++count > LIMITS.modes) break
      switch (ch) {
        case "b":
        case "e":
        case "I": {
          const mask = args[next++]
          if (mask === undefined) {
            // A query: the list, to anyone who may see the room.
            const [item, end, what] = LISTS[ch]
            const list = listOf(room, ch)
            const lines: Array<Info> = list.map((b) => ({ n: item, p: [`#${room.name}`, b.mask, b.by, String(b.at)], plain: `${what} ${room.name}: ${b.mask} (by ${b.by})` }))
            lines.push({ n: end, p: [`#${room.name}`, `End of channel ${ch === "b" ? "ban" : ch === "e" ? "exception" : "invite exception"} list`], plain: list.length === 0 ? `none ${what} ${room.name}` : undefined })
            this.info(user, lines)
            continue
          }
          needOp = true
          applied.push([sign, ch, normalizeMask(mask)])
          continue
        }
        case "o":
        case "v": {
          const nick = args[next++]
          if (nick === undefined) continue
          needOp = true
          applied.push([sign, ch, nick])
          continue
        }
        case "k": {
          const key = args[next++]
          needOp = true
          if (sign === "+") {
            if (key === undefined) continue
            if (key === "" || /\s/.test(key) || key.length > LIMITS.key) {
              errors.push(() => this.error(user, "bad-mode-param", room.name, `bad key: at most ${LIMITS.key} characters, no spaces`, false, [`#${room.name}`, "k", "*"]))
              continue
            }
          }
          applied.push([sign, "k", key])
          continue
        }
        case "l": {
          needOp = true
          if (sign === "-") {
            applied.push([sign, "l", undefined])
            continue
          }
          const raw = args[next++]
          if (raw === undefined) continue
          const n = Number(raw)
          if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0) continue
          applied.push([sign, "l", String(n)])
          continue
        }
        case "i":
        case "m":
        case "n":
        case "s":
        case "t":
          needOp = true
          applied.push([sign, ch, undefined])
          continue
        default:
          errors.push(() => this.error(user, "unknown-mode", ch, `unknown mode ${ch}: the modes are o v b e I k l i m n s t`, false, [ch]))
      }
    }
    for (const e of errors) e()
    if (!needOp) return
    if (!isOp(room, user)) return member ? this.notOp(user, room) : this.error(user, "not-in-room", room.name, `you are not in ${room.name}`)
    let plus = ""
    const done: Array<[string, string, string | undefined]> = []
    for (const [s, ch, arg] of applied) {
      switch (ch) {
        case "o":
        case "v": {
          const target = this.users.get(arg!.toLowerCase())
          if (target === undefined) {
            this.error(user, "no-such-nick", arg!, `no one is called ${arg}`)
            continue
          }
          if (!room.members.has(target)) {
            this.error(user, "not-there", arg!, `${target.nick} is not in ${room.name}`, false, [target.nick, `#${room.name}`])
            continue
          }
          const set = ch === "o" ? room.ops : room.voices
          if ((s === "+") === set.has(target)) continue
          if (s === "+") set.add(target)
          else set.delete(target)
          done.push([s, ch, target.nick])
          continue
        }
        case "b":
        case "e":
        case "I": {
          const list = listOf(room, ch)
          const exists = list.findIndex((b) => b.mask.toLowerCase() === arg!.toLowerCase())
          if (s === "+") {
            if (exists !== -1 || list.length >= LIMITS.bans) continue
            list.push({ mask: arg!, test: globToRegExp(arg!), by: user.nick, at: this.now() })
          } else {
            if (exists === -1) continue
            list.splice(exists, 1)
          }
          done.push([s, ch, arg])
          continue
        }
        case "k":
          if (s === "+") {
            room.password = arg
            done.push([s, ch, arg])
          } else if (room.password !== undefined) {
            done.push([s, ch, "*"])
            room.password = undefined
          }
          continue
        case "l":
          if (s === "+") {
            room.limit = Number(arg)
            done.push([s, ch, arg])
          } else if (room.limit !== undefined) {
            room.limit = undefined
            done.push([s, ch, undefined])
          }
          continue
        default:
          if ((s === "+") === room.flags.has(ch)) continue
          if (s === "+") room.flags.add(ch)
          else room.flags.delete(ch)
          done.push([s, ch, undefined])
      }
    }
    if (done.length === 0) return
    let last = ""
    const values: Array<string> = []
    for (const [s, ch, arg] of done) {
      if (s !== last) plus += last = s
      plus += ch
      if (arg !== undefined) values.push(arg)
    }
    this.toRoom(room, { e: "mode", room: room.name, nick: user.nick, modes: [plus, ...values].join(" ") })
  }

  private umode(user: User, nick: string, modes: string | undefined): void {
    const target = this.users.get(nick.toLowerCase())
    if (target === undefined) return this.error(user, "no-such-nick", nick, `no one is called ${nick}`)
    if (target !== user) return this.error(user, "users-dont-match", nick, "you can only change your own modes")
    const current = () => "+" + (user.invisible ? "i" : "") + (user.oper ? "o" : "") + (user.wallops ? "w" : "")
    if (modes === undefined) return this.info(user, [{ n: "221", p: [current()], plain: `your modes: ${current()}` }])
    let sign = "+"
    let changed = ""
    let last = ""
    let unknown = false
    for (const ch of modes) {
      if (ch === "+" || ch === "-") {
        sign = ch
        continue
      }
      const on = sign === "+"
      if (ch === "i" && user.invisible !== on) user.invisible = on
      else if (ch === "w" && user.wallops !== on) user.wallops = on
      else if (ch === "o" && !on && user.oper) user.oper = false
      else {
        if (!"iwo".includes(ch)) unknown = true
        continue
      }
      if (sign !== last) changed += last = sign
      changed += ch
    }
    if (unknown) this.info(user, [{ n: "501", p: ["Unknown MODE flag"], plain: "unknown mode: the user modes are i and w" }])
    if (changed !== "") this.reply(user, { r: "umode", modes: changed })
  }

  private kick(user: User, name: string | undefined, nick: string, reason: string | undefined): void {
    const room = this.roomFor(user, name)
    if (room === undefined) return
    if (!room.members.has(user) && !user.oper) return this.error(user, "not-in-room", room.name, `you are not in ${room.name}`)
    if (!isOp(room, user)) return this.notOp(user, room)
    const target = this.users.get(nick.toLowerCase())
    if (target === undefined) return this.error(user, "no-such-nick", nick, `no one is called ${nick}`)
    if (!room.members.has(target)) return this.error(user, "not-there", nick, `${target.nick} is not in ${room.name}`, false, [target.nick, `#${room.name}`])
    const why = truncate(reason === undefined || reason === "" ? user.nick : reason, LIMITS.kick)
    this.leave(target, room)
    // The target first (its hub drops its membership), then the room, target no longer in it.
    this.reply(target, { r: "kicked", room: room.name, by: user.nick, reason: why, current: target.current?.name })
    this.toRoom(room, { e: "kick", room: room.name, nick: user.nick, target: target.nick, reason: why })
  }

  private invite(user: User, nick: string, name: string | undefined): void {
    const target = this.users.get(nick.toLowerCase())
    if (target === undefined) return this.error(user, "no-such-nick", nick, `no one is called ${nick}`)
    const room = name === undefined ? user.current : this.rooms.get(name.toLowerCase())
    if (room === undefined) {
      if (name === undefined) return this.noRoom(user)
      return this.error(user, "no-such-room", name, `there is no room ${name}`)
    }
    if (!room.members.has(user)) return this.error(user, "not-in-room", room.name, `you are not in ${room.name}`)
    if (room.flags.has("i") && !isOp(room, user)) return this.notOp(user, room)
    if (room.members.has(target)) return this.error(user, "already-there", nick, `${target.nick} is in ${room.name} already`, false, [target.nick, `#${room.name}`])
    room.invited.add(target)
    this.info(user, [{ n: "341", p: [target.nick, `#${room.name}`], plain: `you invited ${target.nick} to ${room.name}` }])
    this.options.deliver([target.endpoint], { t: "to", cs: [target.conn], e: { e: "invite", from: user.nick, to: target.nick, room: room.name } })
    if (target.away !== undefined) this.info(user, [{ n: "301", p: [target.nick, target.away], plain: `${target.nick} is away: ${target.away}` }])
  }

  private whois(user: User, nick: string): void {
    const target = this.users.get(nick.toLowerCase())
    if (target === undefined) {
      this.error(user, "no-such-nick", nick, `no one is called ${nick}`)
      return this.info(user, [{ n: "318", p: [nick, "End of /WHOIS list"] }])
    }
    const n = target.nick
    const rooms = [...target.rooms].filter((r) => !r.flags.has("s") || r.members.has(user)).map((r) => prefixOf(r, target) + "#" + r.name)
    const lines: Array<Info> = [
      { n: "311", p: [n, userOf(target), HOST, "*", realOf(target)], plain: `${n} is ${userOf(target)}@${HOST} (${realOf(target)})` }
    ]
    if (rooms.length > 0) lines.push({ n: "319", p: [n, rooms.join(" ")], plain: `${n} is in ${rooms.map((r) => r.replace("#", "")).join(" ")}` })
    lines.push({ n: "312", p: [n, this.serverName, "weft chat"] })
    if (target.oper) lines.push({ n: "313", p: [n, "is an IRC operator"], plain: `${n} is a server operator` })
    if (target.away !== undefined) lines.push({ n: "301", p: [n, target.away], plain: `${n} is away: ${target.away}` })
    const t = this.now()
    lines.push({ n: "317", p: [n, String(t - target.active), String(target.signon), "seconds idle, signon time"], plain: `${n} has been idle ${t - target.active} s` })
    lines.push({ n: "318", p: [n, "End of /WHOIS list"] })
    this.info(user, lines)
  }
}

/** `text` cut to at most `max` characters. */
const truncate = (text: string, max: number): string => (text.length > max ? text.slice(0, max) : text)
