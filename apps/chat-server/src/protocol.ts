/**
 * The plain line protocol (what `nc` users type): framing, names, and the
 * command parser. UTF-8 text, one line per `\n` (a trailing `\r` is dropped,
 * so `nc -C` and telnet work too). Not JSON: a person with `nc` types it, and
 * every reply is one readable line. The commands are in `HELP` below; any line
 * not starting with `/` is a message to the current room, `//text` sends
 * "/text".
 *
 * Server to client, by first character:
 *   [room] nick: text   a message (your own come back too, in the same order everyone sees)
 *   [pm] nick: text     a private message ([pm -> nick] is the echo of yours)
 *   * ...               a notice (welcome, joins, nick changes, /who and /rooms answers, actions)
 *   ! error: ...        your last line was refused; the connection stays open
 *
 * TCP is a byte stream: one `data` event may hold half a line or several lines
 * (the tutorial's "sticky packets"). `LineReader` reassembles bytes into lines
 * before decoding, so a UTF-8 character split across packets is fine, and it
 * never buffers more than `maxBytes` of one line: a longer line is refused as
 * soon as it passes the limit and the rest of it, up to its `\n`, is dropped.
 */

export const DEFAULT_MAX_LINE = 4096

/** One line off the wire: its text, or why it was refused. */
export type Frame =
  | { readonly _tag: "Line"; readonly text: string }
  /** `lossy`: a line that is not UTF-8, decoded with replacement characters (IRC takes a USER line so). */
  | { readonly _tag: "Malformed"; readonly reason: string; readonly lossy?: string }

const decoder = new TextDecoder("utf-8", { fatal: true })
const lossyDecoder = new TextDecoder("utf-8")
// Control characters other than tab would corrupt other clients' terminals.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u0008\u000a-\u001f\u007f]/

const decode = (bytes: Uint8Array, allowControls: boolean): Frame => {
  const body = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.subarray(0, bytes.length - 1) : bytes
  let text: string
  try {
    text = decoder.decode(body)
  } catch {
    return { _tag: "Malformed", reason: "malformed line: not valid UTF-8", lossy: lossyDecoder.decode(body) }
  }
  if (!allowControls && controlChars.test(text)) return { _tag: "Malformed", reason: "malformed line: control characters are not allowed" }
  return { _tag: "Line", text }
}

/**
 * Reassembles a byte stream into lines, at most `maxBytes` each.
 *
 * @example
 * const reader = new LineReader(4096)
 * reader.push(bytes("hel")) // []
 * reader.push(bytes("lo\nbye\n")) // [{ _tag: "Line", text: "hello" }, { _tag: "Line", text: "bye" }]
 */
export class LineReader {
  private parts: Array<Uint8Array> = []
  private size = 0
  private discarding = false
  readonly maxBytes: number
  /** IRC lines carry CTCP (`\x01`) and colour codes; their parser decides what to keep. */
  readonly allowControls: boolean
  constructor(maxBytes: number = DEFAULT_MAX_LINE, allowControls = false) {
    this.maxBytes = maxBytes
    this.allowControls = allowControls
  }

  /** Feeds one chunk as it came off the socket; returns the frames it completed, in order. */
  push(chunk: Uint8Array): Array<Frame> {
    const frames: Array<Frame> = []
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(10, start)
      const end = nl === -1 ? chunk.length : nl
      if (!this.discarding && end > start) {
        if (this.size + (end - start) > this.maxBytes + 1) {
          // + 1: room for the `\r` of a CRLF line of exactly maxBytes.
          frames.push({ _tag: "Malformed", reason: `line too long: over ${this.maxBytes} bytes; it was dropped` })
          this.discarding = true
          this.parts = []
          this.size = 0
        } else {
          this.parts.push(chunk.slice(start, end))
          this.size += end - start
        }
      }
      if (nl === -1) return frames
      if (this.discarding) this.discarding = false
      else {
        const line = this.parts.length === 1 ? this.parts[0]! : concat(this.parts, this.size)
        const frame = decode(line, this.allowControls)
        frames.push(frame._tag === "Line" && this.size > this.maxBytes && line[line.length - 1] !== 13
          ? { _tag: "Malformed", reason: `line too long: over ${this.maxBytes} bytes; it was dropped` }
          : frame)
      }
      this.parts = []
      this.size = 0
      start = nl + 1
    }
  }
}

const concat = (parts: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** A plain line, parsed. */
export type Command =
  | { readonly _tag: "Say"; readonly text: string }
  | { readonly _tag: "Me"; readonly text: string }
  | { readonly _tag: "Msg"; readonly to: string; readonly text: string }
  | { readonly _tag: "Nick"; readonly name: string }
  | { readonly _tag: "Join"; readonly room: string }
  | { readonly _tag: "Part"; readonly room: string | undefined }
  | { readonly _tag: "Who"; readonly room: string | undefined }
  | { readonly _tag: "Rooms" }
  | { readonly _tag: "Topic"; readonly text: string | undefined }
  | { readonly _tag: "Help" }
  | { readonly _tag: "Quit"; readonly reason: string | undefined }
  /** `/kick NICK [reason]` in the current room. */
  | { readonly _tag: "Kick"; readonly room: string | undefined; readonly nick: string; readonly reason: string | undefined }
  | { readonly _tag: "Invite"; readonly nick: string; readonly room: string | undefined }
  /** `/mode [ROOM] [+-modes args]`, and `/op` `/deop` `/voice` `/devoice` `/ban` `/unban` as modes. */
  | { readonly _tag: "Mode"; readonly room: string | undefined; readonly modes: string | undefined; readonly args: ReadonlyArray<string> }
  | { readonly _tag: "Away"; readonly text: string | undefined }
  | { readonly _tag: "Whois"; readonly nick: string }
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Invalid"; readonly reason: string }

/** A nick: a letter or `_`, then up to 23 letters, digits, `_` or `-` (so it is a valid IRC nick too). */
export const NICK = /^[A-Za-z_][A-Za-z0-9_-]{0,23}$/
/** A room: 1-24 letters, digits, `_` or `-`; IRC clients see it as `#room`. */
export const ROOM = /^[A-Za-z0-9_-]{1,24}$/
/**
 * Lengths and counts the server holds everyone to (IRC's ISUPPORT advertises them): longer topics,
 * kick reasons and away messages are cut to these; more modes in one MODE than `modes` are ignored.
 *
 * @example `TOPICLEN=${LIMITS.topic}`
 */
export const LIMITS = {
  nick: 24,
  room: 24,
  topic: 390,
  kick: 255,
  away: 200,
  key: 23,
  /** Rooms one user may be in. */
  rooms: 50,
  modes: 20,
  bans: 100
} as const

/** The nick rule in words, for error messages. */
export const NICK_RULE = "a letter or _, then up to 23 letters, digits, _ or -"
/** The room rule in words, for error messages. */
export const ROOM_RULE = "1-24 letters, digits, _ or -"

/** @example isNick("9lives") // false */
export const isNick = (name: string): boolean => NICK.test(name)
/** @example isRoom("den") // true */
export const isRoom = (name: string): boolean => ROOM.test(name)

/** The `/help` answer, one line each. @example for (const line of HELP) session.say(line) */
export const HELP: ReadonlyArray<string> = [
  "* commands:",
  "*   /join ROOM        join ROOM and make it your current room",
  "*   /part [ROOM]      leave ROOM (default: the current one)",
  "*   /msg NICK text    a private message to NICK",
  "*   /me text          an action: * you text",
  "*   /who [ROOM]       who is in ROOM (default: the current one)",
  "*   /rooms            the rooms and how many are in each",
  "*   /topic [text]     show or set the current room's topic",
  "*   /nick NAME        change your nick",
  "*   /away [text]      mark yourself away (no text: back)",
  "*   /whois NICK       who NICK is, where, and whether away",
  "* room operators (@, the room's maker first) can:",
  "*   /kick NICK [why]  put NICK out of the current room",
  "*   /ban NICK|MASK    keep NICK (or nick!user@host MASK) out; /unban to lift it; /ban alone lists",
  "*   /invite NICK [ROOM]  let NICK in past +i, +k, +l and bans",
  "*   /op NICK, /deop NICK, /voice NICK, /devoice NICK",
  "*   /mode [ROOM] [+-modes args]  show or change modes: o v b k l i m n s t (e.g. /mode +m)",
  "*   /quit [reason]    leave",
  "*   /help             this list",
  "*   anything else is a message to your current room; //text sends /text"
]

const USAGE: Record<string, string> = {
  "/kick": "/kick NICK [reason]",
  "/invite": "/invite NICK [ROOM]",
  "/whois": "/whois NICK",
  "/op": "/op NICK",
  "/deop": "/deop NICK",
  "/voice": "/voice NICK",
  "/devoice": "/devoice NICK",
  "/unban": "/unban NICK|MASK",
  "/join": "/join ROOM",
  "/msg": "/msg NICK text",
  "/me": "/me text",
  "/nick": "/nick NAME"
}

/** A room argument: `den` or `#den` (as IRC users write it). */
const roomArg = (arg: string): string => arg.startsWith("#") ? arg.slice(1) : arg

/** One decoded line to a command. Total: any string gives a command, never a throw. */
export const parse = (line: string): Command => {
  if (line.trim() === "") return { _tag: "Empty" }
  if (line.startsWith("//")) return { _tag: "Say", text: line.slice(1) }
  if (!line.startsWith("/")) return { _tag: "Say", text: line }
  const space = line.search(/\s/)
  const command = (space === -1 ? line : line.slice(0, space)).toLowerCase()
  const rest = space === -1 ? "" : line.slice(space).trim()
  const words = rest === "" ? [] : rest.split(/\s+/)
  const missing = (): Command => ({ _tag: "Invalid", reason: `missing argument: usage: ${USAGE[command]}` })
  switch (command) {
    case "/nick": {
      if (words.length === 0) return missing()
      if (words.length > 1 || !isNick(words[0]!)) {
        return { _tag: "Invalid", reason: `bad nick ${JSON.stringify(rest)}: a nick is ${NICK_RULE}` }
      }
      return { _tag: "Nick", name: words[0]! }
    }
    case "/join":
    case "/part":
    case "/who": {
      if (words.length === 0) return command === "/join" ? missing() : { _tag: command === "/part" ? "Part" : "Who", room: undefined }
      const room = roomArg(words[0]!)
      if (words.length > 1 || !isRoom(room)) {
        return { _tag: "Invalid", reason: `bad room ${JSON.stringify(rest)}: a room is ${ROOM_RULE}` }
      }
      return command === "/join" ? { _tag: "Join", room } : { _tag: command === "/part" ? "Part" : "Who", room }
    }
    case "/msg": {
      if (words.length < 2) return missing()
      const to = words[0]!
      if (!isNick(to)) return { _tag: "Invalid", reason: `bad nick ${JSON.stringify(to)}: a nick is ${NICK_RULE}` }
      return { _tag: "Msg", to, text: rest.slice(to.length).trim() }
    }
    case "/me":
      return rest === "" ? missing() : { _tag: "Me", text: rest }
    case "/rooms":
    case "/list":
      return { _tag: "Rooms" }
    case "/topic":
      return { _tag: "Topic", text: rest === "" ? undefined : rest }
    case "/help":
      return { _tag: "Help" }
    case "/away":
      return { _tag: "Away", text: rest === "" ? undefined : rest }
    case "/whois":
    case "/kick":
    case "/invite":
    case "/op":
    case "/deop":
    case "/voice":
    case "/devoice":
    case "/ban":
    case "/unban": {
      if (words.length === 0) return command === "/ban" ? { _tag: "Mode", room: undefined, modes: "+b", args: [] } : missing()
      const nick = words[0]!
      const isMask = (command === "/ban" || command === "/unban") && /[!@*?]/.test(nick)
      if (!isMask && !isNick(nick)) return { _tag: "Invalid", reason: `bad nick ${JSON.stringify(nick)}: a nick is ${NICK_RULE}` }
      if (command === "/whois") return { _tag: "Whois", nick }
      if (command === "/kick") {
        const reason = rest.slice(nick.length).trim()
        return { _tag: "Kick", room: undefined, nick, reason: reason === "" ? undefined : reason }
      }
      if (command === "/invite") {
        const room = words[1] === undefined ? undefined : roomArg(words[1])
        if (room !== undefined && !isRoom(room)) return { _tag: "Invalid", reason: `bad room ${JSON.stringify(words[1])}: a room is ${ROOM_RULE}` }
        return { _tag: "Invite", nick, room }
      }
      const modes = { "/op": "+o", "/deop": "-o", "/voice": "+v", "/devoice": "-v", "/ban": "+b", "/unban": "-b" }[command]
      return { _tag: "Mode", room: undefined, modes, args: [nick] }
    }
    case "/mode": {
      // `/mode`, `/mode den`, `/mode +m`, `/mode den +l 5`
      let i = 0
      let room: string | undefined
      if (words[0] !== undefined && !/^[+-]/.test(words[0])) {
        room = roomArg(words[0])
        if (!isRoom(room)) return { _tag: "Invalid", reason: `bad room ${JSON.stringify(words[0])}: a room is ${ROOM_RULE}` }
        i = 1
      }
      return { _tag: "Mode", room, modes: words[i], args: words.slice(i + 1) }
    }
    case "/quit":
      return { _tag: "Quit", reason: rest === "" ? undefined : rest }
    default:
      return { _tag: "Invalid", reason: `unknown command ${JSON.stringify(command)}: /help lists them (start a message with // to send a leading /)` }
  }
}
