/**
 * The landing page (Hono): a card per app with its links and whether it is
 * up. The page asks `GET /status` every 2 s; the server asks each app's own
 * health route (`/health`; the ticket office of old answers `/tickets`). The
 * chat's nc and IRC ports are reported with the chat: connecting to them
 * would join a guest to the chat every time.
 *
 *   GET /        the page
 *   GET /status  { apps: [{ name, title, description, up, detail, addresses }] }
 *   GET /health  { ok: true }
 *   GET /inspector, /inspector/events   the inspector page (inspector.ts)
 */
import * as Guard from "@weft/app/Guard"
import * as Host from "@weft/app/Host"
import { Hono } from "hono"
import { html, raw } from "hono/html"
import type { Address, Started } from "./apps.ts"
import * as Inspector from "./inspector.ts"

/**
 * One app's card.
 *
 * @example
 * ```ts
 * const card: Status = { name: "traffic", title: "Traffic light", description: "...", up: true, detail: "GET /health: 200", addresses }
 * ```
 */
export interface Status {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly up: boolean
  /** Why it is down, or what answered. */
  readonly detail: string
  readonly addresses: ReadonlyArray<Address>
}

/** Asks one HTTP address's health paths in turn; a 404 moves on to the next path. */
const probe = async (address: Address): Promise<{ up: boolean; detail: string }> => {
  for (const route of address.health ?? []) {
    try {
      const response = await fetch(`${address.local ?? address.url}${route}`, { signal: AbortSignal.timeout(1_500) })
      await response.body?.cancel()
      if (response.status === 404) continue
      return { up: response.ok, detail: `GET ${route}: ${response.status}` }
    } catch (error) {
      return { up: false, detail: `GET ${route}: ${error instanceof Error ? error.message : String(error)}` }
    }
  }
  return { up: false, detail: "no health route answered" }
}

/**
 * The status of every app right now.
 *
 * @example
 * ```ts
 * const cards = await status(apps) // [{ name: "chat", up: true, detail: "GET /health: 200", ... }, ...]
 * ```
 */
export const status = (apps: ReadonlyArray<Started>): Promise<Array<Status>> =>
  Promise.all(apps.map(async (app) => {
    const http = app.addresses.find((a) => a.health !== undefined)
    const { detail, up } = http ? await probe(http) : { up: false, detail: "no HTTP address" }
    return { name: app.name, title: app.title, description: app.description, up, detail, addresses: app.addresses }
  }))

const style = `
:root { font-family: system-ui, sans-serif; color: #1d2228; background: #f4f5f7; }
body { margin: 0; }
header { padding: 1.25rem 1rem; background: #1d2228; color: #fff; }
header h1 { margin: 0; font-size: 1.4rem; }
header p { margin: .35rem 0 0; color: #c5cad1; }
header a { color: #9cc7ff; }
main { max-width: 960px; margin: 0 auto; padding: 1rem; display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 280px), 1fr)); }
.app { background: #fff; border-radius: 10px; padding: 1rem; box-shadow: 0 1px 3px #0002; min-width: 0; }
.app h2 { margin: 0 0 .4rem; font-size: 1.1rem; display: flex; align-items: center; gap: .5rem; }
.dot { width: .7rem; height: .7rem; border-radius: 50%; background: #9aa3ad; flex: none; }
.app[data-up="true"] .dot { background: #2e7d32; }
.app[data-up="false"] .dot { background: #c62828; }
.state { font-size: .8rem; font-weight: 600; color: #5b6470; margin-left: auto; }
.app p { margin: 0 0 .6rem; color: #5b6470; font-size: .95rem; }
ul { list-style: none; margin: 0; padding: 0; display: grid; gap: .35rem; }
li { font-size: .9rem; overflow-wrap: anywhere; }
a { color: #1565c0; }
code { background: #eef0f3; padding: .05rem .3rem; border-radius: 4px; white-space: nowrap; }
footer { max-width: 960px; margin: 0 auto; padding: 0 1rem 1.5rem; color: #5b6470; font-size: .85rem; }
`

/**
 * The page's script, exported for the Content-Security-Policy (allowed by its hash).
 *
 * @example
 * ```ts
 * Guard.make({ scripts: [script] })
 * ```
 */
export const script = `
const main = document.querySelector("main")
function card(app) {
  const el = document.createElement("article")
  el.className = "app"
  el.dataset.name = app.name
  const h2 = document.createElement("h2")
  h2.innerHTML = '<span class="dot"></span>'
  h2.append(app.title)
  const state = document.createElement("span")
  state.className = "state"
  h2.append(state)
  const p = document.createElement("p")
  p.textContent = app.description
  const ul = document.createElement("ul")
  for (const a of app.addresses) {
    const li = document.createElement("li")
    if (a.url.startsWith("http")) {
      const link = document.createElement("a")
      link.href = a.url + "/"
      link.textContent = a.url
      li.append(a.label + ": ", link)
    } else {
      const code = document.createElement("code")
      code.textContent = a.hint
      li.append(a.label + ": ", code)
    }
    ul.append(li)
  }
  el.append(h2, p, ul)
  return el
}
async function refresh() {
  try {
    const { apps } = await (await fetch("/status")).json()
    for (const app of apps) {
      let el = main.querySelector('[data-name="' + app.name + '"]')
      if (!el) { el = card(app); main.append(el) }
      el.dataset.up = String(app.up)
      el.querySelector(".state").textContent = app.up ? "up" : "down"
      el.title = app.detail
    }
    document.body.dataset.checked = String(Number(document.body.dataset.checked || 0) + 1)
  } catch {
    for (const el of main.querySelectorAll(".app")) { el.dataset.up = "false"; el.querySelector(".state").textContent = "?" }
  }
}
refresh()
setInterval(refresh, 2000)
`

/** An inline icon: no request, so no 404 for /favicon.ico. */
const icon = `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2228"/><path d="M3 4l2.5 8L8 6l2.5 6L13 4" stroke="#fff" stroke-width="1.6" fill="none"/></svg>`)}`

const page = (where: string) => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Weft</title>
<link rel="icon" href="${icon}">
<style>${raw(style)}</style>
</head>
<body>
<header>
  <h1>Weft</h1>
  <p>The same concurrency primitive at three scopes: fibers, worker threads, processes. Three apps built on it:</p>
  <p><a href="/inspector">Inspector</a>: every app's locks, queues, events and pools, live: who holds, who waits, for how long.</p>
</header>
<main></main>
<footer>${where} <code>npm start -- --help</code> lists the ports; Ctrl-C in its terminal stops everything.</footer>
<script>${raw(script)}</script>
</body>
</html>`

/**
 * The landing page's Hono app, behind `@weft/app`'s `Guard` (`guard`: where
 * the servers listen).
 *
 * @example
 * ```ts
 * const landing = yield* Serve.serve(makeApp(apps), { port: 8080 })
 * ```
 */
export const makeApp = (apps: ReadonlyArray<Started>, guard: Guard.Options = {}): Hono => {
  const app = new Hono()
  app.use(Guard.make({ maxBody: 1024, scripts: [script, Inspector.script], ...guard }))
  const host = guard.host ?? Host.loopback
  const where = Host.isLoopback(host) ? `Every server listens on ${host}, this machine only.` : `Every server listens on ${host}.`
  app.get("/", (c) => c.html(page(where)))
  app.get("/status", async (c) => c.json({ apps: await status(apps) }))
  app.get("/health", (c) => c.json({ ok: true }))
  Inspector.routes(app, apps)
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}; try GET /, GET /status, GET /health, GET /inspector` }, 404))
  return app
}
