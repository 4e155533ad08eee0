import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { Effect } from "effect"
import { MAX_LINE, parseMessage, splitBytes } from "../src/irc.ts"
import { hashPassword } from "../src/oper.ts"
import { connect, connectIrc, connectRaw, type RawClient, startServer } from "./helpers.ts"

const bytes = (s: string) => new TextEncoder().encode(s).length

describe("IRC parsing", () => {
  it("parses prefix, command, middle and trailing parameters; tags are skipped", () => {
    assert.deepStrictEqual(parseMessage("PRIVMSG #den :hello there"), { command: "PRIVMSG", params: ["#den", "hello there"] })
    assert.deepStrictEqual(parseMessage(":ann!a@h privmsg bob ::-)"), { command: "PRIVMSG", params: ["bob", ":-)"] })
    assert.deepStrictEqual(parseMessage("@time=x :p USER a 0 *  :Real Name"), { command: "USER", params: ["a", "0", "*", "Real Name"] })
    assert.deepStrictEqual(parseMessage("PING"), { command: "PING", params: [] })
    assert.strictEqual(parseMessage("   "), undefined)
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), (line) => void parseMessage(line)), { numRuns: 2000 })
  })

  it("splitBytes: pieces within the limit, never inside a character, joining back to the text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), fc.integer({ min: 4, max: 50 }), (text, max) => {
        const pieces = splitBytes(text, max)
        assert.strictEqual(pieces.join(""), text)
        for (const p of pieces) assert.isAtMost(bytes(p), max)
      }),
      { numRuns: 1000 }
    )
  })
})

/** The numeric lines with `code`. */
const numeric = (code: string) => (l: string) => l.startsWith(`:weft.chat ${code} `)

describe("IRC listener (--irc-port): the same users and rooms as nc", () => {
  it.live("registration: CAP, 451 before it, 431/432/433, then 001-005 and the MOTD; every server line has the :weft.chat prefix", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "2"])
      const nc = yield* connect(server.port)
      yield* nc.write("/nick Taken\n")
      yield* nc.waitFor((l) => l === "* you are now Taken")
      const irc = yield* connectRaw(server.ircPort)
      yield* irc.write("CAP LS 302\r\nJOIN #lobby\r\nPING :early\r\nNICK\r\nNICK 9lives\r\nNICK taken\r\nUSER ann 0 * :Ann\r\nCAP END\r\n")
      yield* irc.waitFor(numeric("433"))
      yield* irc.write("CAP REQ :sasl\r\nNICK ann\r\nCAP END\r\nJOIN #lobby\r\n")
      yield* irc.waitFor(numeric("376"))
      const lines = irc.lines()
      const expect = [
        ":weft.chat CAP * LS :multi-prefix",
        ":weft.chat 451 * :You have not registered",
        ":weft.chat PONG weft.chat :early",
        ":weft.chat 431 * :No nickname given",
        ":weft.chat 432 * 9lives :Erroneous nickname",
        ":weft.chat 433 * taken :Nickname is already in use",
        ":weft.chat CAP * NAK :sasl",
        ":weft.chat 001 ann :Welcome to the weft chat, ann"
      ]
      assert.deepStrictEqual(lines.slice(0, expect.length), expect)
      for (const code of ["002", "003", "004", "005", "375", "372", "376"]) assert.isTrue(lines.some(numeric(code)), code)
      yield* irc.waitFor((l) => l === ":ann!ann@weft JOIN #lobby")
      // IRC users are not put in a room: this one joined #lobby itself (the lobby has no operator).
      yield* irc.waitFor((l) => l === ":weft.chat 353 ann = #lobby :Taken ann")
      for (const line of irc.lines()) assert.match(line, /^:(weft\.chat |ann!ann@weft )/, line)
    })))

  it.live("an IRC user in #lobby and an nc user in lobby see each other: messages, actions, notices, private messages, both ways", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "2"])
      const nc = yield* connect(server.port)
      yield* nc.write("/nick bob\n")
      yield* nc.waitFor((l) => l === "* you are now bob")
      const irc = yield* connectIrc(server.ircPort, "ann")
      yield* nc.waitFor((l) => l === "* ann joined lobby")
      yield* nc.write("hi ann\n/me waves\n/msg ann a secret\n")
      yield* irc.waitFor((l) => l === ":bob!bob@weft PRIVMSG #lobby :hi ann")
      yield* irc.waitFor((l) => l === ":bob!bob@weft PRIVMSG #lobby :\x01ACTION waves\x01")
      yield* irc.waitFor((l) => l === ":bob!bob@weft PRIVMSG ann :a secret")
      yield* irc.write("PRIVMSG #lobby :hi bob\r\nPRIVMSG #lobby :\x01ACTION \x02grins\x02\x01\r\nNOTICE #lobby :fyi\r\nPRIVMSG Bob :psst\r\n")
      yield* nc.waitFor((l) => l === "[lobby] ann: hi bob")
      yield* nc.waitFor((l) => l === "* ann grins")
      yield* nc.waitFor((l) => l === "[lobby] -ann- fyi")
      yield* nc.waitFor((l) => l === "[pm] ann: psst")
      // An IRC client shows its own messages itself: none come back.
      assert.deepStrictEqual(irc.lines().filter((l) => l.startsWith(":ann!ann@weft PRIVMSG")), [])
      // Rooms: JOIN a new one, the nc user joins it too, NAMES, WHO, LIST, TOPIC.
      yield* irc.write("JOIN #den\r\n")
      yield* irc.waitFor((l) => l === ":ann!ann@weft JOIN #den")
      yield* nc.write("/join den\n")
      yield* irc.waitFor((l) => l === ":bob!bob@weft JOIN #den")
      yield* irc.write("TOPIC #den :all about dens\r\nNAMES #den\r\nWHO #den\r\nLIST\r\n")
      yield* nc.waitFor((l) => l === "* ann set the topic of den: all about dens")
      yield* irc.waitFor((l) => l === ":ann!ann@weft TOPIC #den :all about dens")
      yield* irc.waitFor((l) => l === ":weft.chat 353 ann = #den :@ann bob")
      yield* irc.waitFor((l) => l === ":weft.chat 352 ann #den ann weft weft.chat ann H@ :0 ann")
      yield* irc.waitFor((l) => l === ":weft.chat 352 ann #den bob weft weft.chat bob H :0 bob")
      yield* irc.waitFor((l) => l === ":weft.chat 315 ann #den :End of /WHO list")
      yield* irc.waitFor((l) => l === ":weft.chat 322 ann #den 2 :all about dens")
      yield* irc.waitFor((l) => l === ":weft.chat 322 ann #lobby 2 :")
      yield* irc.waitFor(numeric("323"))
      yield* nc.write("in the den\n/nick bobby\n")
      yield* irc.waitFor((l) => l === ":bob!bob@weft PRIVMSG #den :in the den")
      yield* irc.waitFor((l) => l === ":bob!bob@weft NICK :bobby")
      yield* irc.write("PART #den :bye den\r\nQUIT :see you\r\n")
      yield* nc.waitFor((l) => l === "* ann left den (bye den)")
      yield* irc.waitFor((l) => l === "ERROR :Closing Link: ann (see you)")
      yield* irc.waitClosed()
      yield* nc.waitFor((l) => l === "* ann quit: see you")
    })))

  it.live("the error numerics: 401 403 411 421 442 461; a 512-byte line is cut to fit with the sender's prefix, a longer one refused (417); long nc lines reach IRC split", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "1"])
      const nc = yield* connect(server.port)
      const irc = yield* connectIrc(server.ircPort, "ann")
      yield* irc.write("PRIVMSG nobody :hi\r\nJOIN bad\r\nPART #elsewhere\r\nFROB\r\nJOIN\r\nPRIVMSG\r\nJOIN #mine\r\nPART #lobby\r\nPART #lobby\r\nPRIVMSG #lobby :hi\r\nUSER a b c :d\r\nPING :done\r\n")
      yield* irc.waitFor((l) => l === ":weft.chat PONG weft.chat :done")
      assert.includeMembers(irc.lines(), [
        ":weft.chat 401 ann nobody :No such nick/channel",
        ":weft.chat 403 ann bad :No such channel",
        ":weft.chat 403 ann #elsewhere :No such channel",
        ":weft.chat 421 ann FROB :Unknown command",
        ":weft.chat 461 ann JOIN :Not enough parameters",
        ":weft.chat 411 ann :No recipient given (PRIVMSG)",
        ":weft.chat 442 ann #lobby :You're not on that channel",
        ":weft.chat 404 ann #lobby :Cannot send to channel",
        ":weft.chat 462 ann :You may not reregister"
      ])
      yield* irc.write("JOIN #lobby\r\n")
      yield* irc.waitFor((l) => l === ":ann!ann@weft JOIN #lobby", 2)
      const head = "PRIVMSG #lobby :"
      const fits = "é".repeat((MAX_LINE - head.length) / 2 - 1) + "ab"
      yield* irc.write(`${head}${fits}\r\n${head}${fits}b\r\n${head}after\r\n`)
      // Relayed as `:ann!ann@weft PRIVMSG #lobby :...`, 14 bytes more: cut to 512 on a character boundary.
      const [cut] = yield* nc.waitFor((l) => l.startsWith("[lobby] ann: éé"))
      const relayed = cut!.slice("[lobby] ann: ".length)
      const size = bytes(`:ann!ann@weft ${head}${relayed}`)
      assert.isTrue(size <= MAX_LINE && size >= MAX_LINE - 1, `${size} bytes`)
      assert.isTrue(fits.startsWith(relayed))
      yield* nc.waitFor((l) => l === "[lobby] ann: after")
      yield* irc.waitFor((l) => l === ":weft.chat 417 ann :Input line was too long")
      const long = "é".repeat(700) + " end"
      yield* nc.write(`${long}\n`)
      const pieces = yield* irc.waitFor((l) => l.startsWith(`:${nc.nick}!`), 3)
      for (const p of pieces) assert.isAtMost(bytes(p) + 2, 512)
      const prefix = `:${nc.nick}!${nc.nick}@weft PRIVMSG #lobby :`
      assert.strictEqual(pieces.map((p) => p.slice(prefix.length)).join(""), long)
    })))

  it.live("per-connection order: NICK/USER/JOIN in one write register, then join; each PING is answered after the lines before it", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "2"])
      const irc = yield* connectRaw(server.ircPort)
      yield* irc.write("NICK ord\r\nUSER ord 0 * :Ord\r\nJOIN #den\r\nPING :one\r\nPART #den\r\nPING :two\r\nJOIN #nope,bad\r\nPING :three\r\nQUIT\r\n")
      yield* irc.waitClosed()
      const lines = irc.lines()
      assert.isFalse(lines.some(numeric("451")), "registered before JOIN")
      const at = (line: string) => {
        const i = lines.indexOf(line)
        assert.isAtLeast(i, 0, `missing ${line}`)
        return i
      }
      const order = [
        ":weft.chat 001 ord :Welcome to the weft chat, ord",
        ":ord!ord@weft JOIN #den",
        ":weft.chat PONG weft.chat :one",
        ":ord!ord@weft PART #den",
        ":weft.chat PONG weft.chat :two",
        ":ord!ord@weft JOIN #nope",
        ":weft.chat 403 ord bad :No such channel",
        ":weft.chat PONG weft.chat :three",
        "ERROR :Closing Link: ord (quit)"
      ].map(at)
      assert.deepStrictEqual(order, [...order].sort((a, b) => a - b), lines.join("\n"))
    })))

  it.live("--server-name and --oper: ISUPPORT tells the truth; WHOIS, AWAY, USERHOST, ISON, LUSERS, TIME, VERSION, MOTD, INFO, ADMIN; multi-prefix; OPER, KILL, WALLOPS", () =>
    Effect.scoped(Effect.gen(function*() {
      const hash = hashPassword("hunter2", 4)
      const server = yield* startServer(["--workers", "2", "--server-name", "irc.example", "--oper", `root:${hash}`])
      const at = (code: string) => (l: string) => l.startsWith(`:irc.example ${code} `)
      const ann = yield* connectIrc(server.ircPort, "ann", "#den")
      const isupport = ann.lines().filter(at("005")).join(" ")
      for (const token of ["PREFIX=(ov)@+", "CHANMODES=beI,k,l,imnst", "CHANLIMIT=#:50", "NICKLEN=24", "TOPICLEN=390", "KICKLEN=255", "AWAYLEN=200", "MODES=20"]) {
        assert.include(isupport, ` ${token} `)
      }
      assert.isTrue(ann.lines().some(at("251")), "LUSERS at registration")
      assert.isFalse(ann.lines().some((l) => l.includes("weft.chat")), "the server's name is irc.example everywhere")
      // multi-prefix: NAMES shows every prefix of a member.
      const bob = yield* connectRaw(server.ircPort)
      yield* bob.write("CAP LS 302\r\nCAP REQ :multi-prefix\r\nNICK bob\r\nUSER bobu 0 * :Bob Real\r\nCAP END\r\nJOIN #den\r\n")
      yield* bob.waitFor((l) => l === ":irc.example CAP * ACK :multi-prefix")
      yield* bob.waitFor((l) => l === ":bob!bob@weft JOIN #den")
      yield* ann.write("MODE #den +v ann\r\nAWAY :at lunch\r\n")
      yield* ann.waitFor((l) => l === ":irc.example 306 ann :You have been marked as being away")
      yield* bob.write("NAMES #den\r\nWHOIS ann\r\nUSERHOST ann bob\r\nISON ann nobody bob\r\nPRIVMSG ann :you there?\r\nLUSERS\r\nTIME\r\nVERSION\r\nMOTD\r\nINFO\r\nADMIN\r\nWHO #den\r\nPING :done\r\n")
      yield* bob.waitFor((l) => l === ":irc.example PONG irc.example :done")
      assert.includeMembers(bob.lines(), [
        ":irc.example 353 bob = #den :@+ann bob",
        ":irc.example 311 bob ann ann weft * :ann",
        ":irc.example 319 bob ann :@+#den",
        ":irc.example 312 bob ann irc.example :weft chat",
        ":irc.example 301 bob ann :at lunch",
        ":irc.example 318 bob ann :End of /WHOIS list",
        ":irc.example 302 bob :ann=-ann@weft bob=+bobu@weft",
        ":irc.example 303 bob :ann bob",
        ":irc.example 251 bob :There are 2 users and 0 invisible on 1 servers",
        ":irc.example 352 bob #den ann weft irc.example ann G@+ :0 ann",
        ":irc.example 352 bob #den bobu weft irc.example bob H :0 Bob Real",
        ":irc.example 374 bob :End of INFO list",
        ":irc.example 376 bob :End of /MOTD command"
      ])
      for (const code of ["317", "391", "351", "256", "257", "258", "259", "255"]) assert.isTrue(bob.lines().some(at(code)), code)
      // Operators: a wrong password or name is refused; the right one gives +o; KILL and WALLOPS.
      yield* bob.write("KILL ann :no\r\nOPER root wrong\r\nOPER nobody hunter2\r\nOPER root hunter2\r\nMODE bob +w\r\nWALLOPS :hear ye\r\nKILL ann :enough\r\n")
      yield* bob.waitFor(at("481"))
      yield* bob.waitFor(at("464"))
      yield* bob.waitFor(at("491"))
      yield* bob.waitFor((l) => l === ":irc.example 381 bob :You are now an IRC operator")
      yield* bob.waitFor((l) => l === ":bob!bob@weft MODE bob :+ow")
      yield* bob.waitFor((l) => l === ":bob!bob@weft WALLOPS :hear ye")
      yield* ann.waitFor((l) => l === "ERROR :Closing Link: ann (Killed (bob (enough)))")
      yield* ann.waitClosed()
      yield* bob.waitFor((l) => l === ":ann!ann@weft QUIT :Killed (bob (enough))")
      // The order held: each refusal came before the next line's answer.
      const lines = bob.lines()
      const idx = (f: (l: string) => boolean) => lines.findIndex(f)
      assert.isTrue(idx(at("481")) < idx(at("464")) && idx(at("464")) < idx(at("491")) && idx(at("491")) < idx(at("381")))
    })))

  it.live("dead peers: a silent IRC client gets a PING, and is dropped with a reason when it does not answer; one that answers stays", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "1", "--idle", "2"])
      const nc = yield* connect(server.port)
      const alive = yield* connectIrc(server.ircPort, "alive")
      const silent = yield* connectIrc(server.ircPort, "silent")
      const answered = new Set<number>()
      const answer = () => {
        const pings = alive.lines().filter((l) => l === "PING :weft.chat").length
        if (pings > answered.size) {
          answered.add(pings)
          alive.socket.write("PONG :weft.chat\r\n")
        }
      }
      alive.socket.on("data", answer)
      yield* silent.waitFor((l) => l === "PING :weft.chat")
      yield* silent.waitFor((l) => l === "ERROR :Closing Link: silent (ping timeout: no answer in 2 s)")
      yield* silent.waitClosed()
      yield* nc.waitFor((l) => l === "* silent left")
      yield* alive.waitFor((l) => l === "PING :weft.chat", 2)
      assert.isFalse(alive.closed(), "an answer counts as alive")
    })))
})

export type { RawClient }
