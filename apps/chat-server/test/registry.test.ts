import { assert, describe, it } from "@effect/vitest"
import type { ToHub } from "../src/messages.ts"
import { Registry } from "../src/registry.ts"

/** A registry whose deliveries are recorded per hub (endpoint). */
const make = (quietAbove = 50) => {
  const sent: Array<{ endpoint: number; message: ToHub }> = []
  const registry = new Registry({
    quietAbove,
    deliver: (endpoints, message) => {
      for (const endpoint of endpoints) sent.push({ endpoint, message })
    }
  })
  const take = () => sent.splice(0)
  const replies = (endpoint: number, c: number) =>
    sent.filter((s) => s.endpoint === endpoint && s.message.t === "r" && s.message.c === c).map((s) => (s.message as Extract<ToHub, { t: "r" }>).r)
  return { registry, sent, take, replies }
}

describe("Registry", () => {
  it("guests get unique nicks and start in lobby; plain users get no member list (no N² data)", () => {
    const { registry, replies } = make()
    registry.open(1, 1, "plain", undefined)
    registry.open(2, 1, "plain", undefined)
    const [a] = replies(1, 1)
    const [b] = replies(2, 1)
    assert.strictEqual(a!.r, "welcome")
    assert.strictEqual(b!.r, "welcome")
    const an = (a as { nick: string }).nick
    const bn = (b as { nick: string }).nick
    assert.notStrictEqual(an, bn)
    assert.deepStrictEqual((b as { joined: unknown }).joined, { r: "joined", room: "lobby", topic: "", members: 2, again: false, nicks: undefined })
    assert.strictEqual(registry.userCount, 2)
  })

  it("nicks are unique case-insensitively: of two claims the first wins, the second is refused naming it", () => {
    const { registry, replies, take } = make()
    registry.open(1, 1, "plain", undefined)
    registry.open(2, 1, "plain", undefined)
    take()
    registry.command(1, 1, { c: "nick", nick: "Alice" })
    registry.command(2, 1, { c: "nick", nick: "alice" })
    assert.deepStrictEqual(replies(1, 1).map((r) => r.r), ["renamed"])
    assert.deepStrictEqual(replies(2, 1), [{ r: "error", code: "nick-taken", arg: "alice", text: "nick alice is taken", quiet: false }])
    // IRC registration with a taken nick is refused, and the connection stays unregistered.
    registry.open(3, 1, "irc", "ALICE")
    assert.deepStrictEqual(replies(3, 1), [{ r: "refused", code: "nick-taken", nick: "ALICE", text: "nick ALICE is taken" }])
    assert.strictEqual(registry.nickOf(3, 1), undefined)
    // A case change of one's own nick is fine; a guest never gets a taken name.
    take()
    registry.command(1, 1, { c: "nick", nick: "ALICE" })
    assert.deepStrictEqual(replies(1, 1), [{ r: "renamed", old: "Alice", nick: "ALICE" }])
    registry.open(4, 1, "irc", "guest3")
    registry.open(4, 2, "plain", undefined)
    assert.notStrictEqual(registry.nickOf(4, 2), "guest3")
  })

  it("a room's events go only to the hubs with members in it, once per hub", () => {
    const { registry, take } = make()
    registry.open(1, 1, "plain", undefined)
    registry.open(1, 2, "plain", undefined)
    registry.open(2, 1, "plain", undefined)
    registry.open(3, 1, "plain", undefined)
    registry.command(1, 1, { c: "join", room: "den" })
    registry.command(2, 1, { c: "join", room: "Den" })
    take()
    registry.command(2, 1, { c: "say", room: "DEN", text: "hi", kind: "say" })
    const sent = take()
    assert.deepStrictEqual(sent.map((s) => s.endpoint).sort(), [1, 2])
    assert.deepStrictEqual(sent[0]!.message, { t: "room", k: "den", e: { e: "msg", room: "den", nick: registry.nickOf(2, 1)!, uid: 3, text: "hi", kind: "say" } })
    assert.strictEqual(registry.messages, 1)
  })

  it("several rooms per user; part; a message to a room you are not in is refused", () => {
    const { registry, replies, take } = make()
    registry.open(1, 1, "plain", undefined)
    registry.command(1, 1, { c: "join", room: "a" })
    registry.command(1, 1, { c: "join", room: "b" })
    assert.deepStrictEqual(registry.roomList().map((r) => [r.room, r.members]), [["a", 1], ["b", 1], ["lobby", 1]])
    take()
    registry.command(1, 1, { c: "join", room: "a" })
    assert.strictEqual((replies(1, 1)[0] as { again: boolean }).again, true)
    registry.command(1, 1, { c: "part", room: "a", reason: undefined })
    assert.deepStrictEqual(registry.roomList().map((r) => r.room), ["b", "lobby"], "an empty room goes away")
    take()
    registry.command(1, 1, { c: "say", room: "a", text: "x", kind: "say" })
    registry.command(1, 1, { c: "part", room: "a", reason: undefined })
    const gone = replies(1, 1).map((r) => r.r === "error" && r.code)
    registry.open(1, 2, "plain", undefined)
    take()
    registry.command(1, 2, { c: "say", room: "b", text: "x", kind: "say" })
    registry.command(1, 2, { c: "part", room: "b", reason: undefined })
    // A room that is gone is no such room (IRC: 403); one you are not in cannot take your line (404) or part (442).
    assert.deepStrictEqual(gone, ["no-such-room", "no-such-room"])
    assert.deepStrictEqual(replies(1, 2).map((r) => r.r === "error" && r.code), ["cannot-send", "not-in-room"])
  })

  it("the current room is the registry's: a line right after /join goes to the new room, /part falls back", () => {
    const { registry, sent, replies, take } = make()
    registry.open(1, 1, "plain", undefined)
    registry.command(1, 1, { c: "join", room: "den" })
    take()
    registry.command(1, 1, { c: "say", room: undefined, text: "here", kind: "say" })
    registry.command(1, 1, { c: "topic", room: undefined, text: "dens" })
    assert.deepStrictEqual(sent.map((s) => s.message.t === "room" && s.message.k), ["den", "den"])
    take()
    registry.command(1, 1, { c: "part", room: undefined, reason: undefined })
    registry.command(1, 1, { c: "part", room: undefined, reason: undefined })
    registry.command(1, 1, { c: "say", room: undefined, text: "anyone?", kind: "say" })
    assert.deepStrictEqual(replies(1, 1), [
      { r: "parted", room: "den", reason: undefined, current: "lobby" },
      { r: "parted", room: "lobby", reason: undefined, current: undefined },
      { r: "error", code: "not-in-room", arg: "", text: "you are in no room: /join ROOM first", quiet: false }
    ])
  })

  it("/msg goes to one user on its hub, the sender gets the echo; nobody by that name is an error", () => {
    const { registry, sent, replies, take } = make()
    registry.open(1, 1, "plain", undefined)
    registry.open(2, 7, "irc", "bob")
    take()
    registry.command(1, 1, { c: "msg", to: "BOB", text: "psst", notice: false })
    assert.deepStrictEqual(sent.filter((s) => s.message.t === "to"), [
      { endpoint: 2, message: { t: "to", cs: [7], e: { e: "pm", from: registry.nickOf(1, 1)!, text: "psst", notice: false } } }
    ])
    assert.deepStrictEqual(replies(1, 1), [{ r: "pm-echo", to: "bob", text: "psst", notice: false }])
    take()
    registry.command(1, 1, { c: "msg", to: "nobody", text: "hello?", notice: false })
    assert.deepStrictEqual(replies(1, 1), [{ r: "error", code: "no-such-nick", arg: "nobody", text: "no one is called nobody", quiet: false }])
  })

  it("quiet policy: joins, parts, quits and renames are announced only in rooms of at most quietAbove members", () => {
    const { registry, sent, take } = make(3)
    for (let c = 1; c <= 5; c++) registry.open(1, c, "plain", undefined)
    const joins = sent.filter((s) => s.message.t === "room" && s.message.e.e === "join")
    assert.strictEqual(joins.length, 2, "joins announced while the lobby had fewer than 3 members: N joins, not N² lines")
    take()
    registry.command(1, 5, { c: "nick", nick: "zed" })
    registry.close(1, 4, "left")
    assert.deepStrictEqual(sent.filter((s) => s.message.t !== "r"), [], "a big room stays quiet")
    registry.command(1, 1, { c: "join", room: "small" })
    registry.command(1, 2, { c: "join", room: "small" })
    take()
    registry.command(1, 2, { c: "nick", nick: "amy" })
    registry.close(1, 2, "left")
    assert.deepStrictEqual(sent.filter((s) => s.message.t !== "r").map((s) => s.message), [
      { t: "to", cs: [1], e: { e: "nick", old: "guest2", nick: "amy" } },
      { t: "to", cs: [1], e: { e: "quit", nick: "amy", reason: "left" } }
    ])
  })

  it("topic: shown, set by a member and announced; who lists members; a lost hub's users leave", () => {
    const { registry, replies, take } = make()
    registry.open(1, 1, "plain", undefined)
    registry.open(2, 1, "plain", undefined)
    take()
    registry.command(1, 1, { c: "topic", room: "lobby", text: "welcome all" })
    registry.command(2, 1, { c: "topic", room: "lobby", text: undefined })
    registry.command(2, 1, { c: "topic", room: "nowhere", text: undefined })
    registry.command(2, 1, { c: "who", room: "lobby", kind: "who" })
    const r2 = replies(2, 1)
    assert.deepStrictEqual(r2[0], { r: "topic", room: "lobby", topic: "welcome all", by: "guest1", at: (r2[0] as { at: number }).at })
    assert.strictEqual(r2[1]!.r === "error" && r2[1]!.code, "no-such-room")
    // The lobby is everyone's: no operator, no topic protection.
    assert.deepStrictEqual(r2[2], { r: "who", room: "lobby", exists: true, nicks: ["guest1", "guest2"], kind: "who" })
    registry.dropEndpoint(1, "left (server worker died)")
    assert.strictEqual(registry.userCount, 1)
    assert.deepStrictEqual(registry.roomList(), [{ room: "lobby", members: 1, topic: "welcome all" }])
  })
})

describe("Registry snapshots (a replica on another machine starts from one)", () => {
  it("a registry restored from a snapshot (through JSON) takes the same decisions as the original from then on", () => {
    const a = make()
    const b = make()
    // Users on two hubs, a room with a topic, modes, a ban, a voice, an invitation, an away, a rename.
    const script = (r: Registry) => {
      r.open(1, 1, "plain", undefined)
      r.open(2, 1, "irc", "ann", "ann", "Ann A")
      r.open(2, 2, "plain", undefined)
      r.command(1, 1, { c: "nick", nick: "bob" })
      r.command(1, 1, { c: "join", room: "den" })
      r.command(1, 1, { c: "topic", room: "den", text: "burrows" })
      r.command(2, 1, { c: "join", room: "den" })
      r.command(1, 1, { c: "mode", room: "den", modes: "+mib", args: ["troll!*@*"] })
      r.command(1, 1, { c: "mode", room: "den", modes: "+v", args: ["ann"] })
      r.command(1, 1, { c: "invite", nick: "guest2", room: "den" })
      r.command(2, 1, { c: "away", text: "lunch" })
    }
    script(a.registry)
    script(b.registry)
    const restored = make()
    restored.registry.restore(JSON.parse(JSON.stringify(b.registry.snapshot())))
    a.take()
    restored.take()
    // The same commands, to the original and to the restored copy: the same answers and events.
    const after = (r: Registry) => {
      r.command(2, 2, { c: "nick", nick: "BOB" }) // taken
      r.command(2, 2, { c: "say", room: "den", text: "not a member", kind: "say" }) // +n
      r.command(2, 2, { c: "join", room: "den" }) // invited
      r.command(2, 2, { c: "say", room: "den", text: "moderated", kind: "say" }) // +m: no voice
      r.command(2, 1, { c: "say", room: "den", text: "voiced", kind: "say" })
      r.command(1, 1, { c: "who", room: "den", kind: "who" })
      r.command(2, 1, { c: "whois", nick: "bob" })
      r.command(1, 1, { c: "msg", to: "ann", text: "hi", notice: false }) // away
      r.command(1, 1, { c: "rooms" })
      r.command(1, 1, { c: "mode", room: "den", modes: "b", args: [] })
      r.open(3, 1, "plain", undefined) // the next guest number
      r.dropEndpoint(2, "gone")
      r.command(1, 1, { c: "who", room: "den", kind: "who" })
      r.command(3, 1, { c: "whowas", nick: "ann", count: 1 })
    }
    after(a.registry)
    after(restored.registry)
    const strip = (sent: Array<{ endpoint: number; message: ToHub }>) => JSON.stringify(sent).replace(/"(signon|active|at)":\d+/g, "")
    const original = strip(a.take())
    assert.strictEqual(strip(restored.take()), original)
    for (const mark of ["nick-taken", "cannot-send", "\"voiced\"", "troll!*@*", "lunch", "guest3"]) assert.include(original, mark)
    assert.strictEqual(restored.registry.userCount, a.registry.userCount)
    assert.deepStrictEqual(restored.registry.roomList(), a.registry.roomList())
  })
})
