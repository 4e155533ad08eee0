// `npm start -- --cluster URL`: the launcher passes the cluster to each app (the chat's
// `--cluster`, the ticket office's `--store`, the traffic light's `--scope cluster --cluster`),
// and the traffic light started from its command line runs on a throwaway PostgreSQL, with the
// cars of another process (another machine's `traffic-light cars`) joining its run.
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Child } from "@weft/app"
import { start as startScript } from "@weft/testkit"
import { findBin, startServer } from "@weft/testkit/postgres"
import * as Apps from "../src/apps.ts"
import { type Options, parse } from "../src/cli.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const url = "postgres://weft@db.example:5432/weft"
const options = (argv: Array<string>) => parse(argv, root) as Options

describe("npm start -- --cluster URL: the apps' command lines", () => {
  it("the chat gets --cluster URL, the ticket office serve --store URL --tickets 100 (no file), the traffic light serve --scope cluster --cluster URL", () => {
    const on = options(["--cluster", url])
    const chat = Apps.chatSpec(on, true).args
    expect(chat.slice(chat.indexOf("--cluster"), chat.indexOf("--cluster") + 2)).toEqual(["--cluster", url])
    const tickets = Apps.ticketsSpec(root, on).args
    expect(tickets[0]).toBe("serve")
    // A new store starts with 100 tickets; one in use keeps its sale (the ticket office's rule for --tickets).
    expect(tickets.slice(tickets.indexOf("--store"), tickets.indexOf("--store") + 4)).toEqual(["--store", url, "--tickets", "100"])
    expect(tickets).not.toContain("--file")
    const traffic = Apps.trafficSpec(on).args
    expect(traffic[0]).toBe("serve")
    expect(traffic.slice(traffic.indexOf("--scope"))).toEqual(["--scope", "cluster", "--cluster", url])
  })

  it("without --cluster the command lines are as before: no cluster flag, the ticket office on its file", () => {
    const off = options(["--data", "/tmp/weft-data"])
    for (const args of [Apps.chatSpec(off, true).args, Apps.ticketsSpec(root, off).args, Apps.trafficSpec(off).args]) {
      expect(args).not.toContain("--cluster")
      expect(args).not.toContain("--store")
      expect(args).not.toContain("--scope")
    }
    expect(Apps.ticketsSpec(root, off).args).toContain(path.join("/tmp/weft-data", "tickets.json"))
  })
})

const noServer = findBin("initdb") === undefined || findBin("pg_ctl") === undefined
  ? "no PostgreSQL server: initdb/pg_ctl not found (install Debian's postgresql)"
  : undefined
if (noServer !== undefined) console.warn(`\n*** npm start --cluster test SKIPPED: ${noServer} ***\n`)

describe(`npm start -- --cluster URL: the traffic light on a throwaway PostgreSQL${noServer === undefined ? "" : ` (skipped: ${noServer})`}`, () => {
  let pg: ReturnType<typeof startServer> | undefined
  beforeAll(() => {
    if (noServer === undefined) pg = startServer()
  }, 60_000)
  afterAll(() => pg?.stop?.())

  it.skipIf(noServer !== undefined)("started as the launcher starts it, its page runs at cluster scope; another machine's cars join the run and pass, none on red", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const cluster = pg!.url!
      const on = options(["--cluster", cluster, "--traffic-port", "0"])
      const traffic = yield* Apps.start(root, Apps.trafficSpec(on), () => {})
      const page = traffic.addresses[0]!.url
      // The form's first choice is the cluster scope.
      expect(yield* Effect.promise(() => fetch(page).then((r) => r.text()))).toMatch(/<option value="cluster" selected>/)
      const cars = startScript(path.join(root, "apps/traffic-light/src/main.ts"), ["cars", "--cluster", cluster, "--count", "2", "--machine", "second"])
      yield* Effect.addFinalizer(() => Effect.promise(async () => {
        if (cars.exit() === undefined) cars.proc.kill("SIGKILL")
        await cars.exited
      }))
      yield* Effect.promise(() => cars.line("second: 2 cars waiting to join a run", 60_000))
      const response = yield* Effect.promise(() =>
        fetch(`${page}/runs`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: page },
          body: JSON.stringify({ scope: "cluster", cars: 2, green: "500ms", red: "500ms", duration: "4s" })
        })
      )
      expect(response.status).toBe(202)
      expect((yield* Effect.promise(() => cars.exited)).code, cars.report()).toBe(0)
      type Run = { status: string; joins: Array<{ machine: string }>; verdict: { ok: boolean }; summary?: string; entries: Array<{ kind: string; machine?: string }> }
      let run: Run | undefined
      const deadline = Date.now() + 30_000
      while (Date.now() < deadline) {
        run = yield* Effect.promise(() => fetch(`${page}/runs/current`).then((r) => r.json() as Promise<Run>))
        if (run.status !== "running") break
        yield* Effect.sleep(200)
      }
      expect(run!.status).toBe("done")
      expect(run!.joins.map((j) => j.machine)).toEqual(["second"])
      expect(run!.entries.filter((e) => e.kind === "pass" && e.machine === "second")).toHaveLength(2)
      expect(run!.verdict.ok).toBe(true)
      expect(run!.summary).toMatch(/end: 4 of 4 cars passed/)
    }).pipe(Effect.provide(Child.layer)))), 120_000)
})

describe(`npm start -- --cluster URL: two launchers' chats and ticket offices on one PostgreSQL${noServer === undefined ? "" : ` (skipped: ${noServer})`}`, () => {
  let pg: ReturnType<typeof startServer> | undefined
  beforeAll(() => {
    if (noServer === undefined) pg = startServer()
  }, 60_000)
  afterAll(() => pg?.stop?.())

  it.skipIf(noServer !== undefined)("started as the launcher starts them, twice: one stock (a seat sold at one office is gone at the other) and one chat (a nick taken at one is refused at the other)", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const cluster = pg!.url!
      const on = options(["--cluster", cluster, "--chat-port", "0", "--irc-port", "0", "--chat-http-port", "0", "--tickets-port", "0", "--workers", "1"])
      // Two launchers' worth: the second joins the first's sale and chat.
      const offices = [yield* Apps.start(root, Apps.ticketsSpec(root, on), () => {}), yield* Apps.start(root, Apps.ticketsSpec(root, on), () => {})]
      const [a, b] = offices.map((o) => o.addresses[0]!.url)
      const buy = (base: string, key: string) =>
        Effect.promise(() =>
          fetch(`${base}/buy`, {
            method: "POST",
            headers: { "content-type": "application/json", "idempotency-key": key, origin: base },
            body: JSON.stringify({ buyer: key })
          }).then(async (r) => ({ status: r.status, body: await r.json() as { order?: { seat: number } } }))
        )
      const first = yield* buy(a!, "one")
      const second = yield* buy(b!, "two")
      expect([first.status, second.status]).toEqual([200, 200])
      expect(new Set([first.body.order?.seat, second.body.order?.seat]).size).toBe(2)
      const counts = yield* Effect.promise(() => Promise.all([a, b].map((u) => fetch(`${u}/tickets`).then((r) => r.json()))))
      expect(counts[0]).toEqual(counts[1])
      expect(counts[0]).toMatchObject({ sold: 2, total: 100 })

      const chats = [yield* Apps.start(root, Apps.chatSpec(on, true), () => {}), yield* Apps.start(root, Apps.chatSpec(on, true), () => {})]
      const nc = chats.map((c) => Number(new URL(c.addresses.find((x) => x.label === "chat (nc)")!.url).port))
      const health = yield* Effect.promise(() => fetch(`${chats[0]!.addresses[0]!.url}/health`).then((r) => r.json()))
      expect(health).toMatchObject({ cluster: "up" })
      const ada = yield* Effect.promise(() => talk(nc[0]!))
      yield* Effect.addFinalizer(() => Effect.sync(() => ada.close()))
      yield* Effect.promise(() => ada.send("/nick Ada", /Ada/))
      const bob = yield* Effect.promise(() => talk(nc[1]!))
      yield* Effect.addFinalizer(() => Effect.sync(() => bob.close()))
      // The nick namespace is the cluster's, and case-insensitive.
      yield* Effect.promise(() => bob.send("/nick ADA", /taken|in use/i))
    }).pipe(Effect.provide(Child.layer)))), 120_000)
})

/** A line-oriented nc client: `send` writes a line and waits for a line matching `expect`. */
const talk = (port: number) =>
  new Promise<{ send(line: string, expect: RegExp): Promise<string>; close(): void }>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    let buffer = ""
    const waiting: Array<{ expect: RegExp; done: (line: string) => void }> = []
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      buffer += chunk
      const lines = buffer.split("\n")
      buffer = lines.pop()!
      for (const line of lines) {
        const i = waiting.findIndex((w) => w.expect.test(line))
        if (i >= 0) waiting.splice(i, 1)[0]!.done(line)
      }
    })
    socket.once("error", reject)
    socket.once("connect", () =>
      resolve({
        send: (line, expect) =>
          new Promise<string>((done, fail) => {
            const timer = setTimeout(() => fail(new Error(`no line matching ${expect} after sending ${line}`)), 30_000)
            waiting.push({ expect, done: (l) => (clearTimeout(timer), done(l)) })
            socket.write(`${line}\n`)
          }),
        close: () => socket.destroy()
      })
    )
  })
