/// <reference lib="dom" />
// A run at thread or process scope first starts its cars' workers; its clock starts only once
// they are ready (the `ready` update), and the page says it is starting them until then.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Serve } from "@weft/app"
import * as Chromium from "@weft/app/Chromium"
import * as Runs from "../src/runs.ts"
import { makeApp } from "../src/server.ts"

/** The runs of a fresh server, served on a free port while `f` runs, then stopped. */
const withServer = <A>(f: (runs: Runs.Runs, url: string) => Promise<A>): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const runs = yield* Runs.make
    const server = yield* Serve.serve(makeApp(runs))
    return yield* Effect.promise(() => f(runs, server.url))
  })))

describe("a run's clock starts once its workers are ready", () => {
  it.each(["fiber", "thread", "process"] as const)("%s scope: run, ready, then the entries and the end; the run lasts its duration from ready", async (scope) => {
    await withServer(async (runs) => {
      const seen: Array<{ type: string; at: number; t?: number }> = []
      const { unsubscribe } = runs.subscribe((u) => seen.push({ type: u.type, at: performance.now(), ...(u.type === "entry" ? { t: u.entry.t } : {}) }))
      const duration = 1_200
      await Effect.runPromise(runs.start({ scope, cars: 4, green: 300, red: 300, duration }))
      const run = await Effect.runPromise(Runs.ended(runs))
      unsubscribe()
      expect(run.status).toBe("done")
      expect(run.ready).toBe(true)
      expect(seen.map((u) => u.type).filter((type) => type !== "entry")).toEqual(["run", "ready", "end"])
      const ready = seen.findIndex((u) => u.type === "ready")
      expect(seen.findIndex((u) => u.type === "entry"), "no entry before ready").toBeGreaterThan(ready)
      // The first light change is red at 0, recorded right after ready; the light's last
      // phase ends at the duration, measured from ready, not from the start of the workers.
      const first = seen.find((u) => u.type === "entry")!
      expect(first.t).toBe(0)
      const lastLight = Math.max(...run.entries.filter((e) => e.kind === "red" || e.kind === "green").map((e) => e.t))
      expect(lastLight).toBeLessThan(duration)
      const fromReady = seen.at(-1)!.at - seen[ready]!.at
      // At least the duration; at most the duration, the cars' 1 s grace and room for a loaded machine.
      expect(fromReady).toBeGreaterThanOrEqual(duration - 20)
      expect(fromReady).toBeLessThan(duration + 1_000 + 4_000)
    })
  }, 60_000)
})

describe("the page while the workers start, in Chromium", () => {
  it.skipIf(!Chromium.available)(
    Chromium.skipTitle("process scope: \"starting 3 worker processes...\" until they are ready, then the run's settings"),
    () => withServer(async (_runs, url) => {
      const browser = await Chromium.open()
      try {
        const page = await browser.newPage()
        await page.goto(`${url}/`)
        await page.waitForSelector("body[data-live=true]")
        // Every text the status line shows, in order (the starting one may last only a moment).
        await page.evaluate(() => {
          const seen: Array<string> = []
          ;(window as any).statusTexts = seen
          const status = document.getElementById("status")!
          new MutationObserver(() => {
            const text = `${status.dataset.state}: ${status.textContent}`
            if (seen.at(-1) !== text) seen.push(text)
          }).observe(status, { attributes: true, childList: true, characterData: true, subtree: true })
        })
        await page.selectOption("select[name=scope]", "process")
        await page.fill("input[name=cars]", "3")
        await page.fill("input[name=green]", "300ms")
        await page.fill("input[name=red]", "300ms")
        await page.fill("input[name=duration]", "900ms")
        await page.click("#go")
        await page.waitForSelector(`#status[data-run="1"][data-state=done]`, { timeout: 40_000 })
        const texts: Array<string> = await page.evaluate(() => (window as any).statusTexts)
        const starting = texts.findIndex((text) => text === "starting: run 1: starting 3 worker processes...")
        const running = texts.findIndex((text) => /^running: run 1: 3 cars at process scope, green 300 ms, red 300 ms, for 900 ms$/.test(text))
        expect(starting, texts.join("\n")).toBeGreaterThanOrEqual(0)
        expect(running, texts.join("\n")).toBeGreaterThan(starting)
      } finally {
        await browser.close()
      }
    }),
    90_000
  )
})
