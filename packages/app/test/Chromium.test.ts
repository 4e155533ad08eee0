import { Effect } from "effect"
import { Hono } from "hono"
import { describe, expect, it } from "vitest"
import * as Chromium from "../src/Chromium.ts"
import * as Guard from "../src/Guard.ts"
import { serve } from "../src/Serve.ts"

describe("Chromium", () => {
  it("flags: headless, no sandbox, nothing that reaches the network on its own", () => {
    for (const flag of ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync"]) {
      expect(Chromium.flags).toContain(flag)
    }
    expect(Chromium.available).toBe(Chromium.reason === undefined)
  })

  it("skipTitle names the reason when there is no browser", () => {
    expect(Chromium.skipTitle("x")).toBe(Chromium.available ? "x" : `x (skipped: ${Chromium.reason})`)
  })

  it.skipIf(!Chromium.available)(Chromium.skipTitle("opens a page served by Serve.serve and runs its script"), async () => {
    const app = new Hono().get("/", (c) =>
      c.html(`<p id="out">static</p><script>document.getElementById("out").textContent = "from script"</script>`))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* serve(app)
      const browser = yield* Chromium.launch
      const text = yield* Effect.promise(async () => {
        const page = await browser.newPage()
        await page.goto(`${server.url}/`)
        return page.textContent("#out")
      })
      expect(text).toBe("from script")
    })))
  }, 60_000)

  it.skipIf(!Chromium.available)(Chromium.skipTitle("every launch gets a fresh profile: nothing stored carries over"), async () => {
    const app = new Hono().get("/", (c) => c.html("<p>hi</p>"))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* serve(app)
      const stored = (set: boolean) =>
        Effect.scoped(Effect.gen(function*() {
          const browser = yield* Chromium.launch
          return yield* Effect.promise(async () => {
            const page = await browser.newPage()
            await page.goto(`${server.url}/`)
            return page.evaluate((set) => {
              if (set) localStorage.setItem("k", "v")
              return localStorage.getItem("k")
            }, set)
          })
        }))
      expect(yield* stored(true)).toBe("v")
      expect(yield* stored(false)).toBe(null)
    })))
  }, 60_000)

  it.skipIf(!Chromium.available)(Chromium.skipTitle("watch reports console errors, page errors and CSP violations, and nothing on a clean page"), async () => {
    const good = `document.getElementById("out").textContent = "ran"`
    const app = new Hono()
    app.use(Guard.make({ scripts: [good] }))
    app.get("/clean", (c) => c.html(`<link rel="icon" href="data:,"><p id="out"></p><script>${good}</script>`))
    app.get("/dirty", (c) => c.html(`<link rel="icon" href="data:,"><p id="out"></p><script>${good}</script><script>document.title = "x"</script><script>${good};throw new Error("boom")</script>`))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* serve(app)
      const browser = yield* Chromium.launch
      const [clean, dirty] = yield* Effect.promise(async () => {
        const look = async (path: string) => {
          const page = await browser.newPage()
          const problems = await Chromium.watch(page)
          await page.goto(`${server.url}${path}`)
          await page.waitForFunction(`document.getElementById("out")?.textContent === "ran"`)
          return problems
        }
        return [await look("/clean"), await look("/dirty")] as const
      })
      expect(clean()).toEqual([])
      // Both unhashed scripts are refused (the second differs from the hashed one), and reported.
      yield* Effect.promise(() => expect.poll(() => dirty().filter((p) => p.includes("CSP violation: script-src")).length).toBe(2))
      expect(dirty().some((p) => p.startsWith("console error: Executing inline script violates") || p.includes("Refused to execute inline script"))).toBe(true)
    })))
  }, 60_000)
})
