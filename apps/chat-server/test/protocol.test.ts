import { assert, describe, it } from "@effect/vitest"
import { type Frame, LineReader, parse } from "../src/protocol.ts"

const bytes = (s: string) => new TextEncoder().encode(s)
const texts = (frames: Array<Frame>) => frames.map((f) => f._tag === "Line" ? f.text : `!${f.reason}`)

describe("LineReader (framing: sticky packets)", () => {
  it("reassembles a line split over chunks and splits chunks holding several lines", () => {
    const r = new LineReader(100)
    assert.deepStrictEqual(texts(r.push(bytes("hel"))), [])
    assert.deepStrictEqual(texts(r.push(bytes("lo\nwor"))), ["hello"])
    assert.deepStrictEqual(texts(r.push(bytes("ld\r\n\na\nb\n"))), ["world", "", "a", "b"])
  })

  it("decodes a UTF-8 character split across chunks, byte by byte", () => {
    const r = new LineReader(100)
    const all = bytes("hé ✓ 你好 🎉\n")
    const out: Array<Frame> = []
    for (const b of all) out.push(...r.push(new Uint8Array([b])))
    assert.deepStrictEqual(texts(out), ["hé ✓ 你好 🎉"])
  })

  it("refuses an over-long line once, as soon as it passes the limit, drops the rest up to its newline", () => {
    const r = new LineReader(10)
    assert.deepStrictEqual(texts(r.push(bytes("0123456789"))), [])
    assert.deepStrictEqual(texts(r.push(bytes("0123456789\r"))), ["!line too long: over 10 bytes; it was dropped"])
    assert.deepStrictEqual(texts(r.push(bytes("x".repeat(1000)))), [])
    assert.deepStrictEqual(texts(r.push(bytes("tail\nok\n"))), ["ok"])
    // Exactly the limit passes, with or without \r.
    assert.deepStrictEqual(texts(r.push(bytes("0123456789\n0123456789\r\n01234567890\n"))), [
      "0123456789",
      "0123456789",
      "!line too long: over 10 bytes; it was dropped"
    ])
  })

  it("refuses invalid UTF-8 and control characters, then carries on", () => {
    const r = new LineReader(100)
    const out = r.push(new Uint8Array([0x61, 0xc3, 0x0a, 0x62, 0x07, 0x0a, 0x09, 0x63, 0x0a]))
    assert.deepStrictEqual(texts(out), [
      "!malformed line: not valid UTF-8",
      "!malformed line: control characters are not allowed",
      "\tc"
    ])
  })
})

describe("parse (commands)", () => {
  it("messages, commands, escapes and clear errors", () => {
    assert.deepStrictEqual(parse("hello"), { _tag: "Message", text: "hello" })
    assert.deepStrictEqual(parse("//etc/passwd"), { _tag: "Message", text: "/etc/passwd" })
    assert.deepStrictEqual(parse("   "), { _tag: "Empty" })
    assert.deepStrictEqual(parse("/nick alice_2"), { _tag: "Nick", name: "alice_2" })
    assert.deepStrictEqual(parse(" /join  den "), { _tag: "Message", text: " /join  den " })
    assert.deepStrictEqual(parse("/join den "), { _tag: "Join", room: "den" })
    assert.deepStrictEqual(parse("/quit"), { _tag: "Quit" })
    const bad = (line: string, text: string) => {
      const c = parse(line)
      assert.strictEqual(c._tag, "Invalid", line)
      assert.include((c as { reason: string }).reason, text)
    }
    bad("/nick", "usage: /nick NAME")
    bad("/nick two words", "usage: /nick NAME")
    bad(`/nick ${"n".repeat(25)}`, "usage: /nick NAME")
    bad("/join r@@m", "usage: /join ROOM")
    bad("/who", "unknown command /who")
  })
})
