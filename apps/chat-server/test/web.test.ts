/// <reference lib="dom" />
/**
 * The web chat in real Chromium (Debian's /usr/bin/chromium through
 * playwright-core, via @weft/app/Chromium): a browser user and an nc user in
 * the same rooms, both ways; two browser users cannot share a nick. Skipped,
 * with the reason in the title, where there is no Chromium.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as Chromium from "@weft/app/Chromium"
import { Effect } from "effect"
import type { Browser, Page } from "playwright-core"
import { connect, startServer } from "./helpers.ts"

const shots = new URL("../.results/", import.meta.url).pathname

const browser = Effect.acquireRelease(
  Effect.promise(() => Chromium.open()),
  (b: Browser) => Effect.promise(() => b.close())
)

const logLines = (page: Page) => page.$$eval("#log li", (lis) => lis.map((li) => li.textContent ?? ""))

/** Waits until the page's log has a line for which `predicate` holds. */
const logged = (page: Page, text: string, timeout = 10_000) =>
  Effect.promise(() => page.waitForFunction((t) => [...document.querySelectorAll("#log li")].some((li) => li.textContent === t), text, { timeout }))

const type = (page: Page, line: string) =>
  Effect.promise(async () => {
    await page.fill("#line", line)
    await page.press("#line", "Enter")
  })

const setNick = (page: Page, nick: string) =>
  Effect.promise(async () => {
    await page.fill("#nick", nick)
    await page.click("#nickForm button")
  })

describe("web chat (WebSocket, Hono page)", () => {
  it.live("GET / serves the page; /ws speaks the plain protocol, one line per message", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* startServer(["--workers", "1"])
      const page = yield* Effect.promise(() => fetch(`${server.http}/`).then(async (r) => ({ type: r.headers.get("content-type"), body: await r.text() })))
      assert.include(page.type, "text/html")
      assert.include(page.body, "<title>weft chat</title>")
      assert.include(page.body, 'name="viewport"')
      const nc = yield* connect(server.port)
      const got: Array<string> = []
      const ws = yield* Effect.acquireRelease(
        Effect.callback<WebSocket, Error>((resume) => {
          const ws = new WebSocket(`${server.http.replace("http:", "ws:")}/ws`)
          ws.onmessage = (event) => void got.push(String(event.data))
          ws.onopen = () => resume(Effect.succeed(ws))
          ws.onerror = () => resume(Effect.fail(new Error("the WebSocket did not open")))
        }),
        (ws) => Effect.sync(() => ws.close())
      )
      const until = (f: () => boolean) =>
        Effect.gen(function*() {
          const deadline = Date.now() + 10_000
          while (!f()) {
            if (Date.now() > deadline) return yield* Effect.fail(new Error(`timed out; got ${JSON.stringify(got)}`))
            yield* Effect.sleep("20 millis")
          }
        })
      yield* until(() => got.some((l) => l.startsWith("* welcome ")))
      ws.send("/nick wendy")
      yield* until(() => got.includes("* you are now wendy"))
      ws.send("hi from a socket")
      yield* nc.waitFor((l) => l === "[lobby] wendy: hi from a socket")
      ws.send("/frob")
      yield* until(() => got.some((l) => l.startsWith("! error: unknown command \"/frob\"")))
      assert.isTrue(got.every((l) => !l.includes("\n")), "one line per message")
      const stats = yield* Effect.promise(() => fetch(`${server.http}/stats`).then((r) => r.json() as Promise<{ workers: Array<{ id: string; connections: number }> }>))
      assert.strictEqual(stats.workers.find((w) => w.id === "web")?.connections, 1)
      // SIGTERM: web users are told too, before the server closes.
      let closed = false
      ws.addEventListener("close", () => (closed = true))
      process.kill(server.proc.pid!, "SIGTERM")
      yield* until(() => closed)
      assert.include(got, "* server shutting down; disconnecting")
      assert.strictEqual(yield* server.exited(), 0)
    })))

  it.live.skipIf(!Chromium.available)(
    Chromium.skipTitle("a browser user and an nc user exchange room and private messages both ways; two browser users cannot share a nick"),
    () =>
      Effect.scoped(Effect.gen(function*() {
        const server = yield* startServer(["--workers", "2"])
        const chromium = yield* browser
        const context = yield* Effect.acquireRelease(
          Effect.promise(() => chromium.newContext({ viewport: { width: 390, height: 780 } })),
          (c) => Effect.promise(() => c.close())
        )
        const page = yield* Effect.promise(() => context.newPage())
        const problems = yield* Effect.promise(() => Chromium.watch(page))
        yield* Effect.promise(() => page.goto(`${server.http}/`))
        yield* Effect.promise(() => page.waitForFunction(() => /^guest\d+$/.test(document.getElementById("me")?.textContent ?? ""), undefined, { timeout: 10_000 }))
        yield* setNick(page, "webby")
        yield* Effect.promise(() => page.waitForFunction(() => document.getElementById("me")?.textContent === "webby", undefined, { timeout: 10_000 }))

        const nc = yield* connect(server.port)
        yield* nc.write("/nick bob\n")
        yield* nc.waitFor((l) => l === "* you are now bob")
        // Room messages, both ways.
        yield* nc.write("hello web\n")
        yield* logged(page, "[lobby] bob: hello web")
        yield* type(page, "hello nc")
        yield* nc.waitFor((l) => l === "[lobby] webby: hello nc")
        // Private messages, both ways.
        yield* nc.write("/msg webby psst\n")
        yield* logged(page, "[pm] bob: psst")
        assert.strictEqual(yield* Effect.promise(() => page.getAttribute("#log li.pm", "class")), "pm")
        yield* type(page, "/msg bob back at you")
        yield* nc.waitFor((l) => l === "[pm] webby: back at you")
        yield* logged(page, "[pm -> bob] webby: back at you")
        // The panels: who is here, the rooms, the topic; an error from the server.
        yield* Effect.promise(() => page.waitForSelector('#who li[data-nick="bob"]', { timeout: 10_000 }))
        yield* nc.write("/topic welcome, web and nc\n")
        yield* Effect.promise(() => page.waitForFunction(() => document.getElementById("topicText")?.textContent === "welcome, web and nc", undefined, { timeout: 10_000 }))
        yield* type(page, "/join den")
        yield* Effect.promise(() => page.waitForSelector('#rooms li.current[data-room="den"]', { timeout: 10_000 }))
        yield* nc.write("/join den\nin the den\n")
        yield* logged(page, "[den] bob: in the den")
        yield* Effect.promise(() => page.waitForSelector('#who li[data-nick="bob"]', { timeout: 10_000 }))
        // webby made den, so is its operator: marked in the member list, with a kick button for bob.
        yield* Effect.promise(() => page.waitForSelector('#who li.op[data-nick="webby"]', { timeout: 10_000 }))
        yield* Effect.promise(() => page.click('#who li[data-nick="bob"] button.kick', { timeout: 10_000 }))
        yield* nc.waitFor((l) => l === "* you were kicked from den by webby (webby); your current room is lobby")
        yield* Effect.promise(() => page.waitForFunction(() => document.querySelector('#who li[data-nick="bob"]') === null, undefined, { timeout: 10_000 }))
        // A browser user kicked sees why.
        yield* nc.write("/join cave\n")
        yield* nc.waitFor((l) => l === "* you are in cave (1 here)")
        yield* type(page, "/join cave")
        yield* nc.waitFor((l) => l === "* webby joined cave")
        yield* nc.write("/kick webby no browsers in the cave\n")
        yield* logged(page, "* you were kicked from cave by bob (no browsers in the cave); your current room is den")
        yield* Effect.promise(() => page.waitForSelector('#rooms li.current[data-room="den"]', { timeout: 10_000 }))
        yield* type(page, "/msg nobody hi")
        yield* logged(page, "! error: no one is called nobody")
        const errorClass = yield* Effect.promise(() => page.$eval("#log li.error", (li) => li.className))
        assert.strictEqual(errorClass, "error")
        yield* Effect.promise(() => page.waitForSelector('#rooms li[data-room="lobby"]', { timeout: 10_000 }))

        // A second browser user cannot take the nick, in any case.
        const other = yield* Effect.promise(() => context.newPage())
        yield* Effect.promise(() => other.goto(`${server.http}/`))
        yield* Effect.promise(() => other.waitForFunction(() => /^guest\d+$/.test(document.getElementById("me")?.textContent ?? ""), undefined, { timeout: 10_000 }))
        yield* setNick(other, "WEBBY")
        yield* logged(other, "! error: nick WEBBY is taken")
        assert.match((yield* Effect.promise(() => other.textContent("#me"))) ?? "", /^guest\d+$/)
        assert.isFalse((yield* Effect.promise(() => logLines(page))).some((l) => l.includes("WEBBY")))

        fs.mkdirSync(shots, { recursive: true })
        yield* Effect.promise(() => page.screenshot({ path: `${shots}chat-phone.png` }))
        yield* Effect.promise(() => page.setViewportSize({ width: 1100, height: 700 }))
        yield* Effect.promise(() => page.screenshot({ path: `${shots}chat.png` }))
        // The whole session under the page's Content-Security-Policy: a clean console.
        assert.deepStrictEqual(problems(), [])
      }))
  )
})
