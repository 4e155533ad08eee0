/// <reference lib="dom" />
/**
 * The chat off loopback, and its web side's HTTP hardening, against real
 * chat processes (`--host 0.0.0.0`, reached only through 127.0.0.1) and in
 * real Chromium: nc and IRC answer on the bound address, the web side
 * refuses a foreign Host (421) and another origin's WebSocket (403), carries
 * the security headers, and a page on another origin can neither open the
 * chat's WebSocket nor frame the page.
 */
import { assert, describe, it } from "@effect/vitest"
import * as net from "node:net"
import * as os from "node:os"
import * as Chromium from "@weft/app/Chromium"
import * as Guard from "@weft/app/Guard"
import * as Hostile from "@weft/app/Hostile"
import { Effect } from "effect"
import * as Page from "../src/page.ts"
import { connect, startServer } from "./helpers.ts"

const webUsers = (http: string) =>
  Effect.promise(async () => {
    const stats = await (await fetch(`${http}/stats`)).json() as { workers: Array<{ id: string; connections: number }> }
    return stats.workers.find((w) => w.id === "web")!.connections
  })

describe("the chat on a network", () => {
  it.live("--host 0.0.0.0 --public-host: prints that name; nc, IRC and the web answer through 127.0.0.1; the web side 421s a foreign Host", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--host", "0.0.0.0", "--public-host", "chat.test", "--workers", "1"])
      assert.include(server.printed.chat, `tcp chat.test:${server.port}, 1 workers (try: nc chat.test ${server.port})`)
      assert.include(server.printed.irc, `irc chat.test:${server.ircPort} (try: irssi, /connect chat.test ${server.ircPort})`)
      assert.match(server.printed.http, /^http: http:\/\/chat\.test:\d+ /)
      const nc = yield* connect(server.port)
      yield* nc.write("/nick wanda\n")
      yield* nc.waitFor((l) => l === "* you are now wanda")
      // IRC listens on the same address.
      yield* Effect.callback<void, Error>((resume) => {
        const irc = net.connect(server.ircPort, "127.0.0.1")
        irc.once("connect", () => {
          irc.destroy()
          resume(Effect.void)
        })
        irc.once("error", (error) => resume(Effect.fail(error)))
      }).pipe(Effect.timeout("10 seconds"))
      const status = (host: string) => Effect.promise(async () => (await Hostile.request(`${server.http}/health`, { headers: { host } })).status)
      assert.strictEqual(yield* status("chat.test"), 200)
      assert.strictEqual(yield* status(os.hostname()), 200)
      assert.strictEqual(yield* status("127.0.0.1"), 200)
      assert.strictEqual(yield* status("evil.example"), 421)
    })), 60_000)

  it.live("a wildcard --host without --public-host prints the machine's host name; a --host that is no address exits 2 naming it", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--host", "::", "--workers", "1"])
      assert.include(server.printed.chat, `tcp ${os.hostname()}:${server.port},`)
      yield* (yield* connect(server.port)).write("/quit\n")
      const bad = yield* Effect.flip(startServer(["--host", "chat.example.org", "--workers", "1"]))
      assert.include(bad.message, "server exited (2)")
      assert.include(bad.message, `--host: "chat.example.org" is not an IPv4 or IPv6 address`)
    })), 60_000)
})

describe("the web chat's HTTP hardening", () => {
  it.live("421 for a foreign Host; 403 for another origin's WebSocket, 101 for its own; the headers on every answer", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "1"])
      const port = Number(/:(\d+)$/.exec(server.http)![1])
      yield* Effect.promise(async () => {
        assert.strictEqual((await Hostile.request(`${server.http}/`, { headers: { host: `evil.example:${port}` } })).status, 421)
        const upgrade = async (origin: string) => (await Hostile.request(`${server.http}/ws`, { headers: Hostile.upgrade(origin) })).status
        assert.strictEqual(await upgrade("http://evil.example"), 403)
        assert.strictEqual(await upgrade(`http://localhost:${port}`), 403)
        assert.strictEqual(await upgrade(`http://127.0.0.1:${port}`), 101)
        assert.strictEqual((await Hostile.request(`${server.http}/who`, { method: "POST", headers: { origin: "http://evil.example" } })).status, 403)
        for (const route of ["/", "/stats", "/nothing"]) {
          const { headers } = await Hostile.request(`${server.http}${route}`)
          assert.include(headers["content-security-policy"], `script-src ${Guard.scriptHash(Page.script)}`)
          assert.include(headers["content-security-policy"], "frame-ancestors 'none'")
          assert.strictEqual(headers["x-content-type-options"], "nosniff")
          assert.strictEqual(headers["referrer-policy"], "no-referrer")
        }
      })
    })), 60_000)

  it.live.skipIf(!Chromium.available)(
    Chromium.skipTitle("a page on another origin cannot open the chat's WebSocket (so cannot post or read /who), nor frame the page"),
    () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* startServer(["--workers", "1"])
        for (const target of [server.http, server.http.replace("127.0.0.1", "localhost")]) {
          const ws = target.replace("http:", "ws:") + "/ws"
          const evil = yield* Hostile.site(`<!doctype html><link rel="icon" href="data:,">
<iframe src="${target}/"></iframe>
<script>
  const ws = new WebSocket("${ws}")
  ws.onopen = () => { document.body.dataset.ws = "open"; ws.send("hello from elsewhere"); ws.send("/who") }
  ws.onmessage = (e) => { document.body.dataset.read = (document.body.dataset.read || "") + e.data }
  ws.onclose = () => { document.body.dataset.ws = document.body.dataset.ws || "refused" }
</script>`)
          const chromium = yield* Chromium.launch
          yield* Effect.promise(async () => {
            const page = await chromium.newPage()
            const problems = await Chromium.watch(page)
            await page.goto(`${evil.url}/`)
            await page.waitForFunction(() => document.body.dataset.ws !== undefined, undefined, { timeout: 10_000 })
            assert.strictEqual(await page.getAttribute("body", "data-ws"), "refused")
            assert.strictEqual(await page.getAttribute("body", "data-read"), null)
            for (let i = 0; i < 100 && !problems().some((p) => p.includes("frame-ancestors")); i++) await new Promise((r) => setTimeout(r, 100))
            assert.isTrue(problems().some((p) => p.includes("frame-ancestors")), problems().join("\n"))
          })
          assert.strictEqual(yield* webUsers(server.http), 0)
        }
      })),
    90_000
  )
})
