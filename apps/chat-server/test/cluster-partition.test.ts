/**
 * The chat on three machines under a partition: each instance runs in a
 * network namespace of the test-bed (`@weft/testkit/testbed`), listening on
 * its front address, and reaches a throwaway PostgreSQL on its back link; the
 * test takes machine 1's back link down (its clients still reach it), then
 * brings it back. Every address is checked with `route` before use.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import { findBin } from "@weft/testkit/postgres"
import { unavailable, withPostgres } from "@weft/testkit/testbed"
import { type Client, connect, connectIrc, connectRaw, getJson, type Server, startServer } from "./helpers.ts"

const noBed = unavailable()
const noServer = findBin("initdb") === undefined || findBin("pg_ctl") === undefined
  ? "initdb/pg_ctl not found (install Debian's postgresql)"
  : undefined
const reason = noBed ?? noServer
if (reason !== undefined) console.warn(`\n*** chat partition tests SKIPPED: ${reason} ***\n`)
const skipped = reason === undefined ? "" : ` (skipped: ${reason})`

const nick = (client: Client, name: string) =>
  Effect.gen(function*() {
    yield* client.write(`/nick ${name}\n`)
    yield* client.waitFor((l) => l === `* you are now ${name}`)
  })

describe(`chat on three machines (network namespaces), one cut off from the database${skipped}`, () => {
  it.live.skipIf(reason !== undefined)("one order for a room on three machines and one winner of a nick race; then machine 1 cut off: its clients are told within 15 s and nothing they sent is delivered; its nick is taken elsewhere only after they were told and within 30 s; the others' lines keep coming within 5 s; after the heal it serves again within 30 s, no nick held twice", () =>
    Effect.scoped(Effect.gen(function*() {
      // The network rule: the instances send only to the gateway through their back links, the
      // clients only to the machines' front addresses through the test-bed's own links (checked).
      const { bed, url } = yield* withPostgres(3)
      const [s1, s2, s3] = (yield* Effect.all(
        bed.machines.map((m) => startServer(["--workers", "1", "--cluster", url], { ns: m.ns, host: m.front })),
        { concurrency: "unbounded" }
      )) as [Server, Server, Server]
      const [f1, f2, f3] = bed.machines.map((m) => m.front) as [string, string, string]

      const held = yield* connect(s1.port, f1)
      const irc1 = yield* connectIrc(s1.ircPort, "ircone", "#lobby", f1)
      const two = yield* connect(s2.port, f2)
      const three = yield* connect(s3.port, f3)
      yield* nick(held, "holder")
      yield* nick(two, "two")
      yield* nick(three, "three")
      // Three machines, one order: each sends five lines, interleaved; everyone sees every line once, in one order.
      const said = (c: Client) => c.waitFor((l) => /^\[lobby\] \S+: o \d$/.test(l), 15, 20_000)
      for (let k = 0; k < 5; k++) for (const c of [held, two, three]) yield* c.write(`o ${k}\n`)
      const [o1, o2, o3] = yield* Effect.all([said(held), said(two), said(three)], { concurrency: "unbounded" })
      assert.strictEqual(new Set(o1).size, 15)
      assert.deepStrictEqual(o2, o1)
      assert.deepStrictEqual(o3, o1)
      // Two machines race for one nick: exactly one wins.
      const r2 = yield* connect(s2.port, f2)
      const r3 = yield* connect(s3.port, f3)
      yield* Effect.all([r2.write("/nick Racer\n"), r3.write("/nick rACER\n")], { concurrency: "unbounded" })
      const answers = yield* Effect.all([r2, r3].map((c) => c.waitFor((l) => l.startsWith("* you are now ") || l.includes(" is taken"))), { concurrency: "unbounded" })
      assert.strictEqual(answers.flat().filter((l) => l.startsWith("* you are now ")).length, 1, answers.flat().join(" | "))

      yield* held.write("before the cut\n")
      yield* three.waitFor((l) => l === "[lobby] holder: before the cut")

      // Machines 2 and 3 keep talking through it all: each line must arrive within 5 s.
      let talking = true
      const gaps: Array<number> = []
      const talk = yield* Effect.forkChild(Effect.gen(function*() {
        for (let k = 0; talking; k++) {
          const sent = Date.now()
          yield* two.write(`tick ${k}\n`)
          yield* three.waitFor((l) => l === `[lobby] two: tick ${k}`, 1, 20_000)
          gaps.push(Date.now() - sent)
          yield* Effect.sleep("500 millis")
        }
      }), { startImmediately: true })

      const cut = Date.now()
      yield* bed.cut(1)
      // Sent in the meantime: never shown to anyone as delivered.
      yield* held.write("during the cut\n")
      yield* irc1.write("PRIVMSG #lobby :irc during the cut\r\n")

      // Another machine tries to take the nick all along.
      const taker = yield* connect(s2.port, f2)
      const take = yield* Effect.forkChild(Effect.gen(function*() {
        for (let k = 1; ; k++) {
          yield* taker.write("/nick holder\n")
          const [answer] = yield* taker.waitFor((l) => l === "* you are now holder" || l === "! error: nick holder is taken", k, 20_000).pipe(Effect.map((ls) => ls.slice(-1)))
          if (answer === "* you are now holder") return Date.now()
          yield* Effect.sleep("250 millis")
        }
      }), { startImmediately: true })

      const told = yield* held.waitFor((l) => l.includes("the chat is unavailable"), 1, 15_000).pipe(
        Effect.map(() => Date.now()),
        Effect.catch(() => held.waitClosed(1).pipe(Effect.map(() => Date.now())))
      )
      const ircTold = yield* irc1.waitFor((l) => l.startsWith("ERROR ") || l.includes("unavailable"), 1, 15_000).pipe(Effect.map(() => Date.now()))
      const taken = yield* Fiber.join(take)
      const figures = { told: told - cut, ircTold: ircTold - cut, taken: taken - cut }
      console.log(`chat partition timings, ms after the cut: ${JSON.stringify(figures)}`)
      assert.isAtMost(told - cut, 15_000, "the cut-off instance's clients are told within 15 s")
      assert.isAtMost(ircTold - cut, 15_000)
      assert.isAbove(taken, told, "the nick is taken only after its holder was told")
      assert.isAbove(taken, ircTold)
      assert.isAtMost(taken - cut, 30_000, "and within 30 s of the cut")

      // Asked again on a failed request (bounded): the property is the answer, not one connection.
      const health = yield* getJson(`${s1.http}/health`).pipe(Effect.retry({ times: 5, schedule: Schedule.spaced("500 millis") }),
        Effect.mapError((e) => new Error(`${e.message}; machine 1's output:\n${s1.output()}`))
      )
      assert.strictEqual(health.status, 503)
      assert.strictEqual(health.body.cluster, "down")

      const healed = Date.now()
      yield* bed.heal(1)
      // Working clients again within 30 s: welcomed, named, heard on another machine.
      let back: Client | undefined
      for (let k = 0; back === undefined; k++) {
        assert.isBelow(Date.now() - healed, 30_000, "machine 1 serves again within 30 s of the heal")
        const attempt = yield* Effect.exit(Effect.gen(function*() {
          // Refused while it rejoins: told, and closed.
          const raw = yield* connectRaw(s1.port, f1)
          const [first] = yield* raw.waitFor((l) => l.startsWith("* welcome ") || l.includes("the chat is unavailable"), 1, 5_000)
          if (!first!.startsWith("* welcome ")) return yield* Effect.fail(new Error(first))
          const c: Client = { ...raw, nick: "", worker: 0, pid: 0 }
          yield* nick(c, `back${k}`)
          return c
        }))
        if (attempt._tag === "Success") back = attempt.value
        else yield* Effect.sleep("1 second")
      }
      yield* back.write("I am back\n")
      yield* two.waitFor((l) => l.endsWith(": I am back"))
      const servedAgain = Date.now() - healed
      console.log(`chat partition: serving again ${servedAgain} ms after the heal`)

      // No nick is held twice: the one taken on machine 2 is refused on machine 1.
      yield* back.write("/nick HOLDER\n")
      yield* back.waitFor((l) => l === "! error: nick HOLDER is taken")
      yield* back.write("/who\n")
      const [who] = yield* back.waitFor((l) => l.startsWith("* in lobby ("))
      const nicks = who!.replace(/^\* in lobby \(\d+\):/, "").trim().split(/\s+/)
      assert.strictEqual(nicks.filter((n) => n.toLowerCase() === "holder").length, 1, who)
      assert.notInclude(nicks, "ircone", "the cut-off instance's users are gone")

      talking = false
      yield* Fiber.join(talk)
      assert.isAtMost(Math.max(...gaps), 5_000, `the other machines' lines kept arriving within 5 s: ${gaps.join(" ")}`)
      for (const c of [two, three, taker, back]) {
        assert.isFalse(c.lines().some((l) => l.includes("during the cut")), "nothing sent during the cut was delivered")
      }
    })), 180_000)
})
