/**
 * The IRC handler (RFC 1459/2812 and modern.ircdocs.horse, the parts clients
 * use): the same users and rooms as the plain protocol, a room `den` being the
 * channel `#den`, with channel operators and modes, WHOIS and friends, server
 * operators (OPER, KILL, WALLOPS) and the multi-prefix capability. Lines are at
 * most 512 bytes with their CR LF; a longer line is refused (417). A message
 * that would not fit once the sender's prefix is added is cut to fit, on a
 * character boundary; a longer message from a plain user reaches IRC users
 * split over several lines. Every server line starts with `:` and the server's
 * name (`--server-name`, default `weft.chat`).
 *
 * @example
 * const handlers = { plain: Plain.make(4096), web: Plain.make(4096), irc: Irc.make({ serverName: "irc.example" }) }
 */
import type { Handler, Session } from "./hub.ts"
import type { ErrorCode, Event, Info, Reply, WhoEntry } from "./messages.ts"
import { verifyPassword } from "./oper.ts"
import { isNick, isRoom, LIMITS } from "./protocol.ts"

/** The default name in every server line's prefix. @example `:${SERVER} 001 ann :Welcome` */
export const SERVER = "weft.chat"
/** The version VERSION and 004 give. @example `:${server} 351 ann ${VERSION} ${server} :...` */
export const VERSION = "weft-chat-0.1"
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

/** `text` cut to at most `max` UTF-8 bytes, on a character boundary. @example truncateBytes("é", 1) // "" */
export const truncateBytes = (text: string, max: number): string =>
  // Most lines are short: no encoding to count them.
  text.length * 3 <= max || bytes(text) <= max ? text : splitBytes(text, max)[0] ?? ""

/** The user part of every prefix is the nick (WHO and WHOIS give the USER name). */
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

const errorNumerics: Record<ErrorCode, [string, string]> = {
  "no-such-nick": ["401", "No such nick/channel"],
  "no-such-room": ["403", "No such channel"],
  "cannot-send": ["404", "Cannot send to channel"],
  "was-no-such-nick": ["406", "There was no such nickname"],
  "not-in-room": ["442", "You're not on that channel"],
  "nick-taken": ["433", "Nickname is already in use"],
  "bad-nick": ["432", "Erroneous nickname"],
  "not-there": ["441", "They aren't on that channel"],
  "already-there": ["443", "is already on channel"],
  "need-more": ["461", "Not enough parameters"],
  "room-full": ["471", "Cannot join channel (+l)"],
  "unknown-mode": ["472", "is unknown mode char to me"],
  "invite-only": ["473", "Cannot join channel (+i)"],
  "banned": ["474", "Cannot join channel (+b)"],
  "bad-key": ["475", "Cannot join channel (+k)"],
  "not-oper": ["481", "Permission Denied- You're not an IRC operator"],
  "not-op": ["482", "You're not channel operator"],
  "users-dont-match": ["502", "Cant change mode for other users"],
  "bad-mode-param": ["696", "Invalid mode parameter"]
}
/** Errors whose argument is a room, shown as a channel. */
const roomErrors = new Set<ErrorCode>(["no-such-room", "cannot-send", "not-in-room", "room-full", "invite-only", "banned", "bad-key", "not-op"])

const channel = (room: string) => `#${room}`

/** What IRC keeps for one connection besides the hub's books: registration, capabilities, WHOX. */
class IrcState {
  /** NICK, USER's user name and real name, PASS: registration asks for them once all are in. */
  wantNick: string | undefined = undefined
  user: string | undefined = undefined
  real: string | undefined = undefined
  pass: string | undefined = undefined
  /** CAP negotiation under way: registration waits for CAP END. */
  negotiating = false
  /** The one capability offered. */
  multiPrefix = false
  /** The WHOX fields and token of the WHO in flight. */
  whox: { readonly fields: string; readonly token: string } | undefined = undefined
}

/** The connection's IRC state, made on first use (only IRC connections pay for it). */
const irc = (session: Session): IrcState => (session.own ??= new IrcState()) as IrcState

/** `#den` to `den`, or undefined when it is not one of our channels. */
const roomOf = (target: string): string | undefined => target.startsWith("#") && isRoom(target.slice(1)) ? target.slice(1) : undefined

/** The prefixes to show: all of them with multi-prefix, else the highest. */
const shownPrefix = (session: Session, prefix: string) => (irc(session).multiPrefix ? prefix : prefix.slice(0, 1))
const withPrefix = (session: Session, nick: string) => {
  if (irc(session).multiPrefix) return nick
  const m = /^([@+]+)(.*)$/.exec(nick)
  return m === null ? nick : m[1]!.slice(0, 1) + m[2]
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

/** What the IRC side needs to know beyond the registry: its name, its operators, its password. */
export interface IrcOptions {
  /** The name in every server line (default `weft.chat`). */
  readonly serverName?: string | undefined
  /** Operator name to scrypt hash (see oper.ts). */
  readonly opers?: ReadonlyMap<string, string> | undefined
  /** A connection password (PASS) every IRC client must give, if set. */
  readonly password?: string | undefined
}

const HELP_TOPICS: Record<string, ReadonlyArray<string>> = {
  "": [
    "weft chat: rooms are channels (#den); nc and web users share them.",
    "Commands: JOIN PART PRIVMSG NOTICE NICK TOPIC NAMES LIST WHO WHOIS WHOWAS MODE KICK INVITE",
    "AWAY USERHOST ISON LUSERS TIME VERSION MOTD INFO ADMIN LINKS HELP OPER KILL WALLOPS QUIT.",
    "Channel modes: o v (prefixes @ +), b (bans), k (key), l (limit), i m n s t. HELP <command> for one."
  ],
  MODE: ["MODE #chan [+|-modes [args]]: o v b k l i m n s t; MODE nick [+|-iw]"],
  KICK: ["KICK #chan nick[,nick] [:reason]: channel operators put users out"],
  INVITE: ["INVITE nick #chan: lets nick join past +i, +k, +l and bans"],
  OPER: ["OPER name password: become a server operator (--oper on the server)"],
  JOIN: ["JOIN #chan[,#chan] [key[,key]]: join channels (made if new; you are then their operator)"],
  PART: ["PART #chan[,#chan] [:reason]: leave channels"],
  PRIVMSG: ["PRIVMSG target[,target] :text: to a channel or a nick"],
  NOTICE: ["NOTICE target :text: like PRIVMSG, never answered automatically"],
  NICK: ["NICK name: change your nick (a letter or _, then up to 23 letters, digits, _ or -)"],
  TOPIC: ["TOPIC #chan [:text]: show or set the topic (+t: operators only)"],
  NAMES: ["NAMES #chan[,#chan]: who is in a channel"],
  LIST: ["LIST [#chan[,#chan]]: the channels, their sizes and topics (+s ones hidden)"],
  WHO: ["WHO #chan|mask [o] [%fields[,token]]: users, with WHOX fields"],
  WHOIS: ["WHOIS nick: who a user is, where, and whether away"],
  WHOWAS: ["WHOWAS nick [count]: who a nick was"],
  AWAY: ["AWAY [:text]: mark yourself away; no text: back"],
  USERHOST: ["USERHOST nick [nick...]: nick=+user@host per nick"],
  ISON: ["ISON nick [nick...]: which of these are online"],
  LUSERS: ["LUSERS: how many users and channels"],
  KILL: ["KILL nick [:reason]: server operators disconnect a user"],
  WALLOPS: ["WALLOPS :text: server operators message everyone with +w"],
  QUIT: ["QUIT [:reason]: leave"]
}

/**
 * The IRC protocol handler for a `Hub`.
 *
 * @example
 * new Hub({ handlers: { plain: Plain.make(4096), web: Plain.make(4096), irc: Irc.make() }, ... })
 */
export const make = (options: IrcOptions = {}): Handler => {
  const server = options.serverName ?? SERVER
  const opers = options.opers ?? new Map<string, string>()
  const numeric = (session: Session, code: string, ...rest: Array<string>) =>
    session.say(`:${server} ${code} ${session.nick ?? "*"} ${rest.join(" ")}`)
  /** A numeric whose last parameter is text (always written with `:`). */
  const info = (session: Session, line: Info) => {
    const p = [...line.p]
    let last = p.pop()
    // WHOIS's channels carry every prefix: only the highest without multi-prefix.
    if (line.n === "319" && !irc(session).multiPrefix) last = last?.replace(/(^| )([@+])\+#/g, "$1$2#")
    numeric(session, line.n, ...p, `:${last ?? ""}`)
  }
  const isupport = (session: Session) => {
    const tokens = [
      `AWAYLEN=${LIMITS.away}`,
      "CASEMAPPING=ascii",
      `CHANLIMIT=#:${LIMITS.rooms}`,
      "CHANMODES=beI,k,l,imnst",
      `CHANNELLEN=${LIMITS.room + 1}`,
      "CHANTYPES=#",
      "EXCEPTS=e",
      "INVEX=I",
      `KICKLEN=${LIMITS.kick}`,
      `MAXLIST=beI:${LIMITS.bans}`,
      `MODES=${LIMITS.modes}`,
      "NETWORK=weft",
      `NICKLEN=${LIMITS.nick}`,
      "PREFIX=(ov)@+",
      "STATUSMSG=@+",
      "TARGMAX=JOIN:,KICK:4,LIST:,NAMES:4,NOTICE:4,PART:,PRIVMSG:4,WHOIS:4",
      `TOPICLEN=${LIMITS.topic}`,
      "UTF8ONLY",
      "WHOX"
    ]
    numeric(session, "005", ...tokens.slice(0, 12), ":are supported by this server")
    numeric(session, "005", ...tokens.slice(12), ":are supported by this server")
  }
  const motd = (session: Session) => {
    numeric(session, "375", `:- ${server} Message of the day -`)
    numeric(session, "372", `:- ${session.hub.options.where}. Rooms are channels: #lobby is the lobby of nc and web users.`)
    numeric(session, "376", ":End of /MOTD command")
  }
  const names = (session: Session, room: string, nicks: ReadonlyArray<string>, secret: boolean | undefined, more = false) => {
    const head = `:${server} 353 ${session.nick} ${secret ? "@" : "="} ${channel(room)} :`
    let line = head
    for (const raw of nicks) {
      const nick = withPrefix(session, raw)
      if (bytes(line) + nick.length + 1 > MAX_LINE && line !== head) {
        session.say(line)
        line = head
      }
      line += (line === head ? "" : " ") + nick
    }
    if (line !== head) session.say(line)
    if (!more) numeric(session, "366", channel(room), ":End of /NAMES list")
  }
  const whoLine = (session: Session, e: WhoEntry, whox: { fields: string; token: string } | undefined) => {
    const flags = (e.away ? "G" : "H") + (e.oper ? "*" : "") + shownPrefix(session, e.prefix)
    const room = e.room === "*" ? "*" : channel(e.room)
    if (whox === undefined) return numeric(session, "352", room, e.user, "weft", server, e.nick, flags, `:0 ${e.real}`)
    const out: Array<string> = []
    for (const f of "tcuihsnfdlaor") {
      if (!whox.fields.includes(f)) continue
      const v = { t: whox.token, c: room, u: e.user, i: "255.255.255.255", h: "weft", s: server, n: e.nick, f: flags, d: "0", l: "0", a: "0", o: "n/a", r: e.real }[f]!
      out.push(f === "r" ? `:${v}` : v)
    }
    if (!whox.fields.includes("r") && out.length > 0) out[out.length - 1] = `:${out[out.length - 1]}`
    numeric(session, "354", ...out)
  }
  const register = (session: Session) => {
    const state = irc(session)
    if (session.registered || session.awaiting || state.negotiating || state.wantNick === undefined || state.user === undefined) return
    if (options.password !== undefined && state.pass !== options.password) {
      numeric(session, "464", ":Password incorrect")
      session.say(`ERROR :Closing Link: ${state.wantNick} (bad password)`)
      session.quitting = true
      if (session.held === undefined) session.hub.finish(session)
      return
    }
    session.awaiting = true
    session.send({ t: "open", c: session.id, proto: "irc", nick: state.wantNick, user: state.user, real: state.real })
  }
  const oper = (session: Session, name: string, password: string) => {
    const hash = opers.get(name)
    if (hash === undefined) return numeric(session, "491", ":No O-lines for your host")
    // The check takes tens of ms: off the sequencer, and this connection's later lines wait for it.
    session.paused = true
    verifyPassword(password, hash, (ok) => {
      if (session.closed) return
      session.local = true
      try {
        if (ok) session.send({ t: "cmd", c: session.id, cmd: { c: "oper", name } })
        else numeric(session, "464", ":Password incorrect")
      } finally {
        session.local = false
        if (session.held !== undefined) session.release()
      }
      session.hub.resume(session)
    })
  }

  return {
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
        if (params.length >= n && (n === 0 || params[n - 1] !== "")) return true
        numeric(session, "461", command, ":Not enough parameters")
        return false
      }
      const send = (cmd: Extract<Parameters<Session["send"]>[0], { t: "cmd" }>["cmd"]) => session.send({ t: "cmd", c, cmd })
      switch (command) {
        case "CAP": {
          const sub = params[0]?.toUpperCase()
          const me = session.nick ?? "*"
          if (sub === "LS" || sub === "LIST") {
            if (!session.registered && sub === "LS") irc(session).negotiating = true
            return session.say(`:${server} CAP ${me} ${sub} :${sub === "LS" ? "multi-prefix" : irc(session).multiPrefix ? "multi-prefix" : ""}`)
          }
          if (sub === "REQ") {
            if (!session.registered) irc(session).negotiating = true
            const wanted = (params[1] ?? "").split(" ").filter(Boolean)
            if (wanted.length === 0 || !wanted.every((cap) => cap === "multi-prefix" || cap === "-multi-prefix")) {
              return session.say(`:${server} CAP ${me} NAK :${params[1] ?? ""}`)
            }
            for (const cap of wanted) irc(session).multiPrefix = !cap.startsWith("-")
            return session.say(`:${server} CAP ${me} ACK :${params[1]}`)
          }
          if (sub === "END") {
            irc(session).negotiating = false
            return register(session)
          }
          return numeric(session, "410", sub ?? "", ":Invalid CAP command")
        }
        case "PING":
          if (!need(1)) return
          // Round through the registry: a PONG says everything sent before it was handled, here and there.
          session.sent++
          return session.say(`:${server} PONG ${server} :${params[0]}`)
        case "PONG":
          return
        case "PASS":
          if (session.registered || session.awaiting) return numeric(session, "462", ":You may not reregister")
          if (!need(1)) return
          irc(session).pass = params[0]
          return
        case "NICK": {
          const nick = params[0]
          if (nick === undefined || nick === "") return numeric(session, "431", ":No nickname given")
          if (!isNick(nick)) return numeric(session, "432", nick, ":Erroneous nickname")
          if (session.registered) return send({ c: "nick", nick })
          irc(session).wantNick = nick
          return register(session)
        }
        case "USER":
          if (session.registered || session.awaiting) return numeric(session, "462", ":You may not reregister")
          if (!need(4)) return
          irc(session).user = params[0]!.slice(0, 16)
          irc(session).real = params[3]!.slice(0, 128)
          return register(session)
        case "QUIT":
          if (session.registered) return send({ c: "quit", reason: params[0] })
          session.say(`ERROR :Closing Link: ${irc(session).wantNick ?? "*"} (quit)`)
          // Held behind earlier answers: closed once they (and it) are out.
          if (session.held !== undefined) session.quitting = true
          else session.hub.finish(session)
          return
        case "HELP":
        case "HELPOP": {
          const subject = (params[0] ?? "").toUpperCase()
          const text = HELP_TOPICS[subject]
          if (text === undefined) return numeric(session, "524", params[0]!, ":No help available on this topic")
          const shown = subject === "" ? "*" : subject
          numeric(session, "704", shown, `:${text[0]}`)
          for (const line of text.slice(1)) numeric(session, "705", shown, `:${line}`)
          return numeric(session, "706", shown, ":End of /HELP")
        }
      }
      if (!session.registered) return numeric(session, "451", ":You have not registered")
      switch (command) {
        case "JOIN": {
          if (!need(1)) return
          if (params[0] === "0") {
            for (const room of [...session.rooms.values()]) send({ c: "part", room, reason: undefined })
            return
          }
          const keys = (params[1] ?? "").split(",")
          params[0]!.split(",").forEach((target, i) => {
            const room = roomOf(target)
            if (room === undefined) numeric(session, "403", target, ":No such channel")
            else send({ c: "join", room, key: keys[i] === "" ? undefined : keys[i] })
          })
          return
        }
        case "PART": {
          if (!need(1)) return
          for (const target of params[0]!.split(",")) {
            const room = roomOf(target)
            if (room === undefined) numeric(session, "403", target, ":No such channel")
            else send({ c: "part", room, reason: params[1] })
          }
          return
        }
        case "PRIVMSG":
        case "NOTICE": {
          const notice = command === "NOTICE"
          // NOTICE never gets an automatic reply (RFC 2812), errors included.
          if (params.length < 1 || params[0] === "") return notice ? undefined : void numeric(session, "411", `:No recipient given (${command})`)
          if (params.length < 2 || params[1] === "") return notice ? undefined : void numeric(session, "412", ":No text to send")
          const cleaned = cleanText(params[1]!)
          if (cleaned === undefined) return
          if ("error" in cleaned) return notice ? undefined : numeric(session, "412", `:${cleaned.error}`)
          const wrap = cleaned.kind === "me" ? 9 : 0
          for (const given of params[0]!.split(",").slice(0, 4)) {
            // STATUSMSG: `@#room` to its operators, `+#room` to operators and voices.
            const status = given.startsWith("@#") ? "@" : given.startsWith("+#") ? "+" : undefined
            const target = status === undefined ? given : given.slice(1)
            // Cut to what fits in one line once the prefix is added, as IRC servers do.
            const room = target.startsWith("#") ? roomOf(target) : undefined
            // The prefix and command are ASCII: their length is their size in bytes.
            const head = `:${mask(session.nick!)} ${command} ${room === undefined ? given : (status ?? "") + channel(room)} :`
            const text = truncateBytes(cleaned.text, MAX_LINE - head.length - wrap)
            if (target.startsWith("#")) {
              if (room === undefined) {
                if (!notice) numeric(session, "403", target, ":No such channel")
              } else {
                send(status === undefined ? { c: "say", room, text, kind: notice ? "notice" : cleaned.kind } : { c: "say", room, text, kind: notice ? "notice" : cleaned.kind, status })
              }
            } else if (!isNick(target)) {
              if (!notice) numeric(session, "401", target, ":No such nick/channel")
            } else {
              send({ c: "msg", to: target, text: cleaned.kind === "me" ? `* ${session.nick} ${text}` : text, notice })
            }
          }
          return
        }
        case "NAMES": {
          if (params.length === 0 || params[0] === "") return numeric(session, "366", "*", ":End of /NAMES list")
          const targets = params[0]!.split(",").slice(0, 4)
          if (targets.length === 1) {
            const room = roomOf(targets[0]!)
            if (room === undefined) return numeric(session, "366", targets[0]!, ":End of /NAMES list")
            return send({ c: "who", room, kind: "names" })
          }
          // Several: each one's names, then one end for them all.
          for (const target of targets) {
            const room = roomOf(target)
            if (room !== undefined) send({ c: "who", room, kind: "names", more: true })
          }
          return numeric(session, "366", targets.join(","), ":End of /NAMES list")
        }
        case "WHO": {
          const target = params[0] === undefined || params[0] === "" ? "*" : params[0]
          const room = roomOf(target)
          const whox = params[1]?.startsWith("%") ? params[1].slice(1).split(",") : undefined
          irc(session).whox = whox === undefined ? undefined : { fields: whox[0] ?? "", token: whox[1] ?? "0" }
          if (room !== undefined) return send({ c: "who", room, kind: "who" })
          if (target.startsWith("#")) return numeric(session, "315", target, ":End of /WHO list")
          return send({ c: "whomask", mask: target, opers: params[1] === "o" })
        }
        case "LIST": {
          const masks = params[0] === undefined || params[0] === "" ? undefined : params[0].split(",").filter((t) => t.startsWith("#")).map((t) => t.slice(1))
          return send({ c: "rooms", mask: masks })
        }
        case "TOPIC": {
          if (!need(1)) return
          const room = roomOf(params[0]!)
          if (room === undefined) return numeric(session, "403", params[0]!, ":No such channel")
          return send({ c: "topic", room, text: params[1] })
        }
        case "MODE": {
          if (!need(1)) return
          const target = params[0]!
          if (target.startsWith("#")) {
            const room = roomOf(target)
            if (room === undefined) return numeric(session, "403", target, ":No such channel")
            return send({ c: "mode", room, modes: params[1], args: params.slice(2) })
          }
          return send({ c: "umode", nick: target, modes: params[1] })
        }
        case "KICK": {
          if (!need(2)) return
          const rooms = params[0]!.split(",")
          const nicks = params[1]!.split(",").slice(0, 4)
          nicks.forEach((nick, i) => {
            const target = rooms.length === nicks.length ? rooms[i]! : rooms[0]!
            const room = roomOf(target)
            if (room === undefined) numeric(session, "403", target, ":No such channel")
            else send({ c: "kick", room, nick, reason: params[2] })
          })
          return
        }
        case "INVITE": {
          if (params.length === 0) return send({ c: "invites" })
          if (!need(2)) return
          const room = roomOf(params[1]!)
          if (room === undefined) return numeric(session, "403", params[1]!, ":No such channel")
          return send({ c: "invite", nick: params[0]!, room })
        }
        case "WHOIS": {
          if (!need(1)) return
          for (const nick of params[params.length - 1]!.split(",").slice(0, 4)) if (nick !== "") send({ c: "whois", nick })
          return
        }
        case "WHOWAS": {
          if (!need(1)) return numeric(session, "431", ":No nickname given")
          const count = Number(params[1] ?? "0")
          for (const nick of params[0]!.split(",")) send({ c: "whowas", nick, count: Number.isSafeInteger(count) && count > 0 ? count : 0 })
          return
        }
        case "AWAY":
          return send({ c: "away", text: params[0] })
        case "USERHOST":
          if (!need(1)) return
          return send({ c: "userhost", nicks: params })
        case "ISON":
          if (!need(1)) return
          return send({ c: "ison", nicks: params.flatMap((p) => p.split(" ")).filter(Boolean) })
        case "LUSERS":
          return send({ c: "lusers" })
        case "OPER":
          if (!need(2)) return
          return oper(session, params[0]!, params[1]!)
        case "KILL":
          if (!need(1)) return
          return send({ c: "kill", nick: params[0]!, reason: params[1] ?? "no reason" })
        case "WALLOPS":
          if (!need(1)) return
          return send({ c: "wallops", text: params[0]! })
        case "TIME": {
          const t = new Date()
          return numeric(session, "391", server, String(Math.floor(t.getTime() / 1000)), "0", `:${t.toUTCString()}`)
        }
        case "VERSION":
          numeric(session, "351", VERSION, server, ":weft chat: nc, IRC and the browser in the same rooms")
          return isupport(session)
        case "MOTD":
          return motd(session)
        case "INFO":
          numeric(session, "371", ":weft chat, on Node, Bun and Deno: node:cluster workers and one registry of users and rooms")
          numeric(session, "371", ":https://modern.ircdocs.horse describes what its IRC side speaks")
          return numeric(session, "374", ":End of INFO list")
        case "ADMIN":
          numeric(session, "256", server, ":Administrative info")
          numeric(session, "257", ":A weft chat")
          numeric(session, "258", ":Run by whoever started it")
          return numeric(session, "259", ":root@localhost")
        case "LINKS":
          // One server, no links to list.
          return numeric(session, "365", "*", ":End of /LINKS list")
        default:
          return numeric(session, "421", command, ":Unknown command")
      }
    },
    malformed(session, reason, tooLong, lossy) {
      if (tooLong) return numeric(session, "417", ":Input line was too long")
      // A user or real name that is not UTF-8 must not stall registration: taken with replacement characters.
      if (lossy !== undefined) {
        const m = parseMessage(lossy)
        if (m?.command === "USER") return this.line(session, lossy)
        return session.say(`:${server} FAIL ${m?.command ?? "*"} INVALID_UTF8 :${reason}`)
      }
      session.say(`:${server} NOTICE ${session.nick ?? "*"} :error: ${reason}`)
    },
    reply(session, r: Reply) {
      const hub = session.hub
      switch (r.r) {
        case "welcome": {
          const nick = r.nick
          numeric(session, "001", `:Welcome to the weft chat, ${nick}`)
          numeric(session, "002", `:Your host is ${server}, running ${VERSION}`)
          numeric(session, "003", ":This server was created today")
          numeric(session, "004", server, VERSION, "iow", "beIiklmnostv", "beIklov")
          isupport(session)
          for (const line of r.lusers ?? []) info(session, line)
          return motd(session)
        }
        case "refused":
          irc(session).wantNick = undefined
          return numeric(session, errorNumerics[r.code][0], r.nick, `:${errorNumerics[r.code][1]}`)
        case "error": {
          if (r.quiet) return
          const [code, text] = errorNumerics[r.code]
          const args = r.args ?? (r.arg === "" ? [] : [roomErrors.has(r.code) ? channel(r.arg) : r.arg])
          return numeric(session, code, ...args, `:${text}`)
        }
        case "joined": {
          if (r.again) return
          session.say(`:${mask(session.nick!)} JOIN ${channel(r.room)}`)
          if (r.topic !== "") {
            numeric(session, "332", channel(r.room), `:${r.topic}`)
            if (r.topicBy !== undefined) numeric(session, "333", channel(r.room), r.topicBy, String(r.topicAt ?? 0))
          }
          return names(session, r.room, r.nicks ?? [session.nick!], r.secret)
        }
        case "parted":
          return session.say(`:${mask(session.nick!)} PART ${channel(r.room)}${r.reason === undefined ? "" : ` :${r.reason}`}`)
        case "kicked":
          return session.say(`:${mask(r.by)} KICK ${channel(r.room)} ${session.nick} :${r.reason}`)
        case "killed":
          session.say(`:${mask(r.by)} KILL ${session.nick} :${r.reason}`)
          session.say(`ERROR :Closing Link: ${session.nick} (${r.reason})`)
          return hub.finish(session)
        case "umode":
          return session.say(`:${mask(session.nick!)} MODE ${session.nick} :${r.modes}`)
        case "renamed":
          return session.say(`:${mask(r.old)} NICK :${r.nick}`)
        case "who": {
          if (r.kind === "names") {
            if (!r.exists) return r.more ? undefined : numeric(session, "366", channel(r.room), ":End of /NAMES list")
            return names(session, r.room, r.nicks, r.secret, r.more)
          }
          const whox = irc(session).whox
          for (const e of r.users ?? []) whoLine(session, e, whox)
          return numeric(session, "315", channel(r.room), ":End of /WHO list")
        }
        case "whomask": {
          const whox = irc(session).whox
          for (const e of r.users) whoLine(session, e, whox)
          return numeric(session, "315", r.mask, ":End of /WHO list")
        }
        case "info":
          for (const line of r.lines) info(session, line)
          return
        case "rooms":
          numeric(session, "321", "Channel", ":Users  Name")
          for (const room of r.rooms) numeric(session, "322", channel(room.room), String(room.members), `:${room.topic}`)
          return numeric(session, "323", ":End of /LIST")
        case "topic":
          if (r.topic === "") return numeric(session, "331", channel(r.room), ":No topic is set")
          numeric(session, "332", channel(r.room), `:${r.topic}`)
          if (r.by !== undefined && r.by !== "") numeric(session, "333", channel(r.room), r.by, String(r.at ?? 0))
          return
        case "pm-echo":
          return
        case "bye":
          session.say(`ERROR :Closing Link: ${session.nick} (${r.reason ?? "quit"})`)
          return hub.finish(session)
      }
    },
    event(session, e: Event) {
      switch (e.e) {
        case "msg": {
          const target = e.status === undefined ? channel(e.room) : e.status + channel(e.room)
          return e.kind === "me"
            ? textLines(mask(e.nick), "PRIVMSG", target, e.text, ["\x01ACTION ", "\x01"])
            : textLines(mask(e.nick), e.kind === "notice" ? "NOTICE" : "PRIVMSG", target, e.text)
        }
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
        case "kick":
          return `:${mask(e.nick)} KICK ${channel(e.room)} ${e.target} :${e.reason}`
        case "mode":
          return `:${mask(e.nick)} MODE ${channel(e.room)} ${e.modes}`
        case "invite":
          return `:${mask(e.from)} INVITE ${e.to} ${channel(e.room)}`
        case "wallops":
          return `:${mask(e.from)} WALLOPS :${e.text}`
        case "pm":
          return textLines(mask(e.from), e.notice ? "NOTICE" : "PRIVMSG", session.nick ?? "*", e.text)
      }
    },
    farewell: (session, reason) => `ERROR :Closing Link: ${session.nick ?? "*"} (${reason})`,
    ping: () => `PING :${server}`
  }
}
