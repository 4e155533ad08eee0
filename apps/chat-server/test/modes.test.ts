/**
 * Channel operators, modes, KICK, INVITE and the user commands (WHOIS, AWAY,
 * OPER, ...) in the registry itself: what every protocol gets, since the
 * registry holds them for all.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Command, Info, Reply, ToHub } from "../src/messages.ts"
import { Registry } from "../src/registry.ts"

/** A registry with IRC users `ann` (conn 1), `bob` (2), `cat` (3) on hub 1, and what each got. */
const make = () => {
  const sent: Array<ToHub> = []
  const registry = new Registry({ quietAbove: 50, serverName: "irc.test", deliver: (_endpoints, message) => void sent.push(message) })
  const conns: Record<string, number> = { ann: 1, bob: 2, cat: 3 }
  for (const [nick, c] of Object.entries(conns)) registry.open(1, c, "irc", nick, `u${nick}`, `Real ${nick}`)
  sent.length = 0
  const run = (nick: string, cmd: Command) => registry.command(1, conns[nick]!, cmd)
  /** Replies to `nick` since the last call, and clears everything. */
  const replies = (nick: string): Array<Reply> => {
    const mine = sent.filter((m) => m.t === "r" && m.c === conns[nick]).map((m) => (m as Extract<ToHub, { t: "r" }>).r)
    sent.length = 0
    return mine
  }
  const errors = (nick: string) => replies(nick).filter((r) => r.r === "error").map((r) => (r as { code: string }).code)
  const numerics = (nick: string) => replies(nick).flatMap((r) => (r.r === "info" ? r.lines.map((l: Info) => [l.n, ...l.p].join(" ")) : []))
  /** Room events delivered since the last call (rendered as `kind text`), and clears everything. */
  const events = () => {
    const out = sent.filter((m) => m.t === "room" || m.t === "to").map((m) => (m as unknown as { e: Record<string, unknown> }).e)
    sent.length = 0
    return out
  }
  return { registry, run, replies, errors, numerics, events, sent }
}

describe("channel operators and modes", () => {
  it("the maker of a room is its operator (@ in NAMES); +o and +v change prefixes; 401, 441, 482 refuse", () => {
    const { run, replies, errors, events } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    replies("ann")
    run("ann", { c: "who", room: "den", kind: "names" })
    assert.deepStrictEqual((replies("ann")[0] as unknown as { nicks: Array<string> }).nicks, ["@ann", "bob"])
    run("bob", { c: "mode", room: "den", modes: "+o", args: ["bob"] })
    assert.deepStrictEqual(errors("bob"), ["not-op"])
    run("ann", { c: "mode", room: "den", modes: "+ov", args: ["bob", "bob"] })
    assert.deepStrictEqual(events(), [{ e: "mode", room: "den", nick: "ann", modes: "+ov bob bob" }])
    run("ann", { c: "mode", room: "den", modes: "+o", args: ["nobody"] })
    assert.deepStrictEqual(errors("ann"), ["no-such-nick"])
    run("ann", { c: "mode", room: "den", modes: "+o", args: ["cat"] })
    assert.deepStrictEqual(replies("ann"), [{ r: "error", code: "not-there", arg: "cat", text: "cat is not in den", quiet: false, args: ["cat", "#den"] }])
    run("ann", { c: "mode", room: "den", modes: "-o+x", args: ["bob"] })
    assert.deepStrictEqual(errors("ann"), ["unknown-mode"])
    run("ann", { c: "who", room: "den", kind: "names" })
    assert.deepStrictEqual((replies("ann")[0] as unknown as { nicks: Array<string> }).nicks, ["@ann", "+bob"])
  })

  it("MODE #room shows the modes (324) and when it was made (329); +k shows its key to members only", () => {
    const { run, numerics } = make()
    run("ann", { c: "join", room: "den" })
    run("ann", { c: "mode", room: "den", modes: "+kl", args: ["sesame", "5"] })
    numerics("ann")
    run("ann", { c: "mode", room: "den", modes: undefined, args: [] })
    const [modes, created] = numerics("ann")
    assert.strictEqual(modes, "324 #den +ntkl sesame 5")
    assert.match(created!, /^329 #den \d+$/)
    run("bob", { c: "mode", room: "den", modes: undefined, args: [] })
    assert.strictEqual(numerics("bob")[0], "324 #den +ntkl * 5")
  })

  it("+t: only operators set the topic; -t: any member; +n: no lines from outside, -n: they come in", () => {
    const { run, errors, events } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    events()
    run("bob", { c: "topic", room: "den", text: "mine" })
    assert.deepStrictEqual(errors("bob"), ["not-op"])
    run("ann", { c: "mode", room: "den", modes: "-tn", args: [] })
    run("bob", { c: "topic", room: "den", text: "mine" })
    assert.deepStrictEqual(events().at(-1), { e: "topic", room: "den", nick: "bob", topic: "mine" })
    run("cat", { c: "say", room: "den", text: "from outside", kind: "say" })
    assert.strictEqual((events()[0] as { text: string }).text, "from outside")
    run("ann", { c: "mode", room: "den", modes: "+n", args: [] })
    events()
    run("cat", { c: "say", room: "den", text: "again", kind: "say" })
    assert.deepStrictEqual(errors("cat"), ["cannot-send"])
  })

  it("+m: only operators and voiced members speak (404 for the rest)", () => {
    const { run, errors, events } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    run("ann", { c: "mode", room: "den", modes: "+m", args: [] })
    events()
    run("bob", { c: "say", room: "den", text: "hi", kind: "say" })
    assert.deepStrictEqual(errors("bob"), ["cannot-send"])
    run("ann", { c: "mode", room: "den", modes: "+v", args: ["bob"] })
    events()
    run("bob", { c: "say", room: "den", text: "hi", kind: "say" })
    assert.strictEqual(events().length, 1)
  })

  it("+i: invite only (473) until INVITE (341, the invitee told); 443 for a member; invite needs op under +i", () => {
    const { run, errors, numerics, replies, events } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    run("ann", { c: "mode", room: "den", modes: "+i", args: [] })
    events()
    run("cat", { c: "join", room: "den" })
    assert.deepStrictEqual(errors("cat"), ["invite-only"])
    run("bob", { c: "invite", nick: "cat", room: "den" })
    assert.deepStrictEqual(errors("bob"), ["not-op"])
    run("ann", { c: "invite", nick: "bob", room: "den" })
    assert.deepStrictEqual(errors("ann"), ["already-there"])
    run("ann", { c: "invite", nick: "cat", room: "den" })
    const invited = events()
    assert.deepStrictEqual(invited, [{ e: "invite", from: "ann", to: "cat", room: "den" }])
    run("ann", { c: "invite", nick: "cat", room: "den" })
    assert.deepStrictEqual(numerics("ann"), ["341 cat #den"])
    run("cat", { c: "invites" })
    assert.deepStrictEqual(numerics("cat"), ["336 #den", "337 End of /INVITE list"])
    run("cat", { c: "join", room: "den" })
    assert.strictEqual(replies("cat")[0]!.r, "joined")
  })

  it("+k: the key or 475; +l: full at the limit (471) unless invited; bad limits are ignored", () => {
    const { run, errors, replies, events } = make()
    run("ann", { c: "join", room: "den" })
    run("ann", { c: "mode", room: "den", modes: "+k", args: ["sesame"] })
    run("ann", { c: "mode", room: "den", modes: "+l", args: ["0"] })
    run("ann", { c: "mode", room: "den", modes: "+l", args: ["-1"] })
    run("ann", { c: "mode", room: "den", modes: "+l", args: ["x"] })
    assert.deepStrictEqual(events(), [{ e: "mode", room: "den", nick: "ann", modes: "+k sesame" }])
    run("bob", { c: "join", room: "den" })
    assert.deepStrictEqual(errors("bob"), ["bad-key"])
    run("bob", { c: "join", room: "den", key: "sesame" })
    assert.strictEqual(replies("bob")[0]!.r, "joined")
    run("ann", { c: "mode", room: "den", modes: "-k+l", args: ["*", "2"] })
    assert.deepStrictEqual(events().at(-1), { e: "mode", room: "den", nick: "ann", modes: "-k+l * 2" })
    run("cat", { c: "join", room: "den" })
    assert.deepStrictEqual(errors("cat"), ["room-full"])
    run("ann", { c: "invite", nick: "cat", room: "den" })
    run("cat", { c: "join", room: "den" })
    assert.strictEqual(replies("cat")[0]!.r, "joined")
  })

  it("+b: a banned user cannot join (474) or speak; the ban list (367/368); -b lifts it; a bare nick is nick!*@*", () => {
    const { run, errors, numerics, replies, events } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    events()
    run("ann", { c: "mode", room: "den", modes: "+b", args: ["cat"] })
    run("ann", { c: "mode", room: "den", modes: "+b", args: ["*!ubob@*"] })
    assert.deepStrictEqual(events().map((e) => (e as { modes: string }).modes), ["+b cat!*@*", "+b *!ubob@*"])
    run("cat", { c: "join", room: "den" })
    assert.deepStrictEqual(errors("cat"), ["banned"])
    run("bob", { c: "say", room: "den", text: "hi", kind: "say" })
    assert.deepStrictEqual(errors("bob"), ["cannot-send"])
    run("bob", { c: "mode", room: "den", modes: "+b", args: [] })
    const list = numerics("bob")
    assert.strictEqual(list.length, 3)
    assert.match(list[0]!, /^367 #den cat!\*@\* ann \d+$/)
    assert.strictEqual(list[2], "368 #den End of channel ban list")
    run("ann", { c: "mode", room: "den", modes: "-b", args: ["cat!*@*"] })
    run("cat", { c: "join", room: "den" })
    assert.strictEqual(replies("cat")[0]!.r, "joined")
  })

  it("+e lets a banned mask in and speak; +I lets a mask into a +i room; their lists (348/349, 346/347)", () => {
    const { run, errors, numerics, replies, events } = make()
    run("ann", { c: "join", room: "den" })
    run("ann", { c: "mode", room: "den", modes: "+bie", args: ["*!*@*", "bob"] })
    assert.deepStrictEqual(events().map((e) => e.modes), ["+bie *!*@* bob!*@*"])
    run("cat", { c: "join", room: "den" })
    assert.deepStrictEqual(errors("cat"), ["banned"])
    run("bob", { c: "join", room: "den" })
    assert.deepStrictEqual(errors("bob"), ["invite-only"])
    run("ann", { c: "mode", room: "den", modes: "+I", args: ["bob"] })
    run("bob", { c: "join", room: "den" })
    assert.strictEqual(replies("bob")[0]!.r, "joined")
    run("ann", { c: "mode", room: "den", modes: "-i", args: [] })
    events()
    run("bob", { c: "say", room: "den", text: "hi", kind: "say" })
    assert.strictEqual(events().length, 1, "excepted from the ban: may speak")
    run("ann", { c: "mode", room: "den", modes: "eI", args: [] })
    const lists = numerics("ann")
    assert.deepStrictEqual(lists.map((l) => l.slice(0, 3)), ["348", "349", "346", "347"])
    assert.match(lists[0]!, /^348 #den bob!\*@\* ann \d+$/)
  })

  it("STATUSMSG: a line for @ reaches the operators only; for + the voices too", () => {
    const { run, sent, events } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    run("cat", { c: "join", room: "den" })
    run("ann", { c: "mode", room: "den", modes: "+v", args: ["bob"] })
    events()
    run("cat", { c: "say", room: "den", text: "ops?", kind: "say", status: "@" })
    assert.deepStrictEqual(sent.splice(0), [{ t: "to", cs: [1], e: { e: "msg", room: "den", nick: "cat", uid: 3, text: "ops?", kind: "say", status: "@" } }])
    run("cat", { c: "say", room: "den", text: "ops and voices?", kind: "say", status: "+" })
    assert.deepStrictEqual(sent.splice(0).map((m) => m.t === "to" && m.cs), [[1, 2]])
  })

  it("+s: the room is hidden from LIST, NAMES and WHO of non-members", () => {
    const { run, replies } = make()
    run("ann", { c: "join", room: "den" })
    run("ann", { c: "mode", room: "den", modes: "+s", args: [] })
    run("bob", { c: "rooms" })
    assert.deepStrictEqual((replies("bob")[0] as unknown as { rooms: Array<unknown> }).rooms, [])
    run("bob", { c: "who", room: "den", kind: "names" })
    assert.deepStrictEqual(replies("bob")[0], { r: "who", room: "den", exists: false, nicks: [], kind: "names", users: undefined, secret: true })
    run("ann", { c: "rooms" })
    assert.strictEqual((replies("ann")[0] as unknown as { rooms: Array<unknown> }).rooms.length, 1)
  })

  it("KICK: the target is told first and leaves, then the room; 482 for non-operators, 441 for non-members, default reason the kicker", () => {
    const { run, errors, replies, sent } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    run("bob", { c: "kick", room: "den", nick: "ann", reason: "mutiny" })
    assert.deepStrictEqual(errors("bob"), ["not-op"])
    run("ann", { c: "kick", room: "den", nick: "cat", reason: undefined })
    assert.deepStrictEqual(errors("ann"), ["not-there"])
    run("ann", { c: "kick", room: "den", nick: "bob", reason: undefined })
    assert.deepStrictEqual(sent.slice(0, 2), [
      { t: "r", c: 2, r: { r: "kicked", room: "den", by: "ann", reason: "ann", current: undefined } },
      { t: "room", k: "den", e: { e: "kick", room: "den", nick: "ann", target: "bob", reason: "ann" } }
    ])
    replies("ann")
    run("ann", { c: "who", room: "den", kind: "names" })
    assert.deepStrictEqual((replies("ann")[0] as unknown as { nicks: Array<string> }).nicks, ["@ann"])
  })

  it("a kick reason, topic and away message are cut to KICKLEN, TOPICLEN and AWAYLEN", () => {
    const { run, events, numerics } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    events()
    run("ann", { c: "topic", room: "den", text: "t".repeat(1000) })
    assert.strictEqual((events()[0] as { topic: string }).topic.length, 390)
    run("ann", { c: "kick", room: "den", nick: "bob", reason: "k".repeat(1000) })
    assert.strictEqual((events()[0] as { reason: string }).reason.length, 255)
    run("ann", { c: "away", text: "a".repeat(1000) })
    run("bob", { c: "whois", nick: "ann" })
    const away = numerics("bob").find((l) => l.startsWith("301 "))!
    assert.strictEqual(away.length, "301 ann ".length + 200)
  })
})

describe("user commands", () => {
  it("AWAY (306, 305); a private message to an away user answers 301; WHOIS shows it all (311 319 312 301 317 318)", () => {
    const { run, numerics, replies } = make()
    run("ann", { c: "join", room: "den" })
    run("ann", { c: "away", text: "lunch" })
    assert.deepStrictEqual(numerics("ann"), ["306 You have been marked as being away"])
    run("bob", { c: "msg", to: "ann", text: "hi", notice: false })
    assert.deepStrictEqual(numerics("bob"), ["301 ann lunch"])
    run("bob", { c: "whois", nick: "ANN" })
    const lines = numerics("bob")
    assert.deepStrictEqual(lines.map((l) => l.slice(0, 3)), ["311", "319", "312", "301", "317", "318"])
    assert.strictEqual(lines[0], "311 ann uann weft * Real ann")
    assert.strictEqual(lines[1], "319 ann @#den")
    assert.strictEqual(lines[2], "312 ann irc.test weft chat")
    run("bob", { c: "whois", nick: "nobody" })
    assert.deepStrictEqual(replies("bob").map((r) => (r.r === "error" ? r.code : r.r === "info" ? r.lines[0]!.n : r.r)), ["no-such-nick", "318"])
    run("ann", { c: "away", text: undefined })
    assert.deepStrictEqual(numerics("ann"), ["305 You are no longer marked as being away"])
  })

  it("WHOWAS (314 312 369, 406), USERHOST (302), ISON (303), LUSERS (251 252 254 255)", () => {
    const { registry, run, numerics, replies } = make()
    run("cat", { c: "quit", reason: undefined })
    run("ann", { c: "whowas", nick: "cat", count: 0 })
    const was = numerics("ann")
    assert.deepStrictEqual(was.map((l) => l.slice(0, 3)), ["314", "312", "369"])
    assert.strictEqual(was[0], "314 cat ucat weft * Real cat")
    run("ann", { c: "whowas", nick: "nobody", count: 0 })
    assert.deepStrictEqual(replies("ann").map((r) => (r.r === "error" ? r.code : r.r)), ["was-no-such-nick", "info"])
    run("ann", { c: "away", text: "out" })
    run("bob", { c: "userhost", nicks: ["ann", "bob", "cat"] })
    assert.deepStrictEqual(numerics("bob"), ["302 ann=-uann@weft bob=+ubob@weft"])
    run("bob", { c: "ison", nicks: ["ANN", "cat", "bob"] })
    assert.deepStrictEqual(numerics("bob"), ["303 ann bob"])
    run("bob", { c: "lusers" })
    const lusers = numerics("bob")
    assert.strictEqual(lusers[0], "251 There are 2 users and 0 invisible on 1 servers")
    assert.include(lusers, "254 0 channels formed")
    assert.strictEqual(registry.userCount, 2)
  })

  it("user modes: +i hides from WHO masks (not from an exact nick), 502 for someone else's, 221 shows them", () => {
    const { run, replies, errors, numerics } = make()
    run("ann", { c: "umode", nick: "ann", modes: "+i" })
    assert.deepStrictEqual(replies("ann"), [{ r: "umode", modes: "+i" }])
    run("bob", { c: "whomask", mask: "a*", opers: false })
    assert.deepStrictEqual((replies("bob")[0] as unknown as { users: Array<unknown> }).users, [])
    run("bob", { c: "whomask", mask: "ann", opers: false })
    assert.strictEqual((replies("bob")[0] as unknown as { users: Array<unknown> }).users.length, 1)
    run("bob", { c: "umode", nick: "ann", modes: "+i" })
    assert.deepStrictEqual(errors("bob"), ["users-dont-match"])
    run("ann", { c: "umode", nick: "ann", modes: undefined })
    assert.deepStrictEqual(numerics("ann"), ["221 +i"])
  })

  it("server operators: KILL and WALLOPS need OPER (481); an operator may kick anywhere; KILL disconnects with a reason", () => {
    const { run, errors, replies, sent } = make()
    run("ann", { c: "join", room: "den" })
    run("bob", { c: "join", room: "den" })
    run("cat", { c: "kill", nick: "bob", reason: "bye" })
    run("cat", { c: "wallops", text: "hear me" })
    assert.deepStrictEqual(errors("cat"), ["not-oper", "not-oper"])
    run("cat", { c: "oper", name: "root" })
    assert.deepStrictEqual(replies("cat").map((r) => r.r), ["info", "umode"])
    run("cat", { c: "kick", room: "den", nick: "bob", reason: "oper" })
    assert.strictEqual(replies("bob")[0]!.r, "kicked")
    run("cat", { c: "wallops", text: "hear me" })
    assert.deepStrictEqual(sent.map((m) => m.t === "to" && m.e), [{ e: "wallops", from: "cat", text: "hear me" }])
    sent.length = 0
    run("cat", { c: "kill", nick: "ann", reason: "bye" })
    assert.deepStrictEqual(replies("ann"), [{ r: "killed", by: "cat", reason: "Killed (cat (bye))" }])
    run("ann", { c: "lusers" })
    assert.deepStrictEqual(replies("ann"), [], "gone")
  })
})
