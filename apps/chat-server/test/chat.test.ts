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
      yield* expectError(5, "unknown command /bogus")
      yield* a!.write("/nick no spaces allowed\n")
      yield* expectError(6, "usage: /nick NAME")
      yield* a!.write("/join\n")
      yield* expectError(7, "usage: /join ROOM")
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

  it.live("rooms: /join moves a client; messages stay in their room; /quit says bye and closes", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer()
      const [a, b] = yield* connectSpread(server.port, 2, 1)
      const c = yield* connect(server.port)
      yield* nick(a!, "ann")
      yield* nick(b!, "ben")
      yield* nick(c!, "cat")
      yield* a!.write("/join den\n")
      yield* a!.waitFor((l) => l === "* you are in den")
      yield* b!.write("/join den\n")
      yield* b!.waitFor((l) => l === "* you are in den")
      yield* a!.write("in the den\n")
      yield* c!.write("in the lobby\n")
      assert.deepStrictEqual(yield* b!.waitFor(isMessage, 1), ["[den] ann: in the den"])
      assert.deepStrictEqual(yield* c!.waitFor(isMessage, 1), ["[lobby] cat: in the lobby"])
      yield* b!.write("/quit\n")
      yield* b!.waitClosed()
      assert.include(b!.lines(), "* bye")
      yield* a!.waitFor((l) => l === "* ben quit")
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(a!.lines().filter(isMessage), ["[den] ann: in the den"])
      assert.deepStrictEqual(c!.lines().filter(isMessage), ["[lobby] cat: in the lobby"])
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
      const stats = yield* poll(getJson(`${server.http}/stats`), (r) => perWorker(r).join() === "2,2")
      const workers = stats.body.workers as Array<{ id: number; pid: number; connections: number }>
      assert.strictEqual(workers.length, 2)
      assert.strictEqual(stats.body.connections, 4)
      assert.deepStrictEqual(workers.map((w) => w.pid).sort(), [...server.workerPids()].sort())
      assert.strictEqual(stats.body.port, server.port)
      assert.strictEqual(stats.body.relayed, 3)
      assert.strictEqual(stats.body.restarts, 0)
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
        (r) => (r.body.workers as Array<unknown>).length === 2 && r.status === 200 && r.body.restarts === 1
      )
      const pids = (stats.body.workers as Array<{ pid: number }>).map((w) => w.pid)
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
      for (const c of clients) yield* c.waitClosed(5_000)
      yield* poll(Effect.sync(() => pids.filter(isAlive)), (alive) => alive.length === 0, 5_000)
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
