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
  | { readonly c: "say"; readonly room: string | undefined; readonly text: string; readonly kind: "say" | "me" | "notice" }
  | { readonly c: "msg"; readonly to: string; readonly text: string; readonly notice: boolean }
  | { readonly c: "nick"; readonly nick: string }
  | { readonly c: "join"; readonly room: string }
  | { readonly c: "part"; readonly room: string | undefined; readonly reason: string | undefined }
  | { readonly c: "who"; readonly room: string | undefined; readonly kind: "who" | "names" }
  | { readonly c: "rooms" }
  | { readonly c: "topic"; readonly room: string | undefined; readonly text: string | undefined }
  | { readonly c: "quit"; readonly reason: string | undefined }
  /** Lines a hub answered itself while earlier commands were in flight: sent back as they are, in order. */
  | { readonly c: "echo"; readonly seq: number; readonly lines: ReadonlyArray<string> }

/** What went wrong, so each protocol can say it its way (IRC: the numeric beside each). */
export type ErrorCode =
  | "no-such-nick" // 401
  | "no-such-room" // 403
  | "not-in-room" // 442
  | "nick-taken" // 433
  | "bad-nick" // 432

export interface RoomInfo {
  readonly room: string
  readonly members: number
  readonly topic: string
}

/** One connection's answer. */
export type Reply =
  /** Registered as `nick` and placed in `joined` (plain and web users start in lobby). */
  | { readonly r: "welcome"; readonly nick: string; readonly uid: number; readonly joined: Joined | undefined }
  /** Registration refused (IRC: nick taken or bad); the connection stays unregistered. */
  | { readonly r: "refused"; readonly code: ErrorCode; readonly nick: string; readonly text: string }
  | { readonly r: "error"; readonly code: ErrorCode; readonly arg: string; readonly text: string; readonly quiet: boolean }
  | Joined
  /** `current`: the user's current room now. */
  | { readonly r: "parted"; readonly room: string; readonly reason: string | undefined; readonly current: string | undefined }
  | { readonly r: "renamed"; readonly old: string; readonly nick: string }
  | { readonly r: "who"; readonly room: string; readonly exists: boolean; readonly nicks: ReadonlyArray<string>; readonly kind: "who" | "names" }
  | { readonly r: "rooms"; readonly rooms: ReadonlyArray<RoomInfo> }
  | { readonly r: "topic"; readonly room: string; readonly topic: string }
  | { readonly r: "pm-echo"; readonly to: string; readonly text: string; readonly notice: boolean }
  | { readonly r: "bye"; readonly reason: string | undefined }
  /** A hub's own lines, returned behind the replies to the connection's earlier commands. */
  | { readonly r: "echo"; readonly seq: number; readonly lines: ReadonlyArray<string> }

export interface Joined {
  readonly r: "joined"
  readonly room: string
  readonly topic: string
  readonly members: number
  /** Already a member: only the current room changes. */
  readonly again: boolean
  /** The members' nicks, for IRC's NAMES after a JOIN (left out for other protocols: 10,000 joins must not mean 10,000 lists). */
  readonly nicks: ReadonlyArray<string> | undefined
}

/** Something that happened in a room or to a user, delivered to many connections. */
export type Event =
  | { readonly e: "msg"; readonly room: string; readonly nick: string; readonly uid: number; readonly text: string; readonly kind: "say" | "me" | "notice" }
  | { readonly e: "join"; readonly room: string; readonly nick: string }
  | { readonly e: "part"; readonly room: string; readonly nick: string; readonly reason: string | undefined }
  | { readonly e: "topic"; readonly room: string; readonly nick: string; readonly topic: string }
  | { readonly e: "nick"; readonly old: string; readonly nick: string }
  | { readonly e: "quit"; readonly nick: string; readonly reason: string }
  | { readonly e: "pm"; readonly from: string; readonly text: string; readonly notice: boolean }

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
  | { readonly t: "open"; readonly c: number; readonly proto: Proto; readonly nick: string | undefined }
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
