/**
 * Messages larger than one NOTIFY payload (PostgreSQL's limit is 8000
 * bytes), sent as several notifications of one statement.
 *
 * Why it works: the notifications of one transaction are queued together at
 * its commit, and notifying commits are serialized (PostgreSQL holds a
 * database-wide lock while it queues them), so a listener receives a
 * message's pieces one after another, in order, with nothing in between.
 *
 * A payload is either a whole message (JSON text, which never starts with
 * `~`) or one piece: `~<index>/<count>~<text>`.
 *
 * @internal
 */

/** The largest NOTIFY payload, in bytes. */
export const maxPayload = 7999

/** Room left in a piece's payload for its `~index/count~` header. */
const headerRoom = 24

/** Splits a message into payloads of at most `max` bytes of UTF-8 each (never inside a character). */
export const split = (message: string, max = maxPayload): ReadonlyArray<string> => {
  if (Buffer.byteLength(message) <= max) return [message]
  const budget = max - headerRoom
  const pieces: Array<string> = []
  let piece = ""
  let bytes = 0
  for (const char of message) {
    const size = Buffer.byteLength(char)
    if (bytes + size > budget) {
      pieces.push(piece)
      piece = ""
      bytes = 0
    }
    piece += char
    bytes += size
  }
  pieces.push(piece)
  return pieces.map((text, i) => `~${i}/${pieces.length}~${text}`)
}

/**
 * Puts pieces back together, one payload at a time, keeping a message in
 * progress across calls. A piece that does not continue the message in
 * progress (a subscription that began in the middle of one) drops it: that
 * message was not wholly published after the subscription began.
 */
export class Reassembly {
  private parts: Array<string> | undefined = undefined
  private count = 0

  /** The next whole message, once `payload` completes one. */
  push(payload: string): string | undefined {
    if (!payload.startsWith("~")) {
      this.parts = undefined
      return payload
    }
    const end = payload.indexOf("~", 1)
    const [index, count] = payload.slice(1, end).split("/").map(Number) as [number, number]
    const text = payload.slice(end + 1)
    if (index === 0) {
      this.parts = [text]
      this.count = count
    } else if (this.parts !== undefined && index === this.parts.length && count === this.count) {
      this.parts.push(text)
    } else {
      this.parts = undefined
      return undefined
    }
    if (this.parts.length < this.count) return undefined
    const message = this.parts.join("")
    this.parts = undefined
    return message
  }
}
