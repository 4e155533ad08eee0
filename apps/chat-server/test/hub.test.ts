import { afterEach, assert, beforeEach, describe, it, vi } from "@effect/vitest"
import { Hub, type Transport } from "../src/hub.ts"
import * as Irc from "../src/irc.ts"
import type { FromHub } from "../src/messages.ts"
import * as Plain from "../src/plain.ts"

interface FakeTransport extends Transport {
  readonly writes: Array<Uint8Array>
  readonly text: () => string
  ended: boolean
  destroyed: boolean
  pending: number
}

const fake = (): FakeTransport => {
  const t: FakeTransport = {
    writes: [],
    text: () => t.writes.map((w) => new TextDecoder().decode(w)).join(""),
    ended: false,
    destroyed: false,
    pending: 0,
    write: (data) => void t.writes.push(data),
    backlog: () => t.pending,
    end: () => void (t.ended = true),
    destroy: () => void (t.destroyed = true)
  }
  return t
}

const bytes = (s: string) => new TextEncoder().encode(s)
/** Runs the pending setImmediate flush. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

const make = (flood = { burst: 100, rate: 100, maxQueued: 64 * 1024 }, idleMs = 60_000) => {
  const sent: Array<FromHub> = []
  const hub = new Hub({
    handlers: { plain: Plain.make(100), web: Plain.make(100), irc: Irc.make() },
    flood,
    maxBacklog: 1000,
    idleMs,
    send: (m) => void sent.push(m),
    where: "test hub"
  })
  /** A plain connection, welcomed as `nick` into lobby. */
  const plain = (nick: string, uid: number) => {
    const t = fake()
    const conn = hub.open("plain", t)
    hub.receive({ t: "r", c: conn.session.id, r: { r: "welcome", nick, uid, joined: { r: "joined", room: "lobby", topic: "", members: 1, again: false, nicks: undefined } } })
    return { t, conn, id: conn.session.id }
  }
  return { hub, sent, plain }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] })
})
afterEach(() => {
  vi.useRealTimers()
})

describe("Hub", () => {
  it("write coalescing: every line for one connection in one turn goes out in one write", async () => {
    const { hub, plain } = make()
    const a = plain("ann", 1)
    await turn()
    a.t.writes.length = 0
    for (let i = 0; i < 5; i++) hub.receive({ t: "room", k: "lobby", e: { e: "msg", room: "lobby", nick: "bob", uid: 2, text: `m${i}`, kind: "say" } })
    assert.strictEqual(a.t.writes.length, 0, "nothing written before the turn ends")
    await turn()
    assert.strictEqual(a.t.writes.length, 1)
    assert.strictEqual(a.t.text(), [0, 1, 2, 3, 4].map((i) => `[lobby] bob: m${i}\n`).join(""))
  })

  it("serializes a room line once: every member gets the same bytes", async () => {
    const { hub, plain } = make()
    const members = [plain("a", 1), plain("b", 2), plain("c", 3)]
    await turn()
    for (const m of members) m.t.writes.length = 0
    hub.receive({ t: "room", k: "lobby", e: { e: "msg", room: "lobby", nick: "a", uid: 1, text: "once", kind: "say" } })
    await turn()
    const written = members.map((m) => m.t.writes[0]!)
    assert.strictEqual(written[0], written[1])
    assert.strictEqual(written[1], written[2])
    assert.strictEqual(new TextDecoder().decode(written[0]), "[lobby] a: once\n")
  })

  it("flood control: past the burst, lines are paced at the rate, delayed and never dropped", async () => {
    const { hub, sent, plain } = make({ burst: 3, rate: 10, maxQueued: 64 * 1024 })
    const a = plain("ann", 1)
    sent.length = 0
    a.conn.push(bytes(Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join("")))
    const said = () => sent.filter((m) => m.t === "cmd").map((m) => (m as { cmd: { text: string } }).cmd.text)
    assert.deepStrictEqual(said(), ["line 0", "line 1", "line 2"])
    assert.strictEqual(hub.floodDelayed, 7)
    vi.advanceTimersByTime(100)
    assert.deepStrictEqual(said().length, 4)
    vi.advanceTimersByTime(250)
    assert.deepStrictEqual(said().length, 6)
    vi.advanceTimersByTime(1_000)
    assert.deepStrictEqual(said(), Array.from({ length: 10 }, (_, i) => `line ${i}`), "all of them, in order")
    assert.isFalse(a.t.ended)
  })

  it("flood control: unprocessed input past the hard bound disconnects with a notice saying why", async () => {
    const { hub, plain } = make({ burst: 1, rate: 1, maxQueued: 200 })
    const a = plain("ann", 1)
    a.conn.push(bytes(`${"x".repeat(50)}\n`.repeat(6)))
    assert.isTrue(a.t.ended)
    assert.include(a.t.text(), "* flooding: over 200 bytes of input waiting to be processed; disconnecting\n")
    assert.strictEqual(hub.floodKicked, 1)
  })

  it("a client that stops reading is cut at the output bound; the others carry on", async () => {
    const { hub, plain } = make()
    const slow = plain("slow", 1)
    const ok = plain("ok", 2)
    await turn()
    slow.t.pending = 990
    hub.receive({ t: "room", k: "lobby", e: { e: "msg", room: "lobby", nick: "ok", uid: 2, text: "x".repeat(20), kind: "say" } })
    assert.isTrue(slow.t.destroyed)
    assert.strictEqual(hub.droppedSlow, 1)
    await turn()
    assert.include(ok.t.text(), `[lobby] ok: ${"x".repeat(20)}`)
  })

  it("bad input: one error line each, and the connection stays usable", async () => {
    const { sent, plain } = make()
    const a = plain("ann", 1)
    sent.length = 0
    a.conn.push(new Uint8Array([...bytes("a".repeat(150)), 10, 0xff, 10, 7, 10, ...bytes("/nope\nfine\n")]))
    await turn()
    const errors = a.t.text().split("\n").filter((l) => l.startsWith("! error: "))
    assert.deepStrictEqual(errors.map((e) => e.slice(9, 30)), ["line too long: over 1", "malformed line: not v", "malformed line: contr", "unknown command \"/nop"])
    assert.deepStrictEqual(sent.filter((m) => m.t === "cmd").map((m) => (m as { cmd: { text: string } }).cmd.text), ["fine"])
    assert.isFalse(a.t.ended)
  })

  it("per-connection order: a local answer goes straight out when nothing is in flight, else round through the registry behind it", async () => {
    const { hub, sent } = make()
    const t = fake()
    const conn = hub.open("irc", t)
    const id = conn.session.id
    conn.push(bytes("NICK ann\r\nUSER ann 0 * :Ann\r\nFROB\r\n"))
    // FROB waits for the registration.
    assert.deepStrictEqual(sent.map((m) => m.t), ["open"])
    hub.receive({ t: "r", c: id, r: { r: "welcome", nick: "ann", uid: 1, joined: undefined } })
    await turn()
    assert.include(t.text(), ":weft.chat 421 ann FROB :Unknown command\r\n", "nothing in flight: answered at once")
    sent.length = 0
    t.writes.length = 0
    conn.push(bytes("JOIN #den\r\nFROB\r\n"))
    await turn()
    assert.strictEqual(t.text(), "", "held behind the JOIN")
    assert.deepStrictEqual(sent.map((m) => m.t === "cmd" && m.cmd.c), ["join", "echo"])
    const echo = (sent[1] as unknown as { cmd: { seq: number; lines: Array<string> } }).cmd
    hub.receive({ t: "r", c: id, r: { r: "joined", room: "den", topic: "", members: 1, again: false, nicks: ["@ann"] } })
    hub.receive({ t: "r", c: id, r: { r: "echo", seq: echo.seq, lines: echo.lines } })
    await turn()
    const lines = t.text().split("\r\n")
    assert.strictEqual(lines[0], ":ann!ann@weft JOIN #den")
    assert.strictEqual(lines.at(-2), ":weft.chat 421 ann FROB :Unknown command")
    hub.shutdown("done")
  })

  it("dead peers: a silent IRC client is pinged, then dropped when it does not answer", async () => {
    const { hub } = make(undefined, 1_000)
    const t = fake()
    const conn = hub.open("irc", t)
    conn.push(bytes("NICK ann\r\nUSER ann 0 * :Ann\r\n"))
    hub.receive({ t: "r", c: conn.session.id, r: { r: "welcome", nick: "ann", uid: 1, joined: undefined } })
    vi.advanceTimersByTime(1_300)
    await turn()
    assert.include(t.text(), "PING :weft.chat\r\n")
    conn.push(bytes("PONG :weft.chat\r\n"))
    vi.advanceTimersByTime(1_300)
    await turn()
    assert.isFalse(t.ended, "an answer counts as alive")
    vi.advanceTimersByTime(2_600)
    await turn()
    assert.isTrue(t.ended)
    assert.include(t.text(), "ERROR :Closing Link: ann (ping timeout: no answer in 1 s)\r\n")
    hub.shutdown("done")
  })
})
