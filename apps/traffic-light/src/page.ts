/**
 * The live page of `serve` mode: Hono's `html` template, a little CSS and a
 * plain script, no bundler. The script follows `GET /events` (Server-Sent
 * Events): the light turns, cars come, wait on red and pass on green, the
 * timeline grows line by line, and the badge says whether a car passed on
 * red. The form starts a run with `POST /runs`. It fits a phone-width window.
 */
import { html, raw } from "hono/html"
import { maxCars } from "./cli.ts"

const style = `
:root { font-family: system-ui, sans-serif; color: #1d2228; background: #f4f5f7; }
body { margin: 0; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between;
  padding: .75rem 1rem; background: #1d2228; color: #fff; }
header h1 { font-size: 1.15rem; margin: 0; }
#badge { padding: .25rem .6rem; border-radius: 999px; font-size: .85rem; font-weight: 600; background: #2e7d32; }
#badge.bad { background: #c62828; }
main { max-width: 960px; margin: 0 auto; padding: 1rem; display: grid; gap: 1rem; grid-template-columns: minmax(0, 1fr); }
@media (min-width: 760px) { main { grid-template-columns: 340px minmax(0, 1fr); } #timeline-box { grid-column: 1 / -1; } }
main > * { min-width: 0; }
section, form { background: #fff; border-radius: 10px; padding: 1rem; box-shadow: 0 1px 3px #0002; }
h2 { font-size: 1rem; margin: 0 0 .75rem; }
#junction { display: flex; gap: 1rem; align-items: flex-start; }
#light { background: #222; border-radius: 14px; padding: 8px; display: grid; gap: 8px; flex: none; }
.lamp { width: 44px; height: 44px; border-radius: 50%; background: #444; transition: background .15s; }
#light.red .lamp.red { background: #e53935; box-shadow: 0 0 16px #e53935; }
#light.green .lamp.green { background: #43a047; box-shadow: 0 0 16px #43a047; }
#road { flex: 1; display: grid; gap: .5rem; min-width: 0; }
.lane { border: 1px dashed #c5cad1; border-radius: 8px; padding: .4rem; min-height: 2.2rem; }
.lane b { display: block; font-size: .75rem; color: #5b6470; text-transform: uppercase; letter-spacing: .04em; margin-bottom: .25rem; }
.car { display: inline-block; margin: 2px; padding: .15rem .45rem; border-radius: 6px; font-size: .85rem; background: #e3e7ec; }
#waiting .car { background: #ffcdd2; }
#passed .car { background: #c8e6c9; }
#status { margin: .75rem 0 0; font-size: .9rem; color: #5b6470; }
form { display: grid; gap: .6rem; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
form label { display: grid; gap: .2rem; font-size: .85rem; color: #5b6470; }
form .wide { grid-column: 1 / -1; }
input, select, button { font: inherit; padding: .4rem .5rem; border: 1px solid #c5cad1; border-radius: 6px;
  width: 100%; min-width: 0; box-sizing: border-box; }
button { background: #1d2228; color: #fff; border: none; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
#form-error { color: #c62828; min-height: 1.2em; margin: 0; font-size: .9rem; }
#timeline { margin: 0; padding: 0; list-style: none; font-family: ui-monospace, monospace; font-size: .85rem;
  max-height: 22rem; overflow: auto; }
/* A line too long for a phone wraps under its text, not under its time (the time column is 11 characters). */
#timeline li { padding: .1rem 0 .1rem 11ch; text-indent: -11ch; white-space: pre-wrap; }
#timeline li[data-kind="red"] { color: #c62828; }
#timeline li[data-kind="green"] { color: #2e7d32; }
#timeline li.end { font-weight: 600; }
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
const $ = (id) => document.getElementById(id)
const lanes = { coming: $("coming"), waiting: $("waiting"), passed: $("passed") }
let runId = 0
let runText = ""

function chip(car, machine) {
  let el = document.querySelector('.car[data-car="' + car + '"]')
  if (!el) { el = document.createElement("span"); el.className = "car"; el.dataset.car = car; el.textContent = "car " + car }
  // At cluster scope each car says which machine it came from.
  if (machine && el.dataset.machine !== machine) { el.dataset.machine = machine; el.textContent = "car " + car + " · " + machine }
  return el
}
function place(car, lane, machine) { lanes[lane].appendChild(chip(car, machine)) }
function setLight(state) { $("light").className = state; $("light").dataset.state = state }
function setBadge(verdict) {
  const badge = $("badge")
  badge.classList.toggle("bad", !verdict.ok)
  badge.textContent = verdict.ok ? "✓ no car passed on red" : "✗ " + verdict.violations[0]
  badge.dataset.ok = String(verdict.ok)
}
function addLine(text, attrs) {
  const li = document.createElement("li")
  li.textContent = text
  Object.assign(li.dataset, attrs)
  $("timeline").appendChild(li)
  li.scrollIntoView({ block: "nearest" })
  return li
}

const on = {
  run(u) {
    runId = u.id
    for (const lane of Object.values(lanes)) lane.querySelectorAll(".car").forEach((c) => c.remove())
    for (let n = 1; n <= u.config.cars; n++) place(n, "coming", u.machine)
    $("timeline").replaceChildren()
    setLight("red")
    setBadge({ ok: true, violations: [] })
    runText = "run " + u.id + ": " + u.config.cars + " cars at " + u.config.scope + " scope, green " +
      u.config.green + " ms, red " + u.config.red + " ms, for " + u.config.duration + " ms"
    // Until the cars' workers have started, nothing moves: say so. The run's clock starts at "ready".
    const workers = u.config.scope === "process" ? " worker processes" : u.config.scope === "thread" ? " worker threads" : ""
    $("status").textContent = workers ? "run " + u.id + ": starting " + u.config.cars + workers + "..." : runText
    $("status").dataset.state = workers ? "starting" : "running"
    $("status").dataset.run = u.id
    $("go").disabled = true
  },
  join(u) {
    if (u.id !== runId) return
    for (let n = u.first; n < u.first + u.count; n++) place(n, "coming", u.machine)
    addLine("          " + u.count + (u.count === 1 ? " car" : " cars") + " of " + u.machine + " join: car " + u.first +
      (u.count > 1 ? " to " + (u.first + u.count - 1) : ""), { kind: "join", machine: u.machine })
  },
  ready(u) {
    if (u.id !== runId) return
    $("status").textContent = runText
    $("status").dataset.state = "running"
  },
  entry(u) {
    const e = u.entry
    if (e.kind === "green" || e.kind === "red") setLight(e.kind)
    else if (e.kind === "arrive") place(e.car, e.waits ? "waiting" : "coming", e.machine)
    else if (e.kind === "pass") place(e.car, "passed", e.machine)
    addLine(u.text, { t: e.t, kind: e.kind, car: e.car ?? "", machine: e.machine ?? "" })
    setBadge(u.verdict)
  },
  end(u) {
    addLine(u.status === "done" ? u.summary.trim() : "failed: " + u.error, { kind: "end" }).className = "end"
    setBadge(u.verdict)
    $("status").dataset.state = u.status
    $("status").textContent += u.status === "done" ? " — ended" : " — failed"
    $("go").disabled = false
  }
}

const events = new EventSource("/events")
for (const type of Object.keys(on)) events.addEventListener(type, (m) => on[type](JSON.parse(m.data)))
events.addEventListener("open", () => { document.body.dataset.live = "true" })

$("start").addEventListener("submit", async (event) => {
  event.preventDefault()
  $("form-error").textContent = ""
  const body = Object.fromEntries(new FormData(event.target))
  const response = await fetch("/runs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  if (!response.ok) $("form-error").textContent = (await response.json()).error
})
`

/** The form's scopes; cluster only on a server started with `--cluster`. */
const options: ReadonlyArray<readonly [string, string]> = [
  ["fiber", "fiber: an Event, cars are fibers"],
  ["thread", "thread: a SharedEvent, cars are ThreadPool tasks"],
  ["process", "process: a Manager's event, cars are ProcessPool tasks"],
  ["cluster", "cluster: a PostgreSQL event, cars of any machine"]
]

/** An inline icon (a traffic light): no request, so no 404 for /favicon.ico. */
const icon = `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="4" width="8" height="16" rx="2" fill="#222"/><circle cx="8" cy="4.5" r="2.5" fill="#e53935"/><circle cx="8" cy="11.5" r="2.5" fill="#43a047"/></svg>`)}`

/**
 * The whole page.
 *
 * @example
 * ```ts
 * app.get("/", (c) => c.html(page()))
 * ```
 */
export const page = (form: { readonly scope: string; readonly cluster: boolean } = { scope: "fiber", cluster: false }): ReturnType<typeof html> => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Weft traffic light</title>
<link rel="icon" href="${icon}">
<style>${raw(style)}</style>
</head>
<body>
<header>
  <h1>Weft traffic light</h1>
  <span id="badge" data-ok="true">✓ no car passed on red</span>
</header>
<main>
  <section>
    <h2>The junction</h2>
    <div id="junction">
      <div id="light" class="red" data-state="red" aria-label="traffic light"><div class="lamp red"></div><div class="lamp green"></div></div>
      <div id="road">
        <div class="lane" id="coming"><b>coming · on their way</b></div>
        <div class="lane" id="waiting"><b>waiting on red</b></div>
        <div class="lane" id="passed"><b>passed</b></div>
      </div>
    </div>
    <p id="status" data-state="idle">No run yet: start one below.</p>
  </section>
  <form id="start">
    <h2 class="wide">Start a run</h2>
    <label class="wide">Scope
      <select name="scope">
        ${raw(options.filter(([value]) => value !== "cluster" || form.cluster).map(([value, text]) =>
    `<option value="${value}"${value === form.scope ? " selected" : ""}>${text}</option>`).join("\n        "))}
      </select>
    </label>
    <label>Cars <input name="cars" type="number" min="1" max="${maxCars}" value="5" required></label>
    <label>Duration <input name="duration" value="10s" required></label>
    <label>Green <input name="green" value="2s" required></label>
    <label>Red <input name="red" value="3s" required></label>
    <button id="go" class="wide" type="submit">Start</button>
    <p id="form-error" class="wide" role="alert"></p>
  </form>
  <section id="timeline-box">
    <h2>Timeline</h2>
    <ol id="timeline"></ol>
  </section>
</main>
<script>${raw(script)}</script>
</body>
</html>`
