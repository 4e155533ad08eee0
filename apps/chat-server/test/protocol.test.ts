import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
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
  it("messages, commands, escapes", () => {
    assert.deepStrictEqual(parse("hello"), { _tag: "Say", text: "hello" })
    assert.deepStrictEqual(parse("//etc/passwd"), { _tag: "Say", text: "/etc/passwd" })
    assert.deepStrictEqual(parse("   "), { _tag: "Empty" })
    assert.deepStrictEqual(parse("/nick alice_2"), { _tag: "Nick", name: "alice_2" })
    assert.deepStrictEqual(parse(" /join  den "), { _tag: "Say", text: " /join  den " })
    assert.deepStrictEqual(parse("/join den "), { _tag: "Join", room: "den" })
    assert.deepStrictEqual(parse("/JOIN #den"), { _tag: "Join", room: "den" })
    assert.deepStrictEqual(parse("/part"), { _tag: "Part", room: undefined })
    assert.deepStrictEqual(parse("/part den"), { _tag: "Part", room: "den" })
    assert.deepStrictEqual(parse("/msg bob  hi  there "), { _tag: "Msg", to: "bob", text: "hi  there" })
    assert.deepStrictEqual(parse("/me waves"), { _tag: "Me", text: "waves" })
    assert.deepStrictEqual(parse("/who"), { _tag: "Who", room: undefined })
    assert.deepStrictEqual(parse("/who den"), { _tag: "Who", room: "den" })
    assert.deepStrictEqual(parse("/rooms"), { _tag: "Rooms" })
    assert.deepStrictEqual(parse("/topic"), { _tag: "Topic", text: undefined })
    assert.deepStrictEqual(parse("/topic all about dens"), { _tag: "Topic", text: "all about dens" })
    assert.deepStrictEqual(parse("/help"), { _tag: "Help" })
    assert.deepStrictEqual(parse("/quit"), { _tag: "Quit", reason: undefined })
    assert.deepStrictEqual(parse("/quit gone fishing"), { _tag: "Quit", reason: "gone fishing" })
  })

  it("each bad command gets a reason naming what was wrong", () => {
    const bad = (line: string, text: string) => {
      const c = parse(line)
      assert.strictEqual(c._tag, "Invalid", line)
      assert.include((c as { reason: string }).reason, text, line)
    }
    bad("/nick", "missing argument: usage: /nick NAME")
    bad("/nick two words", "bad nick \"two words\"")
    bad(`/nick ${"n".repeat(25)}`, "bad nick")
    bad("/nick 9lives", "bad nick \"9lives\": a nick is a letter or _")
    bad("/join", "missing argument: usage: /join ROOM")
    bad("/join r@@m", "bad room \"r@@m\"")
    bad("/who r@@m", "bad room")
    bad("/msg", "missing argument: usage: /msg NICK text")
    bad("/msg bob", "missing argument: usage: /msg NICK text")
    bad("/msg b@b hi", "bad nick \"b@b\"")
    bad("/me", "missing argument: usage: /me text")
    bad("/bogus", "unknown command \"/bogus\"")
  })

  it("fuzz: any line gives a command and never throws; a message keeps its text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (line) => {
        const command = parse(line)
        if (command._tag === "Say" && !line.startsWith("/")) assert.strictEqual(command.text, line)
        if (command._tag === "Invalid") assert.isAbove(command.reason.length, 0)
      }),
      { numRuns: 2000 }
    )
    const commandish = fc.tuple(
      fc.constantFrom("/nick", "/join", "/part", "/msg", "/me", "/who", "/rooms", "/topic", "/help", "/quit", "/x", "//", "/"),
      fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("bob", "#den", "den", " ", "\t")), { maxLength: 4 })
    ).map(([c, args]) => [c, ...args].join(" "))
    fc.assert(fc.property(commandish, (line) => void parse(line)), { numRuns: 2000 })
  })
})

describe("LineReader (fuzz)", () => {
  it("any bytes in any chunking: never throws, never buffers more than the limit, and frames match the whole-input split", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(10, 13, 0xc3, 0xa9, 0xe2, 0x07, 0x41), fc.integer({ min: 0, max: 255 })), { maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        (raw, cuts) => {
          const input = new Uint8Array(raw)
          const whole = texts(new LineReader(32).push(input))
          const reader = new LineReader(32)
          const pieces: Array<string> = []
          let offset = 0
          let i = 0
          while (offset < input.length) {
            const size = cuts[i++ % cuts.length]!
            pieces.push(...texts(reader.push(input.subarray(offset, offset + size))))
            offset += size
            assert.isAtMost((reader as unknown as { size: number }).size, 33)
          }
          assert.deepStrictEqual(pieces, whole)
          for (const piece of whole) if (!piece.startsWith("!")) assert.isAtMost(new TextEncoder().encode(piece).length, 33)
        }
      ),
      { numRuns: 1000 }
    )
  })
})
