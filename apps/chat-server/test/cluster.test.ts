/**
 * The chat on several instances sharing one PostgreSQL (`--cluster URL`): a
 * throwaway server for this file (`@weft/testkit/postgres`), instances as
 * child processes on loopback. The partition tests (instances on machines
 * made of network namespaces, whose link to the database the test cuts) are
 * in cluster-partition.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { findBin, startServer as startPostgres, type Server as Postgres } from "@weft/testkit/postgres"
import { type Client, connect, connectIrc, type RawClient, type Server, startServer } from "./helpers.ts"
import { type Child, child, waitUntil } from "@weft/testkit"
import { mainScript } from "./helpers.ts"
import { ORDER_KEY } from "../src/log.ts"

const exitCode = (c: Child) =>
  waitUntil(c.running.subscribe, () => c.running.exit()?.code ?? undefined, 30_000, () => `did not exit:\n${c.output()}`)

const noServer = findBin("initdb") === undefined || findBin("pg_ctl") === undefined
  ? "initdb/pg_ctl not found (install Debian's postgresql)"
  : undefined
if (noServer !== undefined) console.warn(`\n*** chat cluster tests SKIPPED: ${noServer} ***\n`)
const skipped = noServer === undefined ? "" : ` (skipped: ${noServer})`

let pg: Postgres | undefined
let database = 0
beforeAll(() => {
  if (noServer === undefined) pg = startPostgres()
}, 60_000)
afterAll(() => pg?.stop?.())

/** One statement on a database of the throwaway server. */
const query = (database: string, text: string) =>
  Effect.promise(async () => {
    const { default: postgres } = await import("postgres")
    const dir = new URL(pg!.url!).searchParams.get("host")!
    const sql = postgres({ path: `${dir}/.s.PGSQL.5432`, user: "postgres", database, max: 1, onnotice: () => {} })
    try {
      return await sql.unsafe(text)
    } finally {
      await sql.end()
    }
  })

/** A fresh database on the throwaway server for each test: an empty one, as a new cluster has. */
const freshDatabase = Effect.gen(function*() {
  if (pg?.url === undefined) return yield* Effect.die(new Error(pg?.reason ?? "no PostgreSQL"))
  const name = `chat${++database}_${process.pid}`
  yield* query("postgres", `CREATE DATABASE ${name}`)
  return { name, url: pg.url.replace("/postgres?", `/${name}?`) }
})
const freshUrl = Effect.map(freshDatabase, (d) => d.url)

const instances = (url: string, n: number, more: ReadonlyArray<string> = []) =>
  Effect.all(Array.from({ length: n }, () => startServer(["--workers", "1", "--cluster", url, ...more])), { concurrency: "unbounded" })

const nick = (client: Client, name: string) =>
  Effect.gen(function*() {
    yield* client.write(`/nick ${name}\n`)
    yield* client.waitFor((l) => l === `* you are now ${name}`)
  })

/** A browser-like user: the web side's WebSocket, one line per message. */
const webUser = (server: Server) =>
  Effect.acquireRelease(
    Effect.callback<RawClient & { readonly ws: WebSocket }, Error>((resume) => {
      const ws = new WebSocket(`${server.http.replace("http", "ws")}/ws`)
      const lines: Array<string> = []
      const listeners = new Set<() => void>()
      let closed = false
      ws.onmessage = (e) => {
        lines.push(String(e.data))
        for (const f of [...listeners]) f()
      }
      ws.onclose = () => {
        closed = true
        for (const f of [...listeners]) f()
      }
      ws.onerror = () => resume(Effect.fail(new Error("websocket error")))
      ws.onopen = () => {
        const waitFor = (predicate: (line: string) => boolean, count = 1, timeoutMs = 10_000) =>
          Effect.callback<Array<string>, Error>((done) => {
            const check = () => {
              const found = lines.filter(predicate)
              if (found.length >= count) {
                listeners.delete(check)
                clearTimeout(timer)
                done(Effect.succeed(found))
              }
            }
            const timer = setTimeout(() => {
              listeners.delete(check)
              done(Effect.fail(new Error(`web: wanted ${count} matching lines; got:\n${lines.join("\n")}`)))
            }, timeoutMs)
            listeners.add(check)
            check()
          })
        resume(Effect.succeed({
          ws,
          socket: undefined as never,
          lines: () => [...lines],
          closed: () => closed,
          write: (data) => Effect.sync(() => String(data).split("\n").filter((l) => l !== "").forEach((l) => ws.send(l))),
          waitFor,
          waitClosed: () => Effect.void
        }))
      }
    }),
    (user) => Effect.sync(() => user.ws.close())
  )

/** `[room] nick: text` (plain and web) or `:nick!u@h PRIVMSG #room :text` (IRC) as `nick: text`. */
const said = (line: string): string | undefined => {
  const plain = /^\[lobby\] (\S+): (.*)$/.exec(line)
  if (plain !== null) return `${plain[1]}: ${plain[2]}`
  const irc = /^:([^!]+)!\S+ PRIVMSG #lobby :(.*)$/.exec(line)
  return irc === null ? undefined : `${irc[1]}: ${irc[2]}`
}

describe(`chat on a cluster (--cluster, one PostgreSQL)${skipped}`, () => {
  it.live.skipIf(noServer !== undefined)("three instances started at once on an empty database are one chat: nicks in any case, one winner of a race, a room's lines once each and in one order for nc, IRC and web users on every instance, /msg, /who, /rooms, /topic", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshUrl
      const [s1, s2, s3] = (yield* instances(url, 3, ["--max-line", "20000"])) as [Server, Server, Server]
      const a = yield* connect(s1.port)
      const b = yield* connect(s2.port)
      const ivy = yield* connectIrc(s3.ircPort, "ivy")
      const web = yield* webUser(s3)
      yield* web.waitFor((l) => l.startsWith("* welcome "))
      yield* nick(a, "alice")
      yield* b.write("/nick ALICE\n")
      yield* b.waitFor((l) => l === "! error: nick ALICE is taken")
      yield* nick(b, "bob")
      yield* web.write("/nick wendy\n")
      yield* web.waitFor((l) => l === "* you are now wendy")
      // IRC users are refused a nick held on another instance too.
      const late = yield* connectIrc(s3.ircPort, "late", "")
      yield* late.write("NICK Wendy\r\n")
      yield* late.waitFor((l) => / 433 late Wendy /.test(l))

      // Two instances, one nick, at once: exactly one wins.
      const r1 = yield* connect(s1.port)
      const r2 = yield* connect(s2.port)
      yield* Effect.all([r1.write("/nick rex\n"), r2.write("/nick REX\n")], { concurrency: "unbounded" })
      const answer = (c: Client) => c.waitFor((l) => l.startsWith("* you are now ") || l.includes(" is taken")).pipe(Effect.map((ls) => ls[0]!))
      const answers = yield* Effect.all([answer(r1), answer(r2)], { concurrency: "unbounded" })
      assert.strictEqual(answers.filter((l) => l.startsWith("* you are now ")).length, 1, `one winner: ${answers.join(" | ")}`)

      // Every member, on every instance and protocol, gets every line once, in one order.
      const senders: Array<[string, RawClient]> = [["alice", a], ["bob", b], ["wendy", web], ["ivy", ivy]]
      const rounds = 5
      for (let k = 0; k < rounds; k++) {
        for (const [name, c] of senders) yield* c.write(name === "ivy" ? `PRIVMSG #lobby :m ${k}\r\n` : `m ${k}\n`)
      }
      const total = senders.length * rounds
      const order = (c: RawClient, own: string | undefined) =>
        c.waitFor((l) => said(l) !== undefined, own === undefined ? total : total - rounds, 20_000)
          .pipe(Effect.map((ls) => ls.map((l) => said(l)!)))
      const [oa, ob, ow, oi] = yield* Effect.all([order(a, undefined), order(b, undefined), order(web, undefined), order(ivy, "ivy")], { concurrency: "unbounded" })
      assert.strictEqual(new Set(oa).size, total, "each line once")
      assert.deepStrictEqual(ob, oa, "instance 2 sees instance 1's order")
      assert.deepStrictEqual(ow, oa, "the web user on instance 3 too")
      assert.deepStrictEqual(oi, oa.filter((l) => !l.startsWith("ivy: ")), "and the IRC user (IRC does not echo its own lines)")
      for (const [name] of senders) {
        assert.deepStrictEqual(oa.filter((l) => l.startsWith(`${name}: `)), Array.from({ length: rounds }, (_, k) => `${name}: m ${k}`))
      }

      // /msg crosses instances; no third party sees it.
      yield* a.write("/msg bob psst-9f\n")
      yield* b.waitFor((l) => l === "[pm] alice: psst-9f")
      yield* a.write("after the pm\n")
      for (const c of [b, r1, r2, web] as Array<RawClient>) yield* c.waitFor((l) => l === "[lobby] alice: after the pm")
      yield* ivy.waitFor((l) => l.endsWith("PRIVMSG #lobby :after the pm"))
      for (const c of [r1, r2, web, ivy, late] as Array<RawClient>) assert.isFalse(c.lines().some((l) => l.includes("psst-9f")))
      yield* ivy.write("PRIVMSG alice :from irc\r\n")
      yield* a.waitFor((l) => l === "[pm] ivy: from irc")

      // /who on one instance lists the users of every instance.
      yield* r2.write("/who\n")
      const [who] = yield* r2.waitFor((l) => l.startsWith("* in lobby ("))
      for (const n of ["alice", "bob", "wendy", "ivy"]) assert.include(who!.split(/[ :]+/), n, who)

      // A line too big for a notification (9,000 bytes of UTF-8) goes by its number, read from the table.
      const big = "✓".repeat(3000)
      yield* a.write(`${big}\n`)
      yield* b.waitFor((l) => l === `[lobby] alice: ${big}`)
      yield* web.waitFor((l) => l === `[lobby] alice: ${big}`)

      // Rooms and topics are shared.
      yield* a.write("/join den\n")
      yield* a.waitFor((l) => l.startsWith("* you are in den"))
      yield* b.write("/join den\n")
      yield* b.waitFor((l) => l.startsWith("* you are in den (2 here)"))
      yield* a.write("/topic burrows only\n")
      yield* b.waitFor((l) => l === "* alice set the topic of den: burrows only")
      yield* web.write("/rooms\n")
      yield* web.waitFor((l) => l === "*   den (2): burrows only")
      yield* ivy.write("TOPIC #den\r\n")
      yield* ivy.waitFor((l) => l.includes(" 332 ivy #den :burrows only"))
    })))

  it.live.skipIf(noServer !== undefined)("an instance SIGKILLed: within 10 s its users are gone from /who elsewhere and their nicks can be taken, and the other instances go on", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshUrl
      const [s1, s2, s3] = (yield* instances(url, 3)) as [Server, Server, Server]
      const keeper = yield* connect(s1.port)
      const victim = yield* connect(s2.port)
      const far = yield* connect(s3.port)
      yield* nick(keeper, "keeper")
      yield* nick(victim, "kilroy")
      yield* nick(far, "far")
      const killed = Date.now()
      s2.proc.kill("SIGKILL")
      // Meanwhile instances 1 and 3 talk on.
      yield* keeper.write("still here\n")
      yield* far.waitFor((l) => l === "[lobby] keeper: still here", 1, 5_000)
      const deadline = killed + 10_000
      for (;;) {
        yield* keeper.write("/who\n")
        const answers = yield* keeper.waitFor((l) => l.startsWith("* in lobby ("), keeper.lines().filter((l) => l.startsWith("* in lobby (")).length + 1)
        if (!answers.at(-1)!.includes("kilroy")) break
        assert.isBelow(Date.now(), deadline, "kilroy still listed 10 s after the kill")
        yield* Effect.sleep("200 millis")
      }
      const taker = yield* connect(s3.port)
      yield* nick(taker, "KILROY")
      assert.isAtMost(Date.now() - killed, 10_000)
      yield* taker.write("mine now\n")
      yield* keeper.waitFor((l) => l === "[lobby] KILROY: mine now")
    })))

  it.live.skipIf(noServer !== undefined)("the log stays bounded: every so many entries a snapshot, the entries before the one-but-latest deleted; an instance that joins later starts from it and agrees with the others", () =>
    Effect.scoped(Effect.gen(function*() {
      const { name, url } = yield* freshDatabase
      const env = { WEFT_CHAT_SNAPSHOT_EVERY: "20" }
      const s1 = yield* startServer(["--workers", "1", "--cluster", url], { env })
      const a = yield* connect(s1.port)
      yield* nick(a, "early")
      yield* a.write("/join den\n/topic set before the snapshot\n")
      yield* a.waitFor((l) => l === "* early set the topic of den: set before the snapshot")
      for (let k = 0; k < 60; k++) yield* a.write(`line ${k}\n`)
      yield* a.waitFor((l) => l === "[den] early: line 59")
      const rows = yield* query(name, "SELECT (SELECT min(seq) FROM weft_chat.log) AS first, (SELECT count(*) FROM weft_chat.snapshot) AS snapshots")
      assert.isAbove(Number(rows[0]!.first), 20, "the oldest entries are gone")
      assert.isAtLeast(Number(rows[0]!.snapshots), 1)

      const s2 = yield* startServer(["--workers", "1", "--cluster", url], { env })
      const b = yield* connect(s2.port)
      yield* b.write("/nick EARLY\n")
      yield* b.waitFor((l) => l === "! error: nick EARLY is taken")
      yield* b.write("/join den\n")
      yield* b.waitFor((l) => l.startsWith("* you are in den (2 here)"))
      yield* b.write("/topic\n")
      yield* b.waitFor((l) => l === "* topic of den: set before the snapshot")
      yield* b.write("hello early\n")
      yield* a.waitFor((l) => /^\[den\] guest\d+: hello early$/.test(l))
    })))

  it.live.skipIf(noServer !== undefined)("a line the database does not take within its deadline (1.5 s after it is sent) is shown to no one, and its sender is told; the chat goes on", () =>
    Effect.scoped(Effect.gen(function*() {
      const { name, url } = yield* freshDatabase
      const [s1, s2] = (yield* instances(url, 2)) as [Server, Server]
      const a = yield* connect(s1.port)
      const b = yield* connect(s2.port)
      yield* nick(a, "ann")
      // Another session holds the log's order lock: appends wait in the server, past their deadline.
      const { default: postgres } = yield* Effect.promise(() => import("postgres"))
      const dir = new URL(pg!.url!).searchParams.get("host")!
      const sql = yield* Effect.acquireRelease(
        Effect.sync(() => postgres({ path: `${dir}/.s.PGSQL.5432`, user: "postgres", database: name, max: 1, onnotice: () => {} })),
        (sql) => Effect.promise(() => sql.end())
      )
      yield* Effect.promise(() => sql.unsafe("SELECT pg_advisory_lock($1)", [ORDER_KEY]))
      yield* a.write("stalled\n")
      yield* Effect.sleep("2500 millis")
      yield* Effect.promise(() => sql.unsafe("SELECT pg_advisory_unlock($1)", [ORDER_KEY]))
      yield* a.waitFor((l) => l === "! error: not delivered: the chat's database did not answer in time; send it again")
      yield* a.write("flowing again\n")
      yield* b.waitFor((l) => l === "[lobby] ann: flowing again")
      for (const c of [a, b]) assert.isFalse(c.lines().some((l) => l.includes("stalled")))
    })))

  it.live("a --cluster that is not a postgres:// URL exits 2 and says why; a database that cannot be reached exits 1", () =>
    Effect.scoped(Effect.gen(function*() {
      const bad = yield* child(mainScript, ["--port", "0", "--irc-port", "0", "--cluster", "mysql://x"], { name: "server", stdin: "ignore", lines: "both" })
      assert.strictEqual(yield* exitCode(bad), 2)
      assert.include(bad.output(), "--cluster must be a postgres:// URL")
      const gone = yield* child(mainScript, ["--port", "0", "--irc-port", "0", "--workers", "1"], {
        name: "server",
        stdin: "ignore",
        lines: "both",
        env: { WEFT_CLUSTER_URL: "postgres://nobody@localhost/chat?host=/nonexistent-weft-dir" }
      })
      assert.strictEqual(yield* exitCode(gone), 1)
      assert.include(gone.output(), "cannot join the chat at postgres://nobody@localhost/chat?host=/nonexistent-weft-dir: ")
    })))
})
