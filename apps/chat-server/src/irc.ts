/**
 * The IRC handler (RFC 1459/2812, the parts clients use): the same users and
 * rooms as the plain protocol, a room `den` being the channel `#den`. Lines
 * are at most 512 bytes with their CR LF; a longer line is refused (417), not
 * truncated, and a longer message from a plain user reaches IRC users split
 * over several lines. Every server line starts with `:weft.chat`.
 *
 * @example
 * const handlers = { plain: Plain.make(4096), web: Plain.make(4096), irc: Irc.make() }
 */
import type { Handler, Session } from "./hub.ts"
import type { ErrorCode, Event, Reply } from "./messages.ts"
import { isNick, isRoom } from "./protocol.ts"

/** The name in every server line's prefix. @example `:${SERVER} 001 ann :Welcome` */
export const SERVER = "weft.chat"
/** 512 with CR LF. */
export const MAX_LINE = 510

/** A parsed IRC line: the command in upper case and its parameters (the trailing one last). */
export interface Message {
  readonly command: string
  readonly params: ReadonlyArray<string>
}

/** `[@tags] [:prefix] COMMAND param... [:trailing]`; undefined for a blank line. Total: never throws. */
export const parseMessage = (line: string): Message | undefined => {
  let rest = line
  if (rest.startsWith("@")) {
    const space = rest.indexOf(" ")
    rest = space === -1 ? "" : rest.slice(space + 1)
  }
  rest = rest.replace(/^ +/, "")
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ")
    rest = space === -1 ? "" : rest.slice(space + 1)
  }
  const params: Array<string> = []
  let command: string | undefined
  while (rest.length > 0) {
    rest = rest.replace(/^ +/, "")
    if (rest.length === 0) break
    if (command !== undefined && rest.startsWith(":")) {
      params.push(rest.slice(1))
      break
    }
    const space = rest.indexOf(" ")
    const word = space === -1 ? rest : rest.slice(0, space)
    rest = space === -1 ? "" : rest.slice(space + 1)
    if (command === undefined) command = word.toUpperCase()
    else params.push(word)
  }
  return command === undefined ? undefined : { command, params }
}

const bytes = (s: string) => new TextEncoder().encode(s).length

/** Splits `text` into pieces of at most `max` UTF-8 bytes, never inside a character. */
export const splitBytes = (text: string, max: number): Array<string> => {
  if (bytes(text) <= max) return [text]
  const pieces: Array<string> = []
  let piece = ""
  let size = 0
  for (const ch of text) {
    const n = ch.length === 2 ? 4 : ch.charCodeAt(0) < 0x80 ? 1 : ch.charCodeAt(0) < 0x800 ? 2 : 3
    if (size + n > max) {
      pieces.push(piece)
      piece = ""
      size = 0
    }
    piece += ch
    size += n
  }
  if (piece !== "") pieces.push(piece)
  return pieces
}

const mask = (nick: string) => `${nick}!${nick}@weft`

/** `:prefix COMMAND target :text`, split into lines that fit 512 bytes. */
const textLines = (prefix: string, command: string, target: string, text: string, wrap?: [string, string]) => {
  const head = `:${prefix} ${command} ${target} :`
  const [open, close] = wrap ?? ["", ""]
  return splitBytes(text, Math.max(16, MAX_LINE - bytes(head) - bytes(open) - bytes(close)))
    .map((piece) => head + open + piece + close)
    .join("\r\n")
}

// mIRC formatting: bold, colour (with its digits), reset, reverse, italics, strike, underline, monospace.
// eslint-disable-next-line no-control-regex
const formatting = /\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x16\x1d\x1e\x1f\x11]/g
// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u001f\u007f]/

const numeric = (session: Session, code: string, ...rest: Array<string>) =>
  session.say(`:${SERVER} ${code} ${session.nick ?? "*"} ${rest.join(" ")}`)

const errorNumerics: Record<ErrorCode, [string, string]> = {
  "no-such-nick": ["401", "No such nick/channel"],
  "no-such-room": ["403", "No such channel"],
  "not-in-room": ["442", "You're not on that channel"],
  "nick-taken": ["433", "Nickname is already in use"],
  "bad-nick": ["432", "Erroneous nickname"]
}

const channel = (room: string) => `#${room}`

/** `#den` to `den`, or undefined when it is not one of our channels. */
const roomOf = (target: string): string | undefined => target.startsWith("#") && isRoom(target.slice(1)) ? target.slice(1) : undefined

const names = (session: Session, room: string, nicks: ReadonlyArray<string>) => {
  const head = `:${SERVER} 353 ${session.nick} = ${channel(room)} :`
  let line = head
  for (const nick of nicks) {
    if (bytes(line) + nick.length + 1 > MAX_LINE && line !== head) {
      session.say(line)
      line = head
    }
    line += (line === head ? "" : " ") + nick
  }
  if (line !== head) session.say(line)
  numeric(session, "366", channel(room), ":End of /NAMES list")
}

const register = (session: Session) => {
  if (session.registered || session.awaiting || session.wantNick === undefined || session.user === undefined) return
  session.awaiting = true
  session.send({ t: "open", c: session.id, proto: "irc", nick: session.wantNick })
}

/** PRIVMSG or NOTICE text: CTCP ACTION becomes an action; colours are dropped; other controls refused. */
const cleanText = (text: string): { kind: "say" | "me"; text: string } | { error: string } | undefined => {
  let kind: "say" | "me" = "say"
  if (text.startsWith("\x01")) {
    const inner = text.replace(/^\x01|\x01$/g, "")
    if (!inner.startsWith("ACTION ")) return undefined // other CTCP (VERSION, PING, ...): not answered
    kind = "me"
    text = inner.slice(7)
  }
  text = text.replace(formatting, "")
  if (controls.test(text)) return { error: "control characters are not allowed" }
  if (text.trim() === "") return { error: "No text to send" }
  return { kind, text }
}

/**
 * The IRC protocol handler for a `Hub`.
 *
 * @example
 * new Hub({ handlers: { plain: Plain.make(4096), web: Plain.make(4096), irc: Irc.make() }, ... })
 */
export const make = (): Handler => ({
  allowControls: true,
  maxLine: MAX_LINE,
  eol: "\r\n",
  echo: false,
  format: "irc",
  start() {},
  line(session, text) {
    const message = parseMessage(text)
    if (message === undefined) return
    const { command, params } = message
    const c = session.id
    const need = (n: number) => {
      if (params.length >= n) return true
      numeric(session, "461", command, ":Not enough parameters")
      return false
    }
    switch (command) {
      case "CAP": {
        const sub = params[0]?.toUpperCase()
        if (sub === "LS" || sub === "LIST") return session.say(`:${SERVER} CAP ${session.nick ?? "*"} ${sub} :`)
        if (sub === "REQ") return session.say(`:${SERVER} CAP ${session.nick ?? "*"} NAK :${params[1] ?? ""}`)
        if (sub === "END") return
        return numeric(session, "410", sub ?? "", ":Invalid CAP command")
      }
      case "PING":
        if (!need(1)) return
        return session.say(`:${SERVER} PONG ${SERVER} :${params[0]}`)
      case "PONG":
        return
      case "NICK": {
        const nick = params[0]
        if (nick === undefined || nick === "") return numeric(session, "431", ":No nickname given")
        if (!isNick(nick)) return numeric(session, "432", nick, ":Erroneous nickname")
        if (session.registered) return session.send({ t: "cmd", c, cmd: { c: "nick", nick } })
        session.wantNick = nick
        return register(session)
      }
      case "USER":
        if (session.registered || session.awaiting) return numeric(session, "462", ":You may not reregister")
        if (!need(4)) return
        session.user = params[0]
        return register(session)
      case "QUIT":
        if (session.registered) return session.send({ t: "cmd", c, cmd: { c: "quit", reason: params[0] } })
        session.say(`ERROR :Closing Link: ${session.wantNick ?? "*"} (quit)`)
        // Held behind earlier answers: closed once they (and it) are out.
        if (session.held !== undefined) session.quitting = true
        else session.hub.finish(session)
        return
    }
    if (!session.registered) return numeric(session, "451", ":You have not registered")
    switch (command) {
      case "JOIN": {
        if (!need(1)) return
        for (const target of params[0]!.split(",")) {
          const room = roomOf(target)
          if (room === undefined) numeric(session, "403", target, ":No such channel")
          else session.send({ t: "cmd", c, cmd: { c: "join", room } })
        }
        return
      }
      case "PART": {
        if (!need(1)) return
        for (const target of params[0]!.split(",")) {
          const room = roomOf(target)
          if (room === undefined) numeric(session, "403", target, ":No such channel")
          else session.send({ t: "cmd", c, cmd: { c: "part", room, reason: params[1] } })
        }
        return
      }
      case "PRIVMSG":
      case "NOTICE": {
        const notice = command === "NOTICE"
        // NOTICE never gets an automatic reply (RFC 2812), errors included.
        if (params.length < 2) return notice ? undefined : void need(2)
        const cleaned = cleanText(params[1]!)
        if (cleaned === undefined) return
        if ("error" in cleaned) return notice ? undefined : numeric(session, "412", `:${cleaned.error}`)
        for (const target of params[0]!.split(",")) {
          if (target.startsWith("#")) {
            const room = roomOf(target)
            if (room === undefined) {
              if (!notice) numeric(session, "403", target, ":No such channel")
            } else {
              session.send({ t: "cmd", c, cmd: { c: "say", room, text: cleaned.text, kind: notice ? "notice" : cleaned.kind } })
            }
          } else if (!isNick(target)) {
            if (!notice) numeric(session, "401", target, ":No such nick/channel")
          } else {
            const text = cleaned.kind === "me" ? `* ${session.nick} ${cleaned.text}` : cleaned.text
            session.send({ t: "cmd", c, cmd: { c: "msg", to: target, text, notice } })
          }
        }
        return
      }
      case "NAMES": {
        if (params.length === 0) return numeric(session, "366", "*", ":End of /NAMES list")
        const room = roomOf(params[0]!)
        if (room === undefined) return numeric(session, "366", params[0]!, ":End of /NAMES list")
        return session.send({ t: "cmd", c, cmd: { c: "who", room, kind: "names" } })
      }
      case "WHO": {
        const room = params[0] === undefined ? undefined : roomOf(params[0])
        if (room === undefined) return numeric(session, "315", params[0] ?? "*", ":End of /WHO list")
        return session.send({ t: "cmd", c, cmd: { c: "who", room, kind: "who" } })
      }
      case "LIST":
        return session.send({ t: "cmd", c, cmd: { c: "rooms" } })
      case "TOPIC": {
        if (!need(1)) return
        const room = roomOf(params[0]!)
        if (room === undefined) return numeric(session, "403", params[0]!, ":No such channel")
        return session.send({ t: "cmd", c, cmd: { c: "topic", room, text: params[1] } })
      }
      case "MODE": {
        if (!need(1)) return
        const target = params[0]!
        if (params.length > 1) return // no modes to set; quietly, as clients send these on their own
        if (target.startsWith("#")) return numeric(session, "324", target, "+")
        return numeric(session, "221", "+")
      }
      default:
        return numeric(session, "421", command, ":Unknown command")
    }
  },
  malformed(session, reason, tooLong) {
    if (tooLong) return numeric(session, "417", ":Input line was too long")
    session.say(`:${SERVER} NOTICE ${session.nick ?? "*"} :error: ${reason}`)
  },
  reply(session, r: Reply) {
    const hub = session.hub
    switch (r.r) {
      case "welcome": {
        session.registered = true
        session.awaiting = false
        session.nick = r.nick
        session.uid = r.uid
        const nick = r.nick
        numeric(session, "001", `:Welcome to the weft chat, ${nick}`)
        numeric(session, "002", `:Your host is ${SERVER}, running weft-chat`)
        numeric(session, "003", ":This server was created today")
        numeric(session, "004", SERVER, "weft-chat", "i", "nt")
        numeric(session, "005", "CHANTYPES=# CASEMAPPING=ascii NICKLEN=24 CHANNELLEN=25 NETWORK=weft PREFIX=() :are supported by this server")
        numeric(session, "375", `:- ${SERVER} Message of the day -`)
        numeric(session, "372", `:- ${hub.options.where}. Rooms are channels: #lobby is the lobby of nc and web users too.`)
        numeric(session, "376", ":End of /MOTD command")
        return
      }
      case "refused":
        session.awaiting = false
        session.wantNick = undefined
        return numeric(session, errorNumerics[r.code][0], r.nick, `:${errorNumerics[r.code][1]}`)
      case "error": {
        if (r.quiet) return
        const [code, text] = errorNumerics[r.code]
        const arg = r.code === "not-in-room" || r.code === "no-such-room" ? channel(r.arg) : r.arg
        return numeric(session, code, arg, `:${text}`)
      }
      case "joined": {
        if (r.again) return
        hub.joined(session, r.room.toLowerCase(), r.room)
        session.say(`:${mask(session.nick!)} JOIN ${channel(r.room)}`)
        if (r.topic !== "") numeric(session, "332", channel(r.room), `:${r.topic}`)
        return names(session, r.room, r.nicks ?? [session.nick!])
      }
      case "parted":
        hub.parted(session, r.room.toLowerCase())
        return session.say(`:${mask(session.nick!)} PART ${channel(r.room)}${r.reason === undefined ? "" : ` :${r.reason}`}`)
      case "renamed":
        session.nick = r.nick
        return session.say(`:${mask(r.old)} NICK :${r.nick}`)
      case "who":
        if (r.kind === "names") return names(session, r.room, r.nicks)
        for (const nick of r.nicks) numeric(session, "352", channel(r.room), nick, "weft", SERVER, nick, "H", `:0 ${nick}`)
        return numeric(session, "315", channel(r.room), ":End of /WHO list")
      case "rooms":
        numeric(session, "321", "Channel", ":Users  Name")
        for (const room of r.rooms) numeric(session, "322", channel(room.room), String(room.members), `:${room.topic}`)
        return numeric(session, "323", ":End of /LIST")
      case "topic":
        if (r.topic === "") return numeric(session, "331", channel(r.room), ":No topic is set")
        return numeric(session, "332", channel(r.room), `:${r.topic}`)
      case "pm-echo":
        return
      case "bye":
        session.say(`ERROR :Closing Link: ${session.nick} (${r.reason ?? "quit"})`)
        return hub.finish(session)
    }
  },
  event(session, e: Event) {
    switch (e.e) {
      case "msg":
        return e.kind === "me"
          ? textLines(mask(e.nick), "PRIVMSG", channel(e.room), e.text, ["\x01ACTION ", "\x01"])
          : textLines(mask(e.nick), e.kind === "notice" ? "NOTICE" : "PRIVMSG", channel(e.room), e.text)
      case "join":
        return `:${mask(e.nick)} JOIN ${channel(e.room)}`
      case "part":
        return `:${mask(e.nick)} PART ${channel(e.room)}${e.reason === undefined ? "" : ` :${e.reason}`}`
      case "topic":
        return `:${mask(e.nick)} TOPIC ${channel(e.room)} :${e.topic}`
      case "nick":
        return `:${mask(e.old)} NICK :${e.nick}`
      case "quit":
        return `:${mask(e.nick)} QUIT :${e.reason}`
      case "pm":
        return textLines(mask(e.from), e.notice ? "NOTICE" : "PRIVMSG", session.nick ?? "*", e.text)
    }
  },
  farewell: (session, reason) => `ERROR :Closing Link: ${session.nick ?? "*"} (${reason})`,
  ping: () => `PING :${SERVER}`
})
