/**
 * The chat's wire protocol: UTF-8 text, one line per `\n` (a trailing `\r` is
 * dropped, so `nc -C` and telnet work too). Not JSON: a person with `nc` types
 * it, and every reply is one readable line.
 *
 * Client to server:
 *   /nick NAME    NAME: 1-24 of A-Z a-z 0-9 _ -
 *   /join ROOM    same rule; everyone starts in "lobby"
 *   /quit
 *   //text        the message "/text"
 *   anything else a message to everyone in your room
 *
 * Server to client, by first character:
 *   [room] nick: text   a message (your own come back too, in the same order everyone sees)
 *   * ...               a notice (welcome, joins, nick changes, bye)
 *   ! error: ...        your last line was refused; the connection stays open
 *
 * TCP is a byte stream: one `data` event may hold half a line or several lines
 * (the tutorial's "sticky packets"). `LineReader` reassembles bytes into lines
 * before decoding, so a UTF-8 character split across packets is fine, and it
 * never buffers more than `maxBytes` of one line: a longer line is refused as
 * soon as it passes the limit and the rest of it, up to its `\n`, is dropped.
 */

export const DEFAULT_MAX_LINE = 4096

export type Frame =
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "Malformed"; readonly reason: string }

const decoder = new TextDecoder("utf-8", { fatal: true })
// Control characters other than tab would corrupt other clients' terminals.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u0008\u000a-\u001f\u007f]/

const decode = (bytes: Uint8Array): Frame => {
  const body = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.subarray(0, bytes.length - 1) : bytes
  let text: string
  try {
    text = decoder.decode(body)
  } catch {
    return { _tag: "Malformed", reason: "malformed line: not valid UTF-8" }
  }
  if (controlChars.test(text)) return { _tag: "Malformed", reason: "malformed line: control characters are not allowed" }
  return { _tag: "Line", text }
}

export class LineReader {
  private parts: Array<Uint8Array> = []
  private size = 0
  private discarding = false
  readonly maxBytes: number
  constructor(maxBytes: number = DEFAULT_MAX_LINE) {
    this.maxBytes = maxBytes
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
        const frame = decode(line)
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

export type Command =
  | { readonly _tag: "Message"; readonly text: string }
  | { readonly _tag: "Nick"; readonly name: string }
  | { readonly _tag: "Join"; readonly room: string }
  | { readonly _tag: "Quit" }
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Invalid"; readonly reason: string }

const NAME = /^[A-Za-z0-9_-]{1,24}$/
export const HELP = "commands: /nick NAME, /join ROOM, /quit; any other line is a message to your room"

/** One decoded line to a command. */
export const parse = (line: string): Command => {
  if (line.trim() === "") return { _tag: "Empty" }
  if (line.startsWith("//")) return { _tag: "Message", text: line.slice(1) }
  if (!line.startsWith("/")) return { _tag: "Message", text: line }
  const [command = "", ...rest] = line.trim().split(/\s+/)
  const arg = rest.join(" ")
  switch (command) {
    case "/nick":
    case "/join": {
      const what = command === "/nick" ? "NAME" : "ROOM"
      if (!NAME.test(arg)) {
        return { _tag: "Invalid", reason: `usage: ${command} ${what} (${what}: 1-24 letters, digits, _ or -), got ${JSON.stringify(arg)}` }
      }
      return command === "/nick" ? { _tag: "Nick", name: arg } : { _tag: "Join", room: arg }
    }
    case "/quit":
      return { _tag: "Quit" }
    default:
      return { _tag: "Invalid", reason: `unknown command ${command}; ${HELP} (start a message with // to send a leading /)` }
  }
}
