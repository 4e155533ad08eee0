/**
 * The plain line protocol's handler (nc users, and the web page, which speaks
 * the same lines over a WebSocket): lines to registry commands, replies and
 * events to lines. The syntax is in `protocol.ts`.
 *
 * @example
 * const handlers = { plain: Plain.make(4096), web: Plain.make(4096), irc: Irc.make() }
 */
import type { Handler, Session } from "./hub.ts"
import type { Event, Reply } from "./messages.ts"
import { HELP, parse } from "./protocol.ts"

/** Splits `words` into lines of at most about `width` characters, each starting with `head`. */
const wrap = (head: string, words: ReadonlyArray<string>, width = 400): Array<string> => {
  const lines: Array<string> = []
  let line = head
  for (const word of words) {
    if (line.length + word.length + 1 > width && line !== head) {
      lines.push(line)
      line = head
    }
    line += " " + word
  }
  lines.push(line)
  return lines
}

/** The one line every plain client sees for an event. */
export const renderEvent = (e: Event): string => {
  switch (e.e) {
    case "msg":
      if (e.status !== undefined) return `[${e.status}${e.room}] ${e.nick}: ${e.text}`
      return e.kind === "me" ? `* ${e.nick} ${e.text}` : e.kind === "notice" ? `[${e.room}] -${e.nick}- ${e.text}` : `[${e.room}] ${e.nick}: ${e.text}`
    case "join":
      return `* ${e.nick} joined ${e.room}`
    case "part":
      return `* ${e.nick} left ${e.room}${e.reason === undefined ? "" : ` (${e.reason})`}`
    case "topic":
      return `* ${e.nick} set the topic of ${e.room}: ${e.topic}`
    case "nick":
      return `* ${e.old} is now ${e.nick}`
    case "quit":
      return `* ${e.nick} ${e.reason}`
    case "pm":
      return `[pm] ${e.from}: ${e.text}`
    case "kick":
      return `* ${e.nick} kicked ${e.target} from ${e.room} (${e.reason})`
    case "mode":
      return `* ${e.nick} set mode ${e.modes} on ${e.room}`
    case "invite":
      return `* ${e.from} invites you to ${e.room}: /join ${e.room}`
    case "wallops":
      return `* wallops from ${e.from}: ${e.text}`
  }
}

const joinedLines = (session: Session, room: string, members: number, topic: string) => {
  session.say(`* you are in ${room} (${members} here)`)
  if (topic !== "") session.say(`* topic of ${room}: ${topic}`)
}

/**
 * The plain-line protocol handler (nc and the web page) for a `Hub`, with lines up to `maxLine` bytes.
 *
 * @example
 * new Hub({ handlers: { plain: Plain.make(4096), web: Plain.make(4096), irc: Irc.make() }, ... })
 */
export const make = (maxLine: number): Handler => ({
  allowControls: false,
  maxLine,
  eol: "\n",
  echo: true,
  format: "plain",
  start(session) {
    session.awaiting = true
    session.send({ t: "open", c: session.id, proto: session.proto, nick: undefined })
  },
  line(session, text) {
    const cmd = parse(text)
    const c = session.id
    switch (cmd._tag) {
      case "Empty":
        return
      case "Invalid":
        return session.say(`! error: ${cmd.reason}`)
      case "Say":
      case "Me":
        return session.send({ t: "cmd", c, cmd: { c: "say", room: undefined, text: cmd.text, kind: cmd._tag === "Me" ? "me" : "say" } })
      case "Msg":
        return session.send({ t: "cmd", c, cmd: { c: "msg", to: cmd.to, text: cmd.text, notice: false } })
      case "Nick":
        return session.send({ t: "cmd", c, cmd: { c: "nick", nick: cmd.name } })
      case "Join":
        return session.send({ t: "cmd", c, cmd: { c: "join", room: cmd.room } })
      case "Part":
        return session.send({ t: "cmd", c, cmd: { c: "part", room: cmd.room, reason: undefined } })
      case "Who":
        return session.send({ t: "cmd", c, cmd: { c: "who", room: cmd.room, kind: "who" } })
      case "Rooms":
        return session.send({ t: "cmd", c, cmd: { c: "rooms" } })
      case "Topic":
        return session.send({ t: "cmd", c, cmd: { c: "topic", room: undefined, text: cmd.text } })
      case "Help":
        for (const line of HELP) session.say(line)
        return
      case "Quit":
        return session.send({ t: "cmd", c, cmd: { c: "quit", reason: cmd.reason } })
      case "Kick":
        return session.send({ t: "cmd", c, cmd: { c: "kick", room: cmd.room, nick: cmd.nick, reason: cmd.reason } })
      case "Invite":
        return session.send({ t: "cmd", c, cmd: { c: "invite", nick: cmd.nick, room: cmd.room } })
      case "Mode":
        return session.send({ t: "cmd", c, cmd: { c: "mode", room: cmd.room, modes: cmd.modes, args: cmd.args } })
      case "Away":
        return session.send({ t: "cmd", c, cmd: { c: "away", text: cmd.text } })
      case "Whois":
        return session.send({ t: "cmd", c, cmd: { c: "whois", nick: cmd.nick } })
    }
  },
  malformed(session, reason) {
    session.say(`! error: ${reason}`)
  },
  reply(session, r: Reply) {
    const hub = session.hub
    switch (r.r) {
      case "welcome":
        session.say(`* welcome ${r.nick}: ${hub.options.where}, room ${r.joined?.room ?? "none"}; type /help for the commands`)
        if (r.joined !== undefined) joinedLines(session, r.joined.room, r.joined.members, r.joined.topic)
        return
      case "refused":
      case "error":
        return session.say(`! error: ${r.text}`)
      case "joined":
        return joinedLines(session, r.room, r.members, r.topic)
      case "parted":
        return session.say(`* you left ${r.room}; ${r.current === undefined ? "you are in no room now" : `your current room is ${r.current}`}`)
      case "renamed":
        return session.say(`* you are now ${r.nick}`)
      case "who":
        if (!r.exists) return session.say(`! error: there is no room ${r.room}`)
        for (const line of wrap(`* in ${r.room} (${r.nicks.length}):`, r.nicks)) session.say(line)
        return
      case "whomask":
        return session.say(`* ${r.users.map((u) => u.nick).join(" ")}`)
      case "info":
        for (const line of r.lines) if (line.plain !== undefined) session.say(`* ${line.plain}`)
        return
      case "kicked":
        return session.say(`* you were kicked from ${r.room} by ${r.by} (${r.reason}); ${r.current === undefined ? "you are in no room now" : `your current room is ${r.current}`}`)
      case "killed":
        session.say(`* you were disconnected by ${r.by}: ${r.reason}`)
        return hub.finish(session)
      case "umode":
        return session.say(`* your modes: ${r.modes}`)
      case "rooms":
        session.say(`* rooms (${r.rooms.length}):`)
        for (const room of r.rooms) session.say(`*   ${room.room} (${room.members})${room.topic === "" ? "" : `: ${room.topic}`}`)
        return
      case "topic":
        return session.say(r.topic === "" ? `* ${r.room} has no topic` : `* topic of ${r.room}: ${r.topic}`)
      case "pm-echo":
        return session.say(`[pm -> ${r.to}] ${session.nick}: ${r.text}`)
      case "bye":
        session.say("* bye")
        return hub.finish(session)
    }
  },
  event: (_session, e) => renderEvent(e),
  farewell: (_session, reason) => `* ${reason}; disconnecting`
})
