/**
 * Real Chromium for the apps' browser tests: Debian's `/usr/bin/chromium`
 * driven by `playwright-core` (which never downloads a browser), headless,
 * with no sandbox, GPU, QUIC, first-run, background networking, component
 * updates or sync, and a fresh profile (Playwright gives every `launch` its
 * own temporary user-data directory and removes it on close).
 *
 * Where there is no Chromium, `available` is `false` and `reason` says why,
 * so a suite can skip its browser tests loudly, never pass them silently:
 * `skipTitle` adds the reason to a test's title and warns once on stderr.
 *
 * Import it from `@weft/app/Chromium` (the main entry does not load
 * Playwright).
 *
 * @example
 * ```ts
 * import { expect, it } from "vitest"
 * import * as Chromium from "@weft/app/Chromium"
 *
 * it.skipIf(!Chromium.available)(Chromium.skipTitle("the page shows the count"), async () => {
 *   const browser = await Chromium.open()
 *   try {
 *     const page = await browser.newPage()
 *     await page.goto(`${server.url}/`)
 *     await expect.poll(() => page.textContent("#count")).toBe("3")
 *   } finally {
 *     await browser.close()
 *   }
 * })
 * ```
 *
 * @module
 */
import { existsSync } from "node:fs"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Browser, Page } from "playwright-core"

/**
 * Where Debian's `chromium` package puts the browser (`.ci/run` installs it).
 *
 * @example
 * ```ts
 * Chromium.executablePath // "/usr/bin/chromium"
 * ```
 */
export const executablePath = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium"

/**
 * The flags every launch passes.
 *
 * @example
 * ```ts
 * Chromium.flags.includes("--no-sandbox") // true
 * ```
 */
export const flags: ReadonlyArray<string> = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/**
 * Why the browser tests cannot run here, or `undefined` when they can.
 *
 * @example
 * ```ts
 * Chromium.reason // "/usr/bin/chromium not found (apt-get install chromium; .ci/run does it)"
 * ```
 */
export const reason: string | undefined = existsSync(executablePath)
  ? undefined
  : `${executablePath} not found (apt-get install chromium; .ci/run does it)`

/**
 * Whether Chromium is there to launch.
 *
 * @example
 * ```ts
 * describe.skipIf(!Chromium.available)("in the browser", () => {})
 * ```
 */
export const available: boolean = reason === undefined

let warned = false

/**
 * A test title that says it is skipped, and why, when there is no browser
 * (and a one-time warning on stderr); the title unchanged otherwise.
 *
 * @example
 * ```ts
 * it.skipIf(!Chromium.available)(Chromium.skipTitle("buy shows a seat"), async () => {})
 * // without chromium: "buy shows a seat (skipped: /usr/bin/chromium not found ...)"
 * ```
 */
export const skipTitle = (title: string): string => {
  if (available) return title
  if (!warned) {
    warned = true
    console.warn(`browser tests skipped: ${reason}`)
  }
  return `${title} (skipped: ${reason})`
}

/**
 * Chromium could not start; the message says why.
 *
 * @example
 * ```ts
 * Effect.catchTag(Chromium.launch, "ChromiumError", (e) => Effect.logError(e.message))
 * ```
 */
export class ChromiumError extends Data.TaggedError("ChromiumError")<{ readonly reason: string }> {
  override get message(): string {
    return `cannot launch ${executablePath}: ${this.reason}`
  }
}

/**
 * Launches Chromium with `flags`; close it with `browser.close()`.
 *
 * @example
 * ```ts
 * const browser = await Chromium.open()
 * const page = await browser.newPage({ viewport: { width: 390, height: 844 } }) // phone width
 * await browser.close()
 * ```
 */
export const open = async (): Promise<Browser> => {
  if (reason !== undefined) throw new ChromiumError({ reason })
  const { chromium } = await import("playwright-core")
  try {
    return await chromium.launch({ executablePath, headless: true, chromiumSandbox: false, args: [...flags] })
  } catch (error) {
    throw new ChromiumError({ reason: error instanceof Error ? error.message.split("\n")[0]! : String(error) })
  }
}

/**
 * `open` as a scoped Effect: the browser closes with the scope.
 *
 * @example
 * ```ts
 * const title = yield* Effect.scoped(Effect.gen(function*() {
 *   const browser = yield* Chromium.launch
 *   const page = yield* Effect.promise(() => browser.newPage())
 *   yield* Effect.promise(() => page.goto(url))
 *   return yield* Effect.promise(() => page.title())
 * }))
 * ```
 */
export const launch: Effect.Effect<Browser, ChromiumError, Scope.Scope> = Effect.acquireRelease(
  Effect.tryPromise({
    try: open,
    catch: (error) => error instanceof ChromiumError ? error : new ChromiumError({ reason: String(error) })
  }),
  (browser) => Effect.promise(() => browser.close())
)

/**
 * Watches a page for what a user's console would show as wrong: console
 * errors (a failed load, a 404 favicon, a refused script), uncaught page
 * errors, and Content-Security-Policy violations. Call it before `goto`; the
 * returned function lists what was seen so far, one line each.
 *
 * @example
 * ```ts
 * const problems = await Chromium.watch(page)
 * await page.goto(url)
 * expect(problems()).toEqual([])
 * ```
 */
export const watch = async (page: Page): Promise<() => ReadonlyArray<string>> => {
  const seen: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error") seen.push(`console error: ${message.text()}`)
  })
  page.on("pageerror", (error) => seen.push(`page error: ${error.message}`))
  // Init scripts are not subject to the page's CSP: this one reports the violations themselves.
  await page.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (event) =>
      console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "an inline script")))`
  })
  return () => [...seen]
}
