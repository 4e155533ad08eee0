/// <reference lib="dom" />
// (page.evaluate callbacks run in the browser)
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { Serve } from "@weft/app"
import * as Chromium from "@weft/app/Chromium"
import * as Runs from "../src/runs.ts"
import type { Config, ScopeName } from "../src/scopes.ts"
import { makeApp } from "../src/server.ts"
import type { Entry } from "../src/simulation.ts"
import { checkInvariant } from "./check.ts"

// Red 0-300, green 300-600, red 600-900, green 900-1200, red 1200-1500, green from
// 1500 (the run ends at 1600, on green); cars at 0, 533, 1066 ms: every car passes,
// even one held up by a busy machine for a few hundred ms.
const short = { cars: "3", green: "300ms", red: "300ms", duration: "1600ms" }

/** The server on a free port, in a scope of its own that the test closes. */
const start = async () => {
  const scope = Effect.runSync(Scope.make())
  const { runs, server } = await Effect.runPromise(Scope.provide(
    Effect.gen(function*() {
      const runs = yield* Runs.make
      const server = yield* Serve.serve(makeApp(runs))
      return { runs, server }
    }),
    scope
  ))
  return { runs, url: server.url, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const post = (url: string, body: unknown) =>
  fetch(`${url}/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

/** Light changes, in order, must alternate red and green, starting red. */
const lightsAlternate = (entries: ReadonlyArray<Entry>) => {
  const lights = entries.filter((e) => e.kind === "red" || e.kind === "green").map((e) => e.kind)
  expect(lights.length).toBeGreaterThanOrEqual(4)
  lights.forEach((kind, i) => expect(kind, `light change ${i}`).toBe(i % 2 === 0 ? "red" : "green"))
}

describe("serve: the HTTP API", () => {
  it("bad runs are refused with 400 naming the field as the form does; a second run while one goes gets 409", async () => {
    const { close, runs, url } = await start()
    try {
      const refusal = async (body: unknown) => {
        const response = await post(url, body)
        expect(response.status, JSON.stringify(body)).toBe(400)
        return ((await response.json()) as { error: string }).error
      }
      expect(await refusal({ scope: "bus" })).toBe(`Scope: "bus" is not a scope (use fiber, thread, process or cluster)`)
      expect(await refusal({ cars: "51" })).toBe(`Cars: "51" is not a whole number from 1 to 50`)
      expect(await refusal({ cars: -5 })).toBe(`Cars: "-5" is not a whole number from 1 to 50`)
      expect(await refusal({ green: "2" })).toBe(`Green: "2" is not a duration (use e.g. 500ms, 2s, 1.5s, 1m)`)
      // A run stays bounded whoever starts it: its length, and how often the light turns.
      expect(await refusal({ duration: "3m" })).toBe("Duration: at most 2m")
      expect(await refusal({ green: "99ms" })).toBe("Green: at least 100ms")
      expect(await refusal({ red: "1ms" })).toBe("Red: at least 100ms")
      // Only JSON: a form (what another site's <form> posts) is 415.
      const form = await fetch(`${url}/runs`, { method: "POST", body: new URLSearchParams({ scope: "fiber" }) })
      expect(form.status).toBe(415)
      expect((await fetch(`${url}/runs/current`)).status).toBe(404)
      const first = await post(url, { scope: "fiber", ...short })
      expect(first.status).toBe(202)
      const second = await post(url, { scope: "fiber", ...short })
      expect(second.status).toBe(409)
      expect(((await second.json()) as { error: string }).error).toBe("run 1 is still going; wait for it to end")
      await Effect.runPromise(Runs.ended(runs))
      expect((await fetch(`${url}/health`)).status).toBe(200)
    } finally {
      await close()
    }
  })

  it.each(["fiber", "thread", "process"] as const)("a short run at %s scope: red and green in turn, every car passes, none on red", async (scope) => {
    const { close, runs, url } = await start()
    try {
      expect((await post(url, { scope, ...short })).status).toBe(202)
      const run = await Effect.runPromise(Runs.ended(runs))
      expect(run.status).toBe("done")
      lightsAlternate(run.entries)
      checkInvariant(run.entries, 3, 50)
      expect(run.verdict).toEqual({ ok: true, violations: [] })
      expect(run.summary?.trim()).toBe("1.600s  end: 3 of 3 cars passed")
      const log = await (await fetch(`${url}/runs/current`)).json() as { entries: Array<Entry> }
      expect(log.entries).toEqual(run.entries)
    } finally {
      await close()
    }
  }, 30_000)
})

interface Line {
  readonly t: number
  readonly kind: string
  readonly car: number | undefined
}

const shape = (e: Entry): Line => ({ t: e.t, kind: e.kind, car: "car" in e ? e.car : undefined })

describe("serve: the page, in Chromium", () => {
  it.skipIf(!Chromium.available)(
    Chromium.skipTitle("runs at fiber, thread and process scope: the light turns in turn, every car passes, the page's timeline is the server's log"),
    async () => {
      const { close, url } = await start()
      const browser = await Chromium.open()
      try {
        const page = await browser.newPage({ viewport: { width: 1000, height: 900 } })
        const problems = await Chromium.watch(page)
        await page.goto(`${url}/`)
        await page.waitForSelector("body[data-live=true]")
        // Every state the light shows, as it shows it.
        await page.evaluate(() => {
          const seen: Array<string> = []
          ;(window as any).lightStates = seen
          const light = document.getElementById("light")!
          new MutationObserver(() => {
            if (seen.at(-1) !== light.dataset.state) seen.push(light.dataset.state!)
          }).observe(light, { attributes: true, attributeFilter: ["data-state"] })
        })
        for (const [i, scope] of (["fiber", "thread", "process"] satisfies Array<ScopeName>).entries()) {
          await page.evaluate(() => ((window as any).lightStates.length = 0))
          await page.selectOption("select[name=scope]", scope)
          await page.fill("input[name=cars]", short.cars)
          await page.fill("input[name=green]", short.green)
          await page.fill("input[name=red]", short.red)
          await page.fill("input[name=duration]", short.duration)
          await page.click("#go")
          await page.waitForSelector(`#status[data-run="${i + 1}"][data-state=done]`, { timeout: 40_000 })
          const log = await (await fetch(`${url}/runs/current`)).json() as { config: Config; entries: Array<Entry> }
          expect(log.config.scope).toBe(scope)
          const shown = await page.$$eval("#timeline li:not(.end)", (items) =>
            items.map((li) => ({
              t: Number((li as HTMLElement).dataset.t),
              kind: (li as HTMLElement).dataset.kind!,
              car: (li as HTMLElement).dataset.car ? Number((li as HTMLElement).dataset.car) : undefined
            })))
          expect(shown).toEqual(log.entries.map(shape))
          // The light turned red and green in turn (the run starts red; the page may have been red already).
          const states: Array<string> = await page.evaluate(() => (window as any).lightStates)
          const turns = states[0] === "red" ? states : ["red", ...states]
          expect(turns.length).toBeGreaterThanOrEqual(4)
          turns.forEach((state, i) => expect(state).toBe(i % 2 === 0 ? "red" : "green"))
          expect(await page.$$eval("#passed .car", (cars) => cars.length)).toBe(3)
          expect(await page.$$eval("#waiting .car", (cars) => cars.length)).toBe(0)
          expect(await page.getAttribute("#badge", "data-ok")).toBe("true")
          expect(await page.textContent("#badge")).toBe("✓ no car passed on red")
          expect(await page.textContent("#timeline li.end")).toBe("1.600s  end: 3 of 3 cars passed")
        }
        await page.screenshot({ path: new URL("../.results/screenshot.png", import.meta.url).pathname, fullPage: true })
        // Phone width: nothing wider than the window.
        await page.setViewportSize({ width: 390, height: 844 })
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
        await page.screenshot({ path: new URL("../.results/screenshot-phone.png", import.meta.url).pathname, fullPage: true })
        // A timeline line too long for the phone goes on under its text, not under its time.
        const lines = await page.$$eval("#timeline li:not(.end)", (items) =>
          items.map((li) => {
            const all = document.createRange()
            all.selectNodeContents(li)
            // One or more boxes per line: each line starts at the leftmost box of its top.
            const starts = new Map<number, number>()
            for (const box of all.getClientRects()) starts.set(Math.round(box.top), Math.min(starts.get(Math.round(box.top)) ?? Infinity, box.left))
            const text = document.createRange()
            text.setStart(li.firstChild!, 11) // after "   0.600s  "
            text.setEnd(li.firstChild!, 12)
            const column = text.getBoundingClientRect().left
            const following = [...starts.entries()].sort(([a], [b]) => a - b).slice(1).map(([, left]) => left)
            return { wrapped: following.length > 0, aligned: following.every((left) => Math.abs(left - column) <= 2) }
          }))
        expect(lines.some((l) => l.wrapped)).toBe(true)
        expect(lines.filter((l) => !l.aligned)).toEqual([])
        // Three runs under the page's Content-Security-Policy, and an inline favicon: a clean console.
        expect(problems()).toEqual([])
      } finally {
        await browser.close()
        await close()
      }
    },
    150_000
  )
})
