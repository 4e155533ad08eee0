/**
 * What the registry (in the primary) and the connection hubs (in the workers,
 * and the primary's own web hub) say to each other. Between processes they
 * travel as one JSON object per line over a loopback TCP "relay" connection
 * from each worker to the primary (not cluster's IPC channel: on Deno 2.9,
 * application messages on that channel stall cluster's own hand-off of new
 * connections to workers).
 *
 * Everything here is protocol-neutral: a hub renders replies and events for
 * each connection's protocol (plain lines, IRC), once per message and format.
 */

/** How a connection speaks: plain lines (nc), IRC, or the web page (plain lines over a WebSocket). */
export type Proto = "plain" | "irc" | "web"

/**
 * A user's request, already parsed and checked for form by its hub. Rooms are
 * names without `#`; an undefined room is the user's current room, which the
 * registry keeps, so a `/join` and the lines typed right after it agree.
 */
export type Command =
  /** `status`: only to the room's operators (`@`), or operators and voices (`+`): IRC's STATUSMSG. */
  | { readonly c: "say"; readonly room: string | undefined; readonly text: string; readonly kind: "say" | "me" | "notice"; readonly status?: "@" | "+" | undefined }
  | { readonly c: "msg"; readonly to: string; readonly text: string; readonly notice: boolean }
  | { readonly c: "nick"; readonly nick: string }
  | { readonly c: "join"; readonly room: string; readonly key?: string | undefined }
  | { readonly c: "part"; readonly room: string | undefined; readonly reason: string | undefined }
  /** `more`: one of several rooms asked at once (IRC's `NAMES #a,#b` ends them all with one 366). */
  | { readonly c: "who"; readonly room: string | undefined; readonly kind: "who" | "names"; readonly more?: boolean | undefined }
  /** IRC's `WHO mask` (not a channel): users whose nick, user name or real name match. */
  | { readonly c: "whomask"; readonly mask: string; readonly opers: boolean }
  /** `mask`: only the rooms whose names match (IRC's `LIST #a,#b`). */
  | { readonly c: "rooms"; readonly mask?: ReadonlyArray<string> | undefined }
  | { readonly c: "topic"; readonly room: string | undefined; readonly text: string | undefined }
  | { readonly c: "quit"; readonly reason: string | undefined }
  /** Lines a hub answered itself while earlier commands were in flight: sent back as they are, in order. */
  | { readonly c: "echo"; readonly seq: number; readonly lines: ReadonlyArray<string> }
  /** A room's modes: shown (`modes` undefined) or changed, e.g. `+o-v` with `["ann", "bob"]`. */
  | { readonly c: "mode"; readonly room: string | undefined; readonly modes: string | undefined; readonly args: ReadonlyArray<string> }
  /** The user's own modes (`i`, `w`): shown or changed; `nick` must be the user's own. */
  | { readonly c: "umode"; readonly nick: string; readonly modes: string | undefined }
  | { readonly c: "kick"; readonly room: string | undefined; readonly nick: string; readonly reason: string | undefined }
  | { readonly c: "invite"; readonly nick: string; readonly room: string | undefined }
  /** The rooms the user is invited to (IRC's INVITE with no arguments). */
  | { readonly c: "invites" }
  | { readonly c: "whois"; readonly nick: string }
  | { readonly c: "whowas"; readonly nick: string; readonly count: number }
  /** Away with `text`, or back (undefined). */
  | { readonly c: "away"; readonly text: string | undefined }
  | { readonly c: "userhost"; readonly nicks: ReadonlyArray<string> }
  | { readonly c: "ison"; readonly nicks: ReadonlyArray<string> }
  | { readonly c: "lusers" }
  /** The hub checked the operator's password: the user is a server operator now. */
  | { readonly c: "oper"; readonly name: string }
  | { readonly c: "kill"; readonly nick: string; readonly reason: string }
  | { readonly c: "wallops"; readonly text: string }

/** What went wrong, so each protocol can say it its way (IRC: the numeric beside each). */
export type ErrorCode =
  | "no-such-nick" // 401
  | "no-such-room" // 403
  | "cannot-send" // 404
  | "was-no-such-nick" // 406
  | "not-in-room" // 442
  | "nick-taken" // 433
  | "bad-nick" // 432
  | "not-there" // 441: they are not in that room
  | "already-there" // 443
  | "need-more" // 461
  | "room-full" // 471
  | "unknown-mode" // 472
  | "invite-only" // 473
  | "banned" // 474
  | "bad-key" // 475
  | "not-oper" // 481
  | "not-op" // 482
  | "users-dont-match" // 502
  | "bad-mode-param" // 696

/** One line of an informational answer: IRC's numeric `n` with its parameters; `plain` what nc and web users see (none: not shown to them). */
export interface Info {
  readonly n: string
  readonly p: ReadonlyArray<string>
  readonly plain?: string | undefined
}

/** One user in a `WHO` answer. */
export interface WhoEntry {
  readonly nick: string
  readonly user: string
  readonly real: string
  /** The room it was asked about (or the first shared one), `*` for none. */
  readonly room: string
  readonly away: boolean
  readonly oper: boolean
  /** `@`, `+`, `@+` or "" in that room. */
  readonly prefix: string
}

export interface RoomInfo {
  readonly room: string
  readonly members: number
  readonly topic: string
}

/** One connection's answer. */
export type Reply =
  /** Registered as `nick` and placed in `joined` (plain and web users start in lobby); `lusers`: the counts IRC shows at once. */
  | { readonly r: "welcome"; readonly nick: string; readonly uid: number; readonly joined: Joined | undefined; readonly lusers?: ReadonlyArray<Info> | undefined }
  /** Registration refused (IRC: nick taken or bad); the connection stays unregistered. */
  | { readonly r: "refused"; readonly code: ErrorCode; readonly nick: string; readonly text: string }
  /** `args`: IRC's parameters before the text, when they are more than `arg`. */
  | { readonly r: "error"; readonly code: ErrorCode; readonly arg: string; readonly text: string; readonly quiet: boolean; readonly args?: ReadonlyArray<string> | undefined }
  | Joined
  /** `current`: the user's current room now. */
  | { readonly r: "parted"; readonly room: string; readonly reason: string | undefined; readonly current: string | undefined }
  | { readonly r: "renamed"; readonly old: string; readonly nick: string }
  /** `nicks` with their prefix (`@ann`, `+bob`; `@+` both); `users` for IRC's WHO; `secret`: a +s room. */
  | {
    readonly r: "who"
    readonly room: string
    readonly exists: boolean
    readonly nicks: ReadonlyArray<string>
    readonly kind: "who" | "names"
    readonly users?: ReadonlyArray<WhoEntry> | undefined
    readonly secret?: boolean | undefined
    readonly more?: boolean | undefined
  }
  | { readonly r: "whomask"; readonly mask: string; readonly users: ReadonlyArray<WhoEntry> }
  | { readonly r: "rooms"; readonly rooms: ReadonlyArray<RoomInfo> }
  | { readonly r: "topic"; readonly room: string; readonly topic: string; readonly by?: string | undefined; readonly at?: number | undefined }
  /** Numbered lines (WHOIS, MODE, LUSERS, ...): IRC shows them all, plain users those with a `plain` text. */
  | { readonly r: "info"; readonly lines: ReadonlyArray<Info> }
  /** Put out of `room` by `by`; `current`: the user's current room now. */
  | { readonly r: "kicked"; readonly room: string; readonly by: string; readonly reason: string; readonly current: string | undefined }
  /** Disconnected by a server operator. */
  | { readonly r: "killed"; readonly by: string; readonly reason: string }
  /** The user's own modes changed (`+i`, `-w`, `+o` after OPER). */
  | { readonly r: "umode"; readonly modes: string }
  | { readonly r: "pm-echo"; readonly to: string; readonly text: string; readonly notice: boolean }
  | { readonly r: "bye"; readonly reason: string | undefined }
  /** A hub's own lines, returned behind the replies to the connection's earlier commands. */
  | { readonly r: "echo"; readonly seq: number; readonly lines: ReadonlyArray<string> }

export interface Joined {
  readonly r: "joined"
  readonly room: string
  readonly topic: string
  readonly members: number
  /** Who set the topic, and when (seconds). */
  readonly topicBy?: string | undefined
  readonly topicAt?: number | undefined
  /** A +s room (IRC's NAMES shows `@`). */
  readonly secret?: boolean | undefined
  /** Already a member: only the current room changes. */
  readonly again: boolean
  /** The members' nicks with their prefixes, for IRC's NAMES after a JOIN (left out for other protocols: 10,000 joins must not mean 10,000 lists). */
  readonly nicks: ReadonlyArray<string> | undefined
}

/** Something that happened in a room or to a user, delivered to many connections. */
export type Event =
  | {
    readonly e: "msg"
    readonly room: string
    readonly nick: string
    readonly uid: number
    readonly text: string
    readonly kind: "say" | "me" | "notice"
    /** Only for the room's operators (`@`) or operators and voices (`+`). */
    readonly status?: "@" | "+" | undefined
  }
  | { readonly e: "join"; readonly room: string; readonly nick: string }
  | { readonly e: "part"; readonly room: string; readonly nick: string; readonly reason: string | undefined }
  | { readonly e: "topic"; readonly room: string; readonly nick: string; readonly topic: string }
  | { readonly e: "nick"; readonly old: string; readonly nick: string }
  | { readonly e: "quit"; readonly nick: string; readonly reason: string }
  | { readonly e: "pm"; readonly from: string; readonly text: string; readonly notice: boolean }
  /** `nick` put `target` out of `room`. */
  | { readonly e: "kick"; readonly room: string; readonly nick: string; readonly target: string; readonly reason: string }
  /** `nick` changed `room`'s modes: `+o-v ann bob`. */
  | { readonly e: "mode"; readonly room: string; readonly nick: string; readonly modes: string }
  /** To the invited user. */
  | { readonly e: "invite"; readonly from: string; readonly to: string; readonly room: string }
  /** From a server operator, to everyone with user mode +w (and the operators). */
  | { readonly e: "wallops"; readonly from: string; readonly text: string }

/** Per-hub counters, reported to the primary for /stats and /metrics. */
export interface Counters {
  readonly connections: number
  readonly messagesIn: number
  readonly messagesOut: number
  readonly droppedSlow: number
  readonly floodDelayed: number
  readonly floodKicked: number
}

/** Hub (worker) to registry (primary). The first line on a relay must be `hello` with the primary's token. */
export type FromHub =
  | { readonly t: "hello"; readonly token: string; readonly id: number }
  | { readonly t: "listening" }
  | { readonly t: "listen-error"; readonly message: string }
  /** Register connection `c` (plain/web: as a guest; IRC: as `nick`). */
  | { readonly t: "open"; readonly c: number; readonly proto: Proto; readonly nick: string | undefined; readonly user?: string | undefined; readonly real?: string | undefined }
  | { readonly t: "cmd"; readonly c: number; readonly cmd: Command }
  /** Connection `c` is gone; its user quits with `reason`. */
  | { readonly t: "close"; readonly c: number; readonly reason: string }
  | { readonly t: "stats"; readonly s: Counters }

/** Registry (primary) to hub (worker). */
export type ToHub =
  | { readonly t: "r"; readonly c: number; readonly r: Reply }
  /** To every local member of room `k` (the room's lower-case key). */
  | { readonly t: "room"; readonly k: string; readonly e: Event }
  /** To these connections. */
  | { readonly t: "to"; readonly cs: ReadonlyArray<number>; readonly e: Event }
  /** Tell these connections (all: undefined) `reason` and close them; the hub goes on (a chat on a cluster that lost its database). */
  | { readonly t: "kick"; readonly cs: ReadonlyArray<number> | undefined; readonly reason: string }
  /** Tell every client, close, exit (what SIGTERM does; a signal is not always delivered to a handler on Deno). */
  | { readonly t: "stop" }

/** Calls `onMessage` with each JSON line read from `socket`; a bad line ends the connection. */
export const readJsonLines = <A>(socket: import("node:net").Socket, onMessage: (message: A) => void): void => {
  let buffer = ""
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => {
    buffer += chunk
    let start = 0
    let nl: number
    while ((nl = buffer.indexOf("\n", start)) !== -1) {
      const line = buffer.slice(start, nl)
      start = nl + 1
      let message: A
      try {
        message = JSON.parse(line) as A
      } catch {
        socket.destroy()
        return
      }
      onMessage(message)
    }
    buffer = buffer.slice(start)
  })
}

/**
 * Writes JSON lines to a socket, many per event-loop turn in one `write`:
 * everything queued in one turn goes out together on the next `setImmediate`.
 */
export const makeOutbox = (write: (data: string) => void): { readonly push: (line: string) => void } => {
  let pending: Array<string> | undefined
  const flush = () => {
    const lines = pending!
    pending = undefined
    write(lines.length === 1 ? lines[0]! : lines.join(""))
  }
  return {
    push: (line) => {
      if (pending === undefined) {
        pending = []
        setImmediate(flush)
      }
      pending.push(line)
    }
  }
}
