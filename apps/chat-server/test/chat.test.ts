import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Client, connect, connectSpread, getJson, isAlive, poll, startServer } from "./helpers.ts"

const isMessage = (line: string) => line.startsWith("[")

/** Sets a nick and waits until the server confirmed it. */
const nick = (client: Client, name: string) =>
  Effect.gen(function*() {
    yield* client.write(`/nick ${name}\n`)
    yield* client.waitFor((l) => l === `* you are now ${name}`)
  })

describe("chat server (node:cluster, 2 workers)", () => {
  it.live("clients on different workers get every message exactly once, in each sender's order, in one global order", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const clients = yield* connectSpread(server.port, 2, 2)
      assert.strictEqual(new Set(clients.map((c) => c.worker)).size, 2)
      yield* Effect.forEach(clients, (c, i) => nick(c, `c${i}`))
      const perSender = 8
      // Interleave the senders: round k, every client sends its k-th message.
      for (let k = 0; k < perSender; k++) {
        for (const [i, c] of clients.entries()) yield* c.write(`m ${i} ${k}\n`)
      }
      const total = clients.length * perSender
      const seen = yield* Effect.forEach(clients, (c) => c.waitFor(isMessage, total))
      yield* Effect.sleep("200 millis") // nothing more (no duplicates) arrives
      for (const [r, c] of clients.entries()) {
        const got = c.lines().filter(isMessage)
        assert.strictEqual(got.length, total, `client ${r} got each message once`)
        for (const [i] of clients.entries()) {
          const fromI = got.filter((l) => l.startsWith(`[lobby] c${i}: `))
          assert.deepStrictEqual(fromI, Array.from({ length: perSender }, (_, k) => `[lobby] c${i}: m ${i} ${k}`), `client ${r}, sender ${i}`)
        }
      }
      for (const s of seen) assert.deepStrictEqual(s, seen[0], "every client saw the same order")
      const stats = yield* poll(getJson(`${server.http}/stats`), (r) => r.body.relayed === total)
      assert.strictEqual(stats.body.relayed, total)
    })))

  it.live("framing: a line split over several packets, several lines in one packet, a UTF-8 character split in two", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      yield* nick(b!, "observer")
      const pause = Effect.sleep("30 millis")
      yield* a!.write("/nick fr\nhel")
      yield* pause
      yield* a!.write("lo wor")
      yield* pause
      yield* a!.write("ld\r\nsecond\nthi")
      yield* pause
      const utf8 = new TextEncoder().encode("rd\nhé ✓ 你好\n")
      const cut = utf8.indexOf(0xe2) + 1 // inside the 3-byte ✓
      yield* a!.write(utf8.subarray(0, cut))
      yield* pause
      yield* a!.write(utf8.subarray(cut))
      yield* a!.write("one\ntwo\nthree\n")
      const want = ["hello world", "second", "third", "hé ✓ 你好", "one", "two", "three"].map((t) => `[lobby] fr: ${t}`)
      assert.deepStrictEqual(yield* b!.waitFor(isMessage, want.length), want)
      assert.deepStrictEqual(yield* a!.waitFor(isMessage, want.length), want)
      assert.deepStrictEqual(a!.lines().filter((l) => l.startsWith("!")), [])
    })))

  it.live("bad lines get an error reply and the connection stays usable; the workers do not crash", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "2", "--max-line", "1024"])
      const pidsBefore = server.workerPids()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      yield* nick(a!, "bad")
      const errors = () => a!.lines().filter((l) => l.startsWith("! error: "))
      const expectError = (n: number, text: string) =>
        Effect.gen(function*() {
          const got = yield* a!.waitFor((l) => l.startsWith("! error: "), n)
          assert.include(got[n - 1], text)
        })
      yield* a!.write("x".repeat(3000) + "\n")
      yield* expectError(1, "line too long: over 1024 bytes")
      // A huge line with no newline yet: refused once, the rest dropped up to its newline, nothing buffered.
      for (let i = 0; i < 20; i++) yield* a!.write("y".repeat(64 * 1024))
      yield* a!.write("tail\nafter the long one\n")
      yield* expectError(2, "line too long")
      yield* a!.write(new Uint8Array([0x68, 0xff, 0xfe, 0x0a]))
      yield* expectError(3, "malformed line: not valid UTF-8")
      yield* a!.write("bell\u0007\n")
      yield* expectError(4, "control characters are not allowed")
      yield* a!.write("/bogus\n")
      yield* expectError(5, "unknown command \"/bogus\"")
      yield* a!.write("/nick no spaces allowed\n")
      yield* expectError(6, "bad nick \"no spaces allowed\"")
      yield* a!.write("/join\n")
      yield* expectError(7, "missing argument: usage: /join ROOM")
      yield* a!.write("//slash\n")
      assert.deepStrictEqual(
        yield* b!.waitFor(isMessage, 2),
        ["[lobby] bad: after the long one", "[lobby] bad: /slash"],
        "only the good lines went out"
      )
      assert.strictEqual(errors().length, 7)
      assert.isFalse(a!.closed())
      assert.deepStrictEqual(server.workerPids(), pidsBefore, "no worker was replaced")
      const stats = yield* getJson(`${server.http}/stats`)
      assert.strictEqual(stats.body.restarts, 0)
    })))

  it.live("rooms: several per user, /join sets the current room, /part, /who, /rooms, /topic, /me; lines stay in their room", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      const c = yield* connect(server.port)
      yield* nick(a!, "ann")
      yield* nick(b!, "ben")
      yield* nick(c!, "cat")
      yield* a!.write("/join den\n")
      yield* a!.waitFor((l) => l === "* you are in den (1 here)")
      yield* b!.write("/join den\n")
      yield* b!.waitFor((l) => l === "* you are in den (2 here)")
      yield* a!.waitFor((l) => l === "* ben joined den")
      yield* a!.write("/topic dens and burrows\n")
      yield* b!.waitFor((l) => l === "* ann set the topic of den: dens and burrows")
      yield* a!.write("in the den\n")
      yield* a!.write("/me digs\n")
      yield* c!.write("in the lobby\n")
      assert.deepStrictEqual(yield* b!.waitFor(isMessage, 2), ["[den] ann: in the den", "[lobby] cat: in the lobby"])
      yield* b!.waitFor((l) => l === "* ann digs")
      assert.deepStrictEqual(yield* c!.waitFor(isMessage, 1), ["[lobby] cat: in the lobby"])
      // /who and /rooms, /topic shows it.
      yield* c!.write("/who den\n/rooms\n/who\n")
      yield* c!.waitFor((l) => l === "* in den (2): @ann ben")
      yield* c!.waitFor((l) => l === "*   den (2): dens and burrows")
      yield* c!.waitFor((l) => l === "*   lobby (3)")
      yield* c!.waitFor((l) => l === "* in lobby (3): ann ben cat")
      yield* c!.write("/topic\n")
      yield* c!.waitFor((l) => l === "* lobby has no topic")
      // /part leaves the current room; plain lines then go to the one before.
      yield* b!.write("/part\n")
      yield* b!.waitFor((l) => l === "* you left den; your current room is lobby")
      yield* a!.waitFor((l) => l === "* ben left den")
      yield* b!.write("back in the lobby\n")
      yield* c!.waitFor((l) => l === "[lobby] ben: back in the lobby")
      yield* b!.write("/part lobby\n")
      yield* b!.waitFor((l) => l === "* you left lobby; you are in no room now")
      yield* b!.write("anyone?\n")
      yield* b!.waitFor((l) => l === "! error: you are in no room: /join ROOM first")
      yield* b!.write("/join lobby\n/join den\n")
      yield* b!.waitFor((l) => l.startsWith("* you are in den"), 2)
      yield* b!.write("/quit\n")
      yield* b!.waitClosed()
      assert.include(b!.lines(), "* bye")
      yield* a!.waitFor((l) => l === "* ben quit")
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(a!.lines().filter(isMessage), ["[den] ann: in the den", "[lobby] cat: in the lobby", "[lobby] ben: back in the lobby"])
      assert.deepStrictEqual(c!.lines().filter(isMessage), ["[lobby] cat: in the lobby", "[lobby] ben: back in the lobby"])
      assert.strictEqual(a!.lines().filter((l) => l === "* ben quit").length, 1, "one notice, though they shared two rooms")
    })))

  it.live("moderation in nc's words: /op /voice /mode /kick /ban /invite /away /whois, /help lists them; a banned nc user cannot rejoin", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "2"])
      const [ann, bob, cat] = [yield* connect(server.port), yield* connect(server.port), yield* connect(server.port)]
      yield* ann.write("/nick ann\n/join den\n")
      yield* ann.waitFor((l) => l === "* you are in den (1 here)")
      yield* bob.write("/nick bob\n/join den\n")
      yield* bob.waitFor((l) => l === "* you are in den (2 here)")
      yield* cat.write("/nick cat\n/help\n")
      for (const command of ["/kick", "/ban", "/invite", "/mode", "/op", "/away", "/whois"]) yield* cat.waitFor((l) => l.startsWith(`*   ${command} `))
      // Only the room's maker (ann) is its operator.
      yield* bob.write("/who\n/kick ann\n")
      yield* bob.waitFor((l) => l === "* in den (2): @ann bob")
      yield* bob.waitFor((l) => l === "! error: you are not an operator of den")
      yield* ann.write("/mode +m\n")
      yield* bob.waitFor((l) => l === "* ann set mode +m on den")
      yield* bob.write("hello?\n")
      yield* bob.waitFor((l) => l === "! error: you cannot speak in den: the room is moderated (+m)")
      yield* ann.write("/voice bob\n")
      yield* bob.waitFor((l) => l === "* ann set mode +v bob on den")
      yield* bob.write("thanks\n/mode\n")
      yield* ann.waitFor((l) => l === "[den] bob: thanks")
      yield* bob.waitFor((l) => /^\* modes of den: \+mnt$/.test(l))
      // Invite only: cat needs an invitation, which also tells cat.
      yield* ann.write("/mode +i\n")
      yield* cat.write("/join den\n")
      yield* cat.waitFor((l) => l === "! error: cannot join den: it is invite only (+i)")
      yield* ann.write("/invite cat\n")
      yield* ann.waitFor((l) => l === "* you invited cat to den")
      yield* cat.waitFor((l) => l === "* ann invites you to den: /join den")
      yield* cat.write("/join den\n")
      yield* cat.waitFor((l) => l === "* you are in den (3 here)")
      // Away and whois.
      yield* cat.write("/away brb\n")
      yield* cat.waitFor((l) => l === "* you are away: brb")
      yield* ann.write("/whois cat\n/msg cat ping\n")
      yield* ann.waitFor((l) => l === "* cat is in lobby den")
      yield* ann.waitFor((l) => l === "* cat is away: brb", 2)
      // Kick, ban: bob cannot come back until unbanned.
      yield* ann.write("/ban bob\n/kick bob enough\n")
      yield* bob.waitFor((l) => l === "* ann set mode +b bob!*@* on den")
      yield* bob.waitFor((l) => l === "* you were kicked from den by ann (enough); your current room is lobby")
      yield* cat.waitFor((l) => l === "* ann kicked bob from den (enough)")
      yield* ann.write("/mode -i\n")
      yield* ann.waitFor((l) => l === "* ann set mode -i on den")
      yield* bob.write("/join den\n")
      yield* bob.waitFor((l) => l === "! error: cannot join den: you are banned (+b)")
      yield* ann.write("/ban\n/unban bob!*@*\n")
      yield* ann.waitFor((l) => l.startsWith("* banned from den: bob!*@* (by ann)"))
      yield* ann.waitFor((l) => l === "* ann set mode -b bob!*@* on den")
      yield* bob.write("/join den\n")
      yield* bob.waitFor((l) => l === "* you are in den (3 here)")
    })))

  it.live("typed ahead: a line right after /join goes to the new room, with no wait for the reply", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      // b made den; -t lets any member set its topic.
      yield* b!.write("/join den\n/mode -t\n")
      yield* b!.waitFor((l) => l.endsWith(" set mode -t on den"))
      yield* a!.write("/nick ann\n/join den\n/topic typed ahead\nfirst in den\n/part\nback in lobby\n")
      yield* b!.waitFor((l) => l === "* ann set the topic of den: typed ahead")
      yield* b!.waitFor((l) => l === "[den] ann: first in den")
      yield* b!.waitFor((l) => l === "[lobby] ann: back in lobby")
      assert.deepStrictEqual(a!.lines().filter((l) => l.startsWith("!")), [])
    })))

  it.live("nicks are unique across workers, case-insensitively: of two clients racing for a nick, exactly one wins", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      assert.notStrictEqual(a!.worker, b!.worker)
      const names = ["rex", "Kit", "moe", "Zed", "ivy"]
      const settled = (l: string) => l.startsWith("* you are now ") || l.includes(" is taken")
      for (const [i, name] of names.entries()) {
        // Both in one go, on different workers; the second spells it in another case.
        yield* Effect.all([a!.write(`/nick ${name}\n`), b!.write(`/nick ${name.toUpperCase()}\n`)])
        const got = (yield* Effect.all([a!.waitFor(settled, i + 1), b!.waitFor(settled, i + 1)])).map((lines) => lines[i]!)
        const wins = got.filter((l) => l.startsWith("* you are now ")).length
        assert.strictEqual(wins, 1, `exactly one got ${name}: ${JSON.stringify(got)}`)
        const loser = got.find((l) => !l.startsWith("* you are now "))!
        assert.match(loser, new RegExp(`^! error: nick ${name} is taken$`, "i"))
      }
      // A later claim of a held nick in any case is refused too; the guest names are distinct.
      const c = yield* connect(server.port)
      assert.notStrictEqual(c.nick, a!.nick)
      yield* c.write("/nick IVY\n")
      yield* c.waitFor((l) => l === "! error: nick IVY is taken")
    })))

  it.live("/msg reaches one user on any worker as [pm]; the sender gets the echo; an unknown nick is an error", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      const c = yield* connect(server.port)
      yield* nick(a!, "ann")
      yield* nick(b!, "ben")
      yield* a!.write("/msg BEN psst, over here\n")
      yield* b!.waitFor((l) => l === "[pm] ann: psst, over here")
      yield* a!.waitFor((l) => l === "[pm -> ben] ann: psst, over here")
      yield* b!.write("/msg ann ok\n")
      yield* a!.waitFor((l) => l === "[pm] ben: ok")
      yield* a!.write("/msg nobody hello?\n")
      yield* a!.waitFor((l) => l === "! error: no one is called nobody")
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(c.lines().filter((l) => l.includes("pm")), [], "nobody else sees it")
    })))

  it.live("HTTP: /stats counts connections per worker and relayed messages; /health; 404", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const health = yield* getJson(`${server.http}/health`)
      assert.deepStrictEqual(health, { status: 200, body: { ok: true, workers: 2, listening: 2 } })
      const clients = yield* connectSpread(server.port, 2, 2)
      yield* clients[0]!.write("one\ntwo\n")
      yield* clients[3]!.write("three\n")
      yield* Effect.forEach(clients, (c) => c.waitFor(isMessage, 3))
      const perWorker = (r: { body: Record<string, unknown> }) => (r.body.workers as Array<{ connections: number }>).map((w) => w.connections)
      const stats = yield* poll(getJson(`${server.http}/stats`), (r) => perWorker(r).join() === "2,2,0")
      const all = stats.body.workers as Array<{ id: string; pid: number; connections: number }>
      assert.deepStrictEqual(all.at(-1), { id: "web", pid: server.proc.pid!, connections: 0, messagesIn: 0, messagesOut: 0, droppedSlow: 0, floodDelayed: 0, floodKicked: 0 } as never)
      const workers = all.slice(0, -1)
      assert.strictEqual(workers.length, 2)
      assert.strictEqual(stats.body.connections, 4)
      assert.deepStrictEqual(workers.map((w) => w.pid).sort(), [...server.workerPids()].sort())
      assert.strictEqual(stats.body.port, server.port)
      assert.strictEqual(stats.body.relayed, 3)
      assert.strictEqual(stats.body.restarts, 0)
      assert.strictEqual(stats.body.users, 4)
      assert.strictEqual(stats.body.messages, 3)
      assert.deepStrictEqual(stats.body.rooms, [{ room: "lobby", members: 4, topic: "" }])
      assert.strictEqual(stats.body.ircPort, server.ircPort)
      const metrics = yield* Effect.promise(() => fetch(`${server.http}/metrics`).then(async (r) => ({ type: r.headers.get("content-type"), text: await r.text() })))
      assert.include(metrics.type, "text/plain; version=0.0.4")
      for (const w of workers) {
        assert.include(metrics.text, `chat_connections{worker="${w.id}"} 2\n`)
        assert.match(metrics.text, new RegExp(`chat_messages_out_total\\{worker="${w.id}"\\} \\d+\\n`))
        assert.include(metrics.text, `chat_dropped_slow_consumers_total{worker="${w.id}"} 0\n`)
        assert.include(metrics.text, `chat_flood_delayed_lines_total{worker="${w.id}"} 0\n`)
      }
      assert.include(metrics.text, "# TYPE chat_messages_in_total counter\n")
      assert.include(metrics.text, "chat_users 4\nchat_rooms 1\n".split("\n")[0]!)
      assert.include(metrics.text, "chat_room_messages_total 3\n")
      clients[0]!.socket.destroy()
      yield* poll(getJson(`${server.http}/stats`), (r) => r.body.connections === 3)
      assert.strictEqual((yield* getJson(`${server.http}/nope`)).status, 404)
    })))

  it.live("a SIGKILLed worker: its clients are disconnected, the primary replaces it, new clients still chat", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      process.kill(a!.pid, "SIGKILL")
      yield* a!.waitClosed()
      assert.isFalse(b!.closed())
      yield* server.line(`pid ${a!.pid} exited (SIGKILL); starting a replacement`)
      const stats = yield* poll(
        getJson(`${server.http}/stats`),
        (r) => (r.body.workers as Array<unknown>).length === 3 && r.status === 200 && r.body.restarts === 1
      )
      const pids = (stats.body.workers as Array<{ id: string; pid: number }>).filter((w) => w.id !== "web").map((w) => w.pid)
      assert.notInclude(pids, a!.pid)
      yield* poll(getJson(`${server.http}/health`), (r) => r.status === 200)
      // New clients: reach both the survivor and the replacement.
      const fresh = yield* connectSpread(server.port, 2, 1)
      assert.sameMembers(fresh.map((c) => c.pid), pids)
      yield* fresh[0]!.write("after the crash\n")
      yield* b!.write("still here\n")
      for (const c of [b!, ...fresh]) {
        const got = yield* c.waitFor(isMessage, 2)
        assert.sameMembers(got.map((l) => l.split(": ")[1]), ["after the crash", "still here"])
      }
    })))

  it.live("SIGTERM stops the primary and every worker; clients see the connection close", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "3"])
      const pids = server.workerPids()
      assert.strictEqual(pids.length, 3)
      const clients = yield* connectSpread(server.port, 2, 1)
      // process.kill, not proc.kill: Deno's ChildProcess then reports the signal it sent, not the exit code 0.
      process.kill(server.proc.pid!, "SIGTERM")
      assert.strictEqual(yield* server.exited(10_000), 0)
      assert.include(server.output(), "stopped")
      for (const c of clients) {
        yield* c.waitClosed(5_000)
        assert.include(c.lines(), "* server shutting down; disconnecting", "clients are told")
      }
      yield* poll(Effect.sync(() => pids.filter(isAlive)), (alive) => alive.length === 0, 5_000)
    })))

  it.live("a SIGKILLed primary: its workers tell their clients and exit; no orphans, no port held", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const pids = server.workerPids()
      const clients = yield* connectSpread(server.port, 2, 1)
      process.kill(server.proc.pid!, "SIGKILL")
      for (const c of clients) {
        yield* c.waitClosed(10_000)
        assert.include(c.lines(), "* server shutting down; disconnecting")
      }
      yield* poll(Effect.sync(() => pids.filter(isAlive)), (alive) => alive.length === 0, 10_000)
      for (const port of [server.port, server.ircPort, Number(new URL(server.http).port)]) {
        const free = yield* Effect.callback<boolean>((resume) => {
          const probe = net.createServer()
          probe.once("error", () => resume(Effect.succeed(false)))
          probe.listen(port, "127.0.0.1", () => probe.close(() => resume(Effect.succeed(true))))
        })
        assert.isTrue(free, `port ${port} free`)
      }
    })))

  it.live("flood control: a burst past the limit is paced, delayed and never dropped; a flood past the hard bound is cut with a notice", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "1", "--flood-burst", "5", "--flood-rate", "50"])
      const a = yield* connect(server.port)
      const b = yield* connect(server.port)
      const lines = Array.from({ length: 40 }, (_, i) => `flood ${i}`)
      const started = Date.now()
      yield* a.write(lines.map((l) => `${l}\n`).join(""))
      const got = yield* b.waitFor(isMessage, 40)
      const took = Date.now() - started
      assert.deepStrictEqual(got, lines.map((l) => `[lobby] ${a.nick}: ${l}`), "all of them, in order")
      assert.isAtLeast(took, 500, "35 lines past the burst at 50/s take about 0.7 s")
      assert.isFalse(a.closed())
      const metrics = yield* poll(
        Effect.promise(() => fetch(`${server.http}/metrics`).then((r) => r.text())),
        (text) => /chat_flood_delayed_lines_total\{worker="1"\} 3\d\n/.test(text)
      )
      assert.match(metrics, /chat_flood_disconnects_total\{worker="1"\} 0\n/)
      // 100 KB of lines at once: more than the 64 KiB of input a client may have waiting.
      yield* a.write("x".repeat(99).concat("\n").repeat(1000))
      yield* a.waitClosed()
      assert.include(a.lines(), "* flooding: over 65536 bytes of input waiting to be processed; disconnecting")
      yield* b.waitFor((l) => l === `* ${a.nick} left`)
    })))

  it.live("usage errors: exit 2, the problem and the usage", () =>
    Effect.scoped(Effect.gen(function*() {
      const cases: Array<[Array<string>, string]> = [
        [["--workers", "0"], "--workers must be an integer from 1 to 64, got \"0\""],
        [["--port", "x"], "--port must be an integer from 0 to 65535, got \"x\""],
        [["--nope"], "Unknown option '--nope'"]
      ]
      for (const [args, message] of cases) {
        const result = yield* Effect.flip(startServer(args))
        assert.include(result.message, "server exited (2)", args.join(" "))
        assert.include(result.message, message)
        assert.include(result.message, "usage:")
      }
    })))
})
