/**
 * The ticket office off loopback, and its HTTP hardening, against real
 * `serve` processes (`--host 0.0.0.0`, reached only through 127.0.0.1) and
 * in real Chromium: a foreign Host is refused (421), another origin cannot
 * buy (403; a form or text/plain body 415), a 200 MB body is cut at 4 KiB
 * (413), every answer carries the security headers, and a page on another
 * origin can neither buy nor frame the office.
 */
import * as os from "node:os"
import * as path from "node:path"
import * as Chromium from "@weft/app/Chromium"
import * as Guard from "@weft/app/Guard"
import * as Hostile from "@weft/app/Hostile"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Page from "../src/page.ts"
import { child, mainScript, tempDir } from "./helpers.ts"

/** `serve` with `args` on a fresh store of 5; its printed URL and its loopback URL. */
const serve = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const file = path.join(yield* tempDir, "tickets.json")
    const server = yield* child(mainScript, ["serve", "--file", file, "--tickets", "5", ...args])
    const line = yield* server.line("serving http://", 30_000)
    const printed = /serving (http:\/\/\S+)/.exec(line)![1]!
    const port = Number(/:(\d+)$/.exec(printed)![1])
    return { printed, url: `http://127.0.0.1:${port}`, port }
  })

const tickets = async (url: string) => (await fetch(`${url}/tickets`)).json()

describe("the ticket office on a network", () => {
  it("--host 0.0.0.0 --workers 2 prints --public-host, answers through 127.0.0.1, the host name and --public-host, and 421 to any other Host", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { port, printed, url } = yield* serve(["--host", "0.0.0.0", "--public-host", "tickets.test", "--workers", "2"])
      expect(printed).toBe(`http://tickets.test:${port}`)
      const status = (host: string) => Effect.promise(async () => (await Hostile.request(`${url}/tickets`, { headers: { host } })).status)
      expect(yield* status(`127.0.0.1:${port}`)).toBe(200)
      expect(yield* status(`tickets.test:${port}`)).toBe(200)
      expect(yield* status(`${os.hostname()}:${port}`)).toBe(200)
      expect(yield* status(`evil.example:${port}`)).toBe(421)
    }))), 60_000)

  it("a wildcard bind without --public-host prints the machine's host name; a bad --host exits 2 naming it", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { port, printed } = yield* serve(["--host", "::"])
      expect(printed).toBe(`http://${os.hostname()}:${port}`)
      const bad = yield* child(mainScript, ["serve", "--host", "example.org"])
      expect(yield* bad.exited).toBe(2)
      expect(bad.output()).toContain(`--host: "example.org" is not an IPv4 or IPv6 address`)
    }))), 60_000)
})

describe("the ticket office's HTTP hardening", () => {
  it("loopback: 421 for a foreign Host, 403 for another origin's POST, 415 for a form or text/plain, 413 for 200 MB; nothing sold", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { port, url } = yield* serve(["--workers", "2"])
      yield* Effect.promise(async () => {
        expect((await Hostile.request(`${url}/`, { headers: { host: `evil.example:${port}` } })).status).toBe(421)
        const buy = (headers: Record<string, string>, body = `{"buyer":"mallory"}`) =>
          Hostile.request(`${url}/buy`, { method: "POST", headers, body })
        const json = { "content-type": "application/json" }
        expect((await buy({ ...json, origin: "http://evil.example" })).status).toBe(403)
        expect((await buy({ ...json, origin: `http://localhost:${port}` })).status).toBe(403)
        expect((await buy({ ...json, "sec-fetch-site": "cross-site" })).status).toBe(403)
        expect((await buy({ "content-type": "text/plain;charset=UTF-8" })).status).toBe(415)
        expect((await buy({ "content-type": "application/x-www-form-urlencoded" }, "buyer=mallory")).status).toBe(415)
        const flood = await Hostile.flood(`${url}/buy`)
        expect(flood.status).toBe(413)
        expect(flood.sent).toBeLessThan(64 * 1024 * 1024)
        expect(await tickets(url)).toEqual({ count: 5, sold: 0, total: 5 })
        // The page's own origin buys.
        expect((await buy({ ...json, origin: `http://127.0.0.1:${port}` })).status).toBe(200)
        // The headers, on the page and on the API.
        for (const route of ["/", "/tickets", "/nothing"]) {
          const { headers } = await Hostile.request(`${url}${route}`)
          expect(headers["content-security-policy"]).toContain(`script-src ${Guard.scriptHash(Page.script)}`)
          expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'")
          expect(headers["x-content-type-options"]).toBe("nosniff")
          expect(headers["referrer-policy"]).toBe("no-referrer")
        }
      })
    }))), 90_000)

  it.skipIf(!Chromium.available)(
    Chromium.skipTitle("a page on another origin cannot buy (no-cors fetch, a plain form) nor frame the office"),
    () =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const { url } = yield* serve([])
        // The same loopback address on another port, and the office under another name: both other origins.
        for (const office of [url, url.replace("127.0.0.1", "localhost")]) {
          const evil = yield* Hostile.crossSite(office, { path: "/buy", fields: { buyer: "mallory" }, json: { buyer: "mallory" } })
          const browser = yield* Chromium.launch
          const visit = yield* Effect.promise(() => Hostile.visit(browser, evil.url))
          // Its form's POST is refused, and so is framing (frame-ancestors 'none').
          expect(visit).toEqual({ formStatus: 403, frameRefused: true })
          expect(yield* Effect.promise(() => tickets(url))).toEqual({ count: 5, sold: 0, total: 5 })
        }
      }))),
    90_000
  )
})
