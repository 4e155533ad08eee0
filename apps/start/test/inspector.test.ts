/// <reference lib="dom" />
// The inspector page (`GET /inspector`) and its stream (`GET /inspector/events`),
// served by the landing page's app over an app that serves @weft/app's
// Inspector routes (test/fixtures/inspected.ts, a child process on this runtime):
// the stream follows the app through its guard, the page in Chromium shows the
// named lock, its waiters' ages growing, and a LockOrderError once the app reports one.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Serve } from "@weft/app"
import * as Chromium from "@weft/app/Chromium"
import * as EventStream from "@weft/app/EventStream"
import { type Running, start } from "@weft/testkit"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Started } from "../src/apps.ts"
import * as Inspector from "../src/inspector.ts"
import * as Landing from "../src/landing.ts"

const here = path.dirname(fileURLToPath(import.meta.url))

/** The `event: app` updates of `url` until `done` says so. */
const updates = (url: string, done: (seen: ReadonlyArray<any>) => boolean) => EventStream.collect(url, { event: "app", until: done })

describe("the inspector page", () => {
  let fixture: Running
  let scope: Scope.Closeable
  let landing: string

  beforeAll(async () => {
    fixture = start(path.join(here, "fixtures/inspected.ts"))
    const url = /serving (\S+)/.exec(await fixture.line(/^serving http/, 30_000))![1]!
    const app = (name: string, title: string, base: string): Started => ({
      name,
      title,
      description: "",
      addresses: [{ label: name, url: base, health: ["/health"] }],
      exited: Effect.never
    })
    scope = Effect.runSync(Scope.make())
    const server = await Effect.runPromise(Scope.provide(
      // "gone" listens nowhere: the page must say it is down, and go on showing the other.
      Serve.serve(Landing.makeApp([app("fixture", "Fixture", url), app("gone", "Gone", "http://127.0.0.1:9")])),
      scope
    ))
    landing = server.url
  }, 40_000)

  afterAll(async () => {
    if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
    if (fixture && fixture.proc.exitCode === null) fixture.proc.kill("SIGKILL")
  })

  it("the page's script parses (it lives in a template string, where a lost backslash breaks it)", () => {
    expect(() => new Function(Inspector.script)).not.toThrow()
  })

  it("GET /inspector/events passes on each app's snapshots through its guard, and says which is down", async () => {
    const seen = await updates(`${landing}/inspector/events`, (s) =>
      s.some((u) => u.name === "fixture" && u.up) && s.some((u) => u.name === "gone" && !u.up))
    const fixtureUpdate = seen.find((u) => u.name === "fixture" && u.up)
    const [proc] = fixtureUpdate.view.processes
    expect(proc.label).toBe("inspected fixture")
    expect(proc.pid).toBe(fixture.proc.pid)
    expect(proc.entries.find((e: any) => e.name === "tickets").waiters).toHaveLength(2)
    expect(seen.find((u) => u.name === "gone" && !u.up).error).toBeTruthy()
  })

  it.skipIf(!Chromium.available)(Chromium.skipTitle("in Chromium: the named lock, its waiters' ages growing, a LockOrderError when one is reported; no CSP violation"), async () => {
    const browser = await Chromium.open()
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 760 } })
      const problems = await Chromium.watch(page)
      await page.goto(`${landing}/`)
      await page.click('a[href="/inspector"]')
      const card = '[data-app="fixture"] .entry[data-name="tickets"]'
      await page.waitForSelector(card, { timeout: 20_000 })
      expect(await page.$$(`${card} .holder`)).toHaveLength(1)
      expect(await page.$$(`${card} .waiter`)).toHaveLength(2)
      // The ages tick in the page (no new event needed): wait for one to grow by a second.
      const seconds = () => page.$eval(`${card} .waiter .age`, (a) => parseFloat(a.textContent ?? ""))
      const first = await seconds()
      await page.waitForFunction(
        ([selector, from]) => parseFloat(document.querySelector(selector as string)?.textContent ?? "") >= (from as number) + 1,
        [`${card} .waiter .age`, first] as const,
        { timeout: 10_000 }
      )
      expect(await page.$$eval(`${card} .bar`, (bars) => bars.length)).toBeGreaterThan(0)
      expect(await page.textContent(card)).toMatch(/contended [1-9]/)
      await page.waitForSelector('[data-app="gone"][data-up="false"]', { timeout: 20_000 })

      expect(await page.$$('#reports li')).toHaveLength(0)
      fixture.proc.stdin!.write("report\n")
      await page.waitForSelector('#reports li[data-tag="LockOrderError"]', { timeout: 10_000 })
      expect(await page.textContent("#reports li")).toMatch(/seats[\s\S]*refunds/)
      fs.mkdirSync(path.join(here, "../.results"), { recursive: true })
      await page.screenshot({ path: path.join(here, "../.results/inspector.png"), fullPage: true })
      await page.setViewportSize({ width: 390, height: 844 })
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      expect(problems()).toEqual([])
    } finally {
      await browser.close()
    }
  }, 60_000)
})
