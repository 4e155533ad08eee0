/**
 * The Tickets page in real Chromium (playwright-core driving /usr/bin/chromium;
 * skipped, saying why, where there is none). Two independent `serve`
 * processes on one store: a sale through one page is pushed to a page of
 * the other process.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Chromium from "@weft/app/Chromium"
import { Effect, Exit, Scope } from "effect"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { child, mainScript, tempDir } from "./helpers.ts"

const shots = path.join(path.dirname(new URL(import.meta.url).pathname), "..", ".results")

describe("the Tickets page", () => {
  let scope: Scope.Closeable
  let browser: Browser
  let dir: string

  beforeAll(async () => {
    scope = await Effect.runPromise(Scope.make())
    dir = await Effect.runPromise(Scope.provide(scope)(tempDir))
    if (Chromium.available) browser = await Chromium.open()
  }, 30_000)

  afterAll(async () => {
    await browser?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 30_000)

  /** Starts `serve` on a store (fresh with `tickets`) and returns its URL. */
  const serve = async (file: string, args: ReadonlyArray<string>) => {
    const server = await Effect.runPromise(Scope.provide(scope)(child(mainScript, ["serve", "--file", file, ...args])))
    const line = await Effect.runPromise(server.line("serving http://127.0.0.1:", 30_000))
    return /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!
  }

  /** What each page's console showed as wrong (errors, CSP violations). */
  const problems = new Map<Page, () => ReadonlyArray<string>>()

  const open = async (url: string, beside?: Page): Promise<Page> => {
    const viewport = { width: 390, height: 844 } // a phone
    // A fresh browser profile per page, unless it is to sit beside another (same localStorage).
    const page = await (beside === undefined ? await browser.newContext({ viewport }) : beside.context()).newPage()
    problems.set(page, await Chromium.watch(page))
    await page.goto(`${url}/`)
    await expect.poll(() => page.getAttribute("body", "data-live"), { timeout: 10_000 }).toBe("yes")
    return page
  }

  const tickets = async (url: string) => (await fetch(`${url}/tickets`)).json()

  it.skipIf(!Chromium.available)(
    Chromium.skipTitle("clicking buy shows an order with its seat; a page on another process sees the count drop without reloading"),
    async () => {
      const file = path.join(dir, "live.json")
      const a = await serve(file, ["--tickets", "5"])
      const b = await serve(file, [])
      const buyer = await open(a)
      const watcher = await open(b)
      expect(await watcher.textContent("#count")).toBe("5")
      await buyer.fill("#buyer", "Ada")
      await buyer.click("#buy")
      await expect.poll(() => buyer.textContent("#orders"), { timeout: 10_000 }).toContain("Seat 1")
      expect(await buyer.textContent("#orders")).toContain("Ada")
      expect(await buyer.textContent("#message")).toContain("You got seat 1")
      await expect.poll(() => watcher.textContent("#count"), { timeout: 10_000 }).toBe("4")
      // A sale made elsewhere (curl, another process) is pushed too.
      await fetch(`${b}/buy`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ buyer: "Bob" }) })
      await expect.poll(() => buyer.textContent("#count"), { timeout: 10_000 }).toBe("3")
      await buyer.fill("#buyer", "Ada")
      await buyer.click("#buy")
      await expect.poll(() => buyer.locator("#orders li").count(), { timeout: 10_000 }).toBe(2)
      fs.mkdirSync(shots, { recursive: true })
      await buyer.screenshot({ path: path.join(shots, "tickets-page.png"), fullPage: true })
      expect(await tickets(a)).toEqual({ count: 2, sold: 3, total: 5 })
      // Under its Content-Security-Policy, with an inline favicon: a clean console.
      expect(problems.get(buyer)!()).toEqual([])
      expect(problems.get(watcher)!()).toEqual([])
      await buyer.close()
      await watcher.close()
    },
    60_000
  )

  it.skipIf(!Chromium.available)(Chromium.skipTitle("a double click buys one ticket: both clicks send the same Idempotency-Key"), async () => {
    const file = path.join(dir, "double.json")
    const url = await serve(file, ["--tickets", "5"])
    const page = await open(url)
    // Hold each purchase on its way for 300 ms, so the second click surely lands before the first answer.
    const keys: Array<string | undefined> = []
    await page.route("**/buy", async (route) => {
      keys.push(route.request().headers()["idempotency-key"])
      await new Promise((resolve) => setTimeout(resolve, 300))
      await route.continue()
    })
    let answered = 0
    page.on("response", (response) => void (response.url().endsWith("/buy") && answered++))
    await page.fill("#buyer", "Cy")
    await page.dblclick("#buy")
    await expect.poll(() => page.textContent("#message"), { timeout: 10_000 }).toContain("You got seat 1")
    await expect.poll(() => keys.length, { timeout: 10_000 }).toBe(2)
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
    expect(keys[1]).toBe(keys[0])
    await expect.poll(() => answered, { timeout: 10_000 }).toBe(2) // both answers are in
    expect(await tickets(url)).toEqual({ count: 4, sold: 1, total: 5 })
    expect(await page.locator("#orders li").count()).toBe(1)
    expect(problems.get(page)!()).toEqual([])
    await page.close()
  }, 60_000)

  it.skipIf(!Chromium.available)(Chromium.skipTitle("sold out is shown, live and on a fresh load"), async () => {
    const file = path.join(dir, "soldout.json")
    const url = await serve(file, ["--tickets", "1"])
    const page = await open(url)
    expect(await page.isVisible("#soldout")).toBe(false)
    const sold = await (await fetch(`${url}/buy`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ buyer: "Dee" }) })).json() as { order: unknown }
    await expect.poll(() => page.isVisible("#soldout"), { timeout: 10_000 }).toBe(true)
    expect(await page.textContent("#soldout")).toContain("Sold out")
    expect(await page.isDisabled("#buy")).toBe(true)
    // "My orders" keeps the orders the store has, and drops those of an earlier sale (gone after a reset).
    const stale = { id: "from-an-earlier-sale", seat: 9, buyer: "Old", at: new Date().toISOString() }
    await page.evaluate((orders) => localStorage.setItem("weft-orders", JSON.stringify(orders)), [stale, sold.order])
    const fresh = await open(url, page) // same browser profile: same localStorage
    await expect.poll(() => fresh.getAttribute("body", "data-checked"), { timeout: 10_000 }).toBe("yes")
    expect(await fresh.locator("#orders li").count()).toBe(1)
    expect(await fresh.textContent("#orders")).toContain("Dee")
    expect(await fresh.textContent("#orders")).not.toContain("Old")
    expect(await fresh.isVisible("#soldout")).toBe(true)
    expect(await fresh.textContent("#count")).toBe("0")
    await fresh.screenshot({ path: path.join(shots, "tickets-sold-out.png"), fullPage: true })
    await page.close()
    await fresh.close()
  }, 60_000)
})
