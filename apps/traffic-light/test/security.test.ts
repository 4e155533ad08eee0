/**
 * The traffic light off loopback, and its HTTP hardening, against a real
 * `serve` process (`--host 0.0.0.0`, reached only through 127.0.0.1) and in
 * real Chromium: a foreign Host is refused (421), another origin cannot start
 * a run (403; a form or text/plain body 415), a 200 MB body is cut (413),
 * every answer carries the security headers, and a page on another origin
 * can neither start a run nor frame the page.
 */
import * as os from "node:os"
import * as Chromium from "@weft/app/Chromium"
import * as Guard from "@weft/app/Guard"
import * as Hostile from "@weft/app/Hostile"
import { child } from "@weft/testkit"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { script } from "../src/page.ts"

const main = new URL("../src/main.ts", import.meta.url)

/** `serve` with `args` as a child process, stopped with the scope; its printed URL and its loopback URL. */
const serve = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* child(main, ["serve", "--port", "0", ...args], {
      name: "serve",
      stdin: "ignore",
      stderr: "inherit",
      stop: { signal: "SIGTERM", graceMs: 10_000 }
    })
    const printed = /serving (http:\/\/\S+)/.exec(yield* server.line(/serving http:\/\/\S+/, 30_000))![1]!
    const port = Number(/:(\d+)$/.exec(printed)![1])
    return { printed, port, url: `http://127.0.0.1:${port}` }
  })

const current = async (url: string) => (await fetch(`${url}/runs/current`)).status

describe("the traffic light on a network", () => {
  it("serve --host 0.0.0.0 --public-host prints that name, answers through 127.0.0.1 and by its names, 421 to any other Host", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { port, printed, url } = yield* serve(["--host", "0.0.0.0", "--public-host", "lights.test"])
      expect(printed).toBe(`http://lights.test:${port}`)
      yield* Effect.promise(async () => {
        const status = async (host: string) => (await Hostile.request(`${url}/health`, { headers: { host } })).status
        expect(await status(`127.0.0.1:${port}`)).toBe(200)
        expect(await status(`lights.test:${port}`)).toBe(200)
        expect(await status(`${os.hostname()}:${port}`)).toBe(200)
        expect(await status(`evil.example:${port}`)).toBe(421)
      })
    }))), 60_000)
})

describe("the traffic light's HTTP hardening", () => {
  it("loopback: 421 for a foreign Host, 403 for another origin's run, 415 for a form or text/plain, 413 for 200 MB; no run starts", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { port, url } = yield* serve([])
      yield* Effect.promise(async () => {
        expect((await Hostile.request(`${url}/`, { headers: { host: `evil.example:${port}` } })).status).toBe(421)
        const start = (headers: Record<string, string>, body = `{"scope":"fiber","cars":1,"duration":"1s"}`) =>
          Hostile.request(`${url}/runs`, { method: "POST", headers, body })
        const json = { "content-type": "application/json" }
        expect((await start({ ...json, origin: "http://evil.example" })).status).toBe(403)
        expect((await start({ ...json, origin: `http://localhost:${port}` })).status).toBe(403)
        expect((await start({ "content-type": "text/plain" })).status).toBe(415)
        expect((await start({ "content-type": "application/x-www-form-urlencoded" }, "scope=fiber&cars=1")).status).toBe(415)
        const flood = await Hostile.flood(`${url}/runs`)
        expect(flood.status).toBe(413)
        expect(flood.sent).toBeLessThan(64 * 1024 * 1024)
        expect(await current(url)).toBe(404)
        for (const route of ["/", "/health", "/nothing"]) {
          const { headers } = await Hostile.request(`${url}${route}`)
          expect(headers["content-security-policy"]).toContain(`script-src ${Guard.scriptHash(script)}`)
          expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'")
          expect(headers["x-content-type-options"]).toBe("nosniff")
          expect(headers["referrer-policy"]).toBe("no-referrer")
        }
        // Its own origin starts one.
        expect((await start({ ...json, origin: `http://127.0.0.1:${port}` })).status).toBe(202)
      })
    }))), 60_000)

  it.skipIf(!Chromium.available)(
    Chromium.skipTitle("a page on another origin cannot start a run (a cross-site form, a no-cors fetch) nor frame the page"),
    () =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const { url } = yield* serve([])
        // The same loopback address on another port, and the page under another name: both other origins.
        for (const target of [url, url.replace("127.0.0.1", "localhost")]) {
          const evil = yield* Hostile.crossSite(target, { path: "/runs", fields: { scope: "process", cars: "50" }, json: { scope: "process", cars: 50 } })
          const browser = yield* Chromium.launch
          const visit = yield* Effect.promise(() => Hostile.visit(browser, evil.url))
          // Its form's POST is refused, and so is framing (frame-ancestors 'none').
          expect(visit).toEqual({ formStatus: 403, frameRefused: true })
          expect(yield* Effect.promise(() => current(url))).toBe(404)
        }
      }))),
    90_000
  )
})
