/**
 * The inspector page: every app process's primitives and pools, live. The
 * launcher follows each app's `GET /inspect/events` (`@weft/app`'s
 * `Inspector`, behind the app's guard, reached over loopback like `/status`)
 * and passes every snapshot on in one stream of its own, so the page talks
 * to its own origin only (its Content-Security-Policy allows nothing else)
 * and never polls.
 *
 *   GET /inspector          the page
 *   GET /inspector/events   Server-Sent Events: first `event: apps`, data `[{ name, title }]`;
 *                           then `event: app`, data
 *                           `{ name, title, up: true, view }` (an app's `Inspector.View`)
 *                           or `{ name, title, up: false, error }` (and tried again each second)
 *
 * The page ticks every holder's and waiter's age from its `since`, draws each
 * named primitive's wait and hold histograms, and lists every
 * `LockOrderError` and `DeadlockError` the apps reported.
 */
import * as EventStream from "@weft/app/EventStream"
import type { Hono } from "hono"
import { html, raw } from "hono/html"
import { streamSSE } from "hono/streaming"
import type { Started } from "./apps.ts"

/** What the page shows of one app at a time. */
type Update =
  | { readonly name: string; readonly title: string; readonly up: true; readonly view: unknown }
  | { readonly name: string; readonly title: string; readonly up: false; readonly error: string }

/** Where the launcher reaches an app's HTTP side: its first address with a health route. */
const base = (app: Started): string | undefined => {
  const http = app.addresses.find((a) => a.health !== undefined)
  return http === undefined ? undefined : (http.local ?? http.url)
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })

/**
 * Follows one app's `/inspect/events` until `signal` aborts, passing each
 * snapshot to `send`; when the app is down (or its stream ends), says so and
 * tries again a second later.
 */
const follow = async (app: Started, send: (update: Update) => void, signal: AbortSignal): Promise<void> => {
  const url = base(app)
  if (url === undefined) return send({ name: app.name, title: app.title, up: false, error: "no HTTP address" })
  while (!signal.aborted) {
    let error = "the stream ended"
    try {
      for await (const message of EventStream.read(`${url}/inspect/events`, signal)) {
        if (message.event === "snapshot") send({ name: app.name, title: app.title, up: true, view: JSON.parse(message.data) })
      }
    } catch (cause) {
      error = cause instanceof Error ? cause.message : String(cause)
    }
    if (signal.aborted) return
    send({ name: app.name, title: app.title, up: false, error })
    await pause(1000, signal)
  }
}

const style = `
:root { font-family: system-ui, sans-serif; color: #1d2228; background: #f4f5f7; }
body { margin: 0; }
header { padding: 1rem; background: #1d2228; color: #fff; display: flex; flex-wrap: wrap; gap: .3rem 1rem; align-items: baseline; }
header h1 { margin: 0; font-size: 1.3rem; }
header p { margin: 0; color: #c5cad1; flex: 1 1 16rem; }
header a { color: #9cc7ff; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; display: grid; gap: 1rem; }
section { background: #fff; border-radius: 10px; padding: .8rem 1rem; box-shadow: 0 1px 3px #0002; min-width: 0; }
h2 { margin: 0 0 .5rem; font-size: 1.1rem; display: flex; align-items: center; gap: .5rem; }
h3 { margin: .8rem 0 .4rem; font-size: .95rem; color: #5b6470; }
.dot { width: .7rem; height: .7rem; border-radius: 50%; background: #9aa3ad; flex: none; }
[data-up="true"] .dot { background: #2e7d32; }
[data-up="false"] .dot { background: #c62828; }
.why { font-size: .85rem; color: #c62828; }
.entries { display: grid; gap: .6rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 320px), 1fr)); }
.entry { border: 1px solid #e1e4e8; border-radius: 8px; padding: .5rem .6rem; min-width: 0; }
.entry[data-waiting="true"] { border-color: #ef6c00; background: #fff8f0; }
.entry h4 { margin: 0 0 .3rem; font-size: .95rem; display: flex; gap: .4rem; align-items: baseline; flex-wrap: wrap; overflow-wrap: anywhere; }
.kind { font-size: .75rem; font-weight: 600; color: #fff; background: #455a64; border-radius: 4px; padding: 0 .3rem; }
.scope { font-size: .75rem; color: #5b6470; }
.party { font-size: .85rem; display: flex; flex-wrap: wrap; gap: 0 .4rem; align-items: baseline; }
.party b { font-weight: 600; min-width: 3.6rem; }
.party > span { white-space: nowrap; }
.age { font-variant-numeric: tabular-nums; font-weight: 600; }
.waiter .age { color: #ef6c00; }
.party > .where { color: #5b6470; font-size: .75rem; white-space: normal; overflow-wrap: anywhere; flex: 1 1 8rem; min-width: 0; }
.counts { font-size: .8rem; color: #5b6470; margin-top: .2rem; }
.timing { display: grid; grid-template-columns: 2.6rem 1fr; gap: .1rem .4rem; align-items: end; font-size: .75rem; margin-top: .3rem; }
.bars { display: flex; align-items: flex-end; gap: 2px; height: 28px; border-bottom: 1px solid #c5cad1; }
.bar { flex: 1; background: #1565c0; min-height: 1px; }
.bar[data-n="0"] { background: #e1e4e8; }
.stat { grid-column: 2; color: #5b6470; }
.empty { color: #5b6470; font-size: .9rem; }
#reports ol { margin: 0; padding-left: 1.2rem; display: grid; gap: .4rem; }
#reports li { font-size: .85rem; }
#reports pre { margin: .2rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; background: #fdecea; padding: .4rem; border-radius: 6px; }
.tag { font-weight: 700; color: #c62828; }
`

/**
 * The page's script, exported for the Content-Security-Policy (allowed by its hash).
 *
 * @example
 * ```ts
 * Guard.make({ scripts: [Landing.script, Inspector.script] })
 * ```
 */
export const script = `
const apps = new Map()
const main = document.querySelector("main")
const reportsEl = document.querySelector("#reports ol")
function el(tag, cls, text) {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = text
  return e
}
function age(ms) {
  const s = Math.max(0, ms) / 1000
  return s < 60 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s"
}
function ms(n) { return n < 10 ? n.toFixed(2) + " ms" : n < 1000 ? Math.round(n) + " ms" : (n / 1000).toFixed(1) + " s" }
function party(p, role) {
  const row = el("div", "party " + role)
  row.dataset.who = p.who
  row.append(el("b", "", role === "holder" ? "held" : "waits"), el("span", "", p.who + (p.permits > 1 ? " (" + p.permits + ")" : "")))
  const a = el("span", "age", age(Date.now() - p.since))
  a.dataset.since = String(p.since)
  row.append(a)
  if (p.where) {
    // The file's name without its directories; the whole place on hover.
    const where = el("span", "where", p.where.replace(/[^\\s()]*[\\/\\\\]/g, ""))
    where.title = p.where
    row.append(where)
  }
  return row
}
function timing(title, t) {
  const box = el("div", "timing")
  const bars = el("div", "bars")
  const buckets = t.buckets || []
  let prev = 0
  const counts = buckets.map(([, n]) => { const d = n - prev; prev = n; return d })
  const top = Math.max(1, ...counts)
  buckets.forEach(([bound], i) => {
    const bar = el("div", "bar")
    bar.dataset.n = String(counts[i])
    bar.style.height = Math.round(100 * counts[i] / top) + "%"
    bar.title = (bound === null ? "over" : "up to " + ms(bound)) + ": " + counts[i]
    bars.append(bar)
  })
  box.append(el("span", "", title), bars, el("span", "stat", "p50 " + ms(t.p50) + " · p99 " + ms(t.p99) + " · max " + ms(t.max) + " · n " + t.count))
  return box
}
function entry(e) {
  const card = el("div", "entry")
  card.dataset.name = e.name
  card.dataset.waiting = String(e.waiters.length > 0)
  const h = el("h4")
  h.append(el("span", "kind", e.kind), el("span", "", e.name), el("span", "scope", e.scope))
  card.append(h)
  for (const p of e.holders) card.append(party(p, "holder"))
  for (const p of e.waiters) card.append(party(p, "waiter"))
  if (e.holders.length === 0 && /Lock|Semaphore/.test(e.kind)) card.append(el("div", "counts", "free"))
  const counts = Object.entries(e.counts || {}).map(([k, v]) => k + " " + v)
  const c = e.contention
  if (c) counts.unshift("taken " + c.acquisitions, "contended " + c.contended, "longest wait now " + ms(c.longestWait))
  if (counts.length) card.append(el("div", "counts", counts.join(" · ")))
  if (c) card.append(timing("wait", c.wait), timing("hold", c.hold))
  return card
}
function order(a, b) {
  return (b.waiters.length - a.waiters.length) || (b.holders.length - a.holders.length) || (Number(b.named) - Number(a.named)) || a.name.localeCompare(b.name)
}
function render(update) {
  let box = main.querySelector('section[data-app="' + update.name + '"]')
  if (!box) { box = el("section"); box.dataset.app = update.name; main.append(box) }
  box.dataset.up = String(update.up)
  box.replaceChildren()
  const h2 = el("h2")
  h2.append(el("span", "dot"), update.title)
  box.append(h2)
  if (!update.up) { box.append(el("div", "why", "not reachable: " + update.error)); return }
  for (const p of update.view.processes) {
    const proc = el("div", "process")
    proc.dataset.pid = String(p.pid)
    proc.append(el("h3", "", (p.label || "process") + " · pid " + p.pid + (p.thread ? " · thread " + p.thread : "") + " · " + p.machine))
    const list = el("div", "entries")
    for (const e of [...p.entries].sort(order)) list.append(entry(e))
    if (p.entries.length === 0) list.append(el("div", "empty", "nothing listed (no primitive or pool in this process yet)"))
    proc.append(list)
    box.append(proc)
  }
}
function renderReports() {
  const all = []
  for (const u of apps.values()) if (u.up) for (const p of u.view.processes) for (const r of p.reports) all.push({ app: u.title, pid: p.pid, label: p.label, ...r })
  all.sort((a, b) => b.at - a.at)
  reportsEl.replaceChildren()
  for (const r of all) {
    const li = el("li")
    li.dataset.tag = r._tag
    li.append(el("span", "tag", r._tag), " " + r.app + " · " + (r.label || "pid " + r.pid) + " · " + r.scope + " scope · " + new Date(r.at).toLocaleTimeString())
    li.append(el("pre", "", r.message))
    reportsEl.append(li)
  }
  document.querySelector("#reports .empty").hidden = all.length > 0
}
const source = new EventSource("/inspector/events")
source.addEventListener("apps", (event) => {
  for (const app of JSON.parse(event.data)) {
    if (main.querySelector('section[data-app="' + app.name + '"]')) continue
    const box = el("section")
    box.dataset.app = app.name
    const h2 = el("h2")
    h2.append(el("span", "dot"), app.title)
    box.append(h2, el("div", "empty", "waiting for its first snapshot"))
    main.append(box)
  }
})
source.addEventListener("app", (event) => {
  const update = JSON.parse(event.data)
  apps.set(update.name, update)
  render(update)
  renderReports()
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1)
})
setInterval(() => {
  const now = Date.now()
  for (const a of document.querySelectorAll(".age")) a.textContent = age(now - Number(a.dataset.since))
}, 100)
`

const icon = `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2228"/><path d="M3 4l2.5 8L8 6l2.5 6L13 4" stroke="#fff" stroke-width="1.6" fill="none"/></svg>`)}`

const page = () => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Weft inspector</title>
<link rel="icon" href="${icon}">
<style>${raw(style)}</style>
</head>
<body>
<header>
  <h1>Weft inspector</h1>
  <p>Every app process's primitives and pools, live: who holds, who waits and for how long, and how contended each has been.</p>
  <a href="/">all apps</a>
</header>
<main>
  <section id="reports"><h2>Lock-order and deadlock reports</h2><p class="empty">None seen.</p><ol></ol></section>
</main>
<script>${raw(script)}</script>
</body>
</html>`

/**
 * Adds `GET /inspector` and `GET /inspector/events` (see the module doc) to
 * the landing page's app.
 *
 * @example
 * ```ts
 * routes(app, apps)
 * ```
 */
export const routes = (app: Hono, apps: ReadonlyArray<Started>): Hono => {
  app.get("/inspector", (c) => c.html(page()))
  app.get("/inspector/events", (c) =>
    streamSSE(c, async (stream) => {
      const abort = new AbortController()
      stream.onAbort(() => abort.abort())
      // One write at a time: the apps' updates arrive on their own schedules.
      let writes = Promise.resolve()
      const send = (update: Update) => {
        writes = writes.then(() => stream.writeSSE({ event: "app", data: JSON.stringify(update) })).catch(() => abort.abort())
      }
      // The apps in the landing page's order first, so the page lays them out before any answers.
      await stream.writeSSE({ event: "apps", data: JSON.stringify(apps.map(({ name, title }) => ({ name, title }))) })
      await Promise.all(apps.map((app) => follow(app, send, abort.signal)))
      await writes
    }))
  return app
}
