/**
 * The ticket office's page: the count, live over Server-Sent Events; a buy
 * form that sends an `Idempotency-Key` (a double click buys once); "My
 * orders" with their seats; a clear sold-out message. Built with Hono's JSX
 * runtime (`jsx` calls rather than JSX syntax, so Node runs the file
 * without a build step) and a little plain script; it fits a phone.
 *
 * The count is pushed on every sale from any process. On the file store,
 * each server process looks at the store (a `stat` and the new journal
 * bytes, no lock) every 100 ms while a page is listening, and at once after
 * its own sales; on PostgreSQL, the server notifies every instance of each
 * commit (`LISTEN`/`NOTIFY`), and nothing polls.
 *
 * @example
 * ```ts
 * const live = yield* Page.live(store)
 * const app = Http.makeApp(store, { onSale: live.poke, extend: (app) => Page.routes(app, store, live) })
 * ```
 *
 * @module
 */
import { Effect, type Scope } from "effect"
import type { Hono } from "hono"
import { jsx as h } from "hono/jsx"
import { streamSSE } from "hono/streaming"
import type * as Store from "./store.ts"

/**
 * The counts as they change, for every page listening to this process.
 *
 * @example
 * ```ts
 * const stop = live.subscribe((counts) => console.log(counts.count))
 * ```
 */
export interface Live {
  /** Calls `f` with the counts now and on every change; returns the unsubscribe. */
  subscribe(f: (counts: Store.Counts) => void): () => void
  /** Look now (after a sale here). */
  poke(): void
}

/**
 * Watches the store while anyone listens; stops when the scope closes.
 *
 * @example
 * ```ts
 * const live = yield* Page.live(store, { everyMs: 100 })
 * ```
 */
export const live = (store: Store.TicketStore, options: { readonly everyMs?: number } = {}): Effect.Effect<Live, never, Scope.Scope> =>
  Effect.gen(function*() {
    const subscribers = new Set<(counts: Store.Counts) => void>()
    let last: Store.Counts | undefined
    let looking = false
    /** Counts pushed by the store so far: a look that started before one is older than it. */
    let pushed = 0
    const publish = (counts: Store.Counts) => {
      if (last !== undefined && last.count === counts.count && last.sold === counts.sold && last.total === counts.total) return
      last = counts
      for (const f of [...subscribers]) f(counts)
    }
    const look = () => {
      if (looking || subscribers.size === 0) return
      looking = true
      const before = pushed
      Effect.runPromise(Effect.result(store.tickets)).then((result) => {
        looking = false
        if (result._tag === "Success" && pushed === before) publish(result.success)
      })
    }
    // A store whose server pushes every change (PostgreSQL): listen while anyone watches, never poll.
    const changes = store.changes
    let unlisten: (() => void) | undefined
    if (changes === undefined) {
      const timer = yield* Effect.acquireRelease(
        Effect.sync(() => setInterval(look, options.everyMs ?? 100)),
        (timer) => Effect.sync(() => clearInterval(timer))
      )
      timer.unref?.()
    } else {
      yield* Effect.addFinalizer(() => Effect.sync(() => unlisten?.()))
    }
    return {
      subscribe: (f) => {
        subscribers.add(f)
        if (changes !== undefined && unlisten === undefined) {
          unlisten = changes((counts) => {
            pushed++
            publish(counts)
          })
        }
        if (last !== undefined) f(last)
        look()
        return () => {
          subscribers.delete(f)
          if (subscribers.size === 0 && unlisten !== undefined) {
            unlisten()
            unlisten = undefined
            last = undefined
          }
        }
      },
      poke: changes === undefined ? look : () => {}
    }
  })

const style = `
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,sans-serif;background:#f4f1ea;color:#1d1d1f}
main{max-width:30rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
.card{background:#fff;border-radius:12px;padding:1rem;margin-bottom:1rem;box-shadow:0 1px 3px #0002}
.count{font-size:3rem;font-weight:700;line-height:1}
.muted{color:#666;font-size:.9rem}
.soldout{background:#b3261e;color:#fff;border-radius:8px;padding:.6rem .8rem;font-weight:600;margin-top:.8rem}
label{display:block;font-weight:600;margin-bottom:.3rem}
input{width:100%;font-size:1rem;padding:.6rem;border:1px solid #bbb;border-radius:8px}
button{margin-top:.7rem;width:100%;font-size:1.05rem;padding:.7rem;border:0;border-radius:8px;background:#1a73e8;color:#fff;font-weight:600}
button:disabled{background:#999}
#message{min-height:1.4rem;margin-top:.6rem}
.error{color:#b3261e}.ok{color:#1e7b34}
ul{list-style:none;padding:0;margin:0}
li{display:flex;justify-content:space-between;padding:.45rem 0;border-bottom:1px solid #eee}
.seat{font-weight:700}
.live{color:#999}.live.on{color:#1e7b34}
`

/**
 * The page's script: SSE for the count, the buy form, "My orders" kept in
 * localStorage. Exported for the Content-Security-Policy, which allows it by
 * its hash.
 *
 * @example
 * ```ts
 * Guard.make({ scripts: [Page.script] })
 * ```
 */
export const script = `
const $ = (id) => document.getElementById(id)
const state = { key: null, orders: JSON.parse(localStorage.getItem("weft-orders") || "[]") }
const show = (text, kind) => { $("message").textContent = text; $("message").className = kind || "" }
const render = () => {
  $("orders").replaceChildren(...state.orders.map((o) => {
    const li = document.createElement("li")
    li.dataset.order = o.id
    const seat = document.createElement("span"); seat.className = "seat"; seat.textContent = "Seat " + o.seat
    const who = document.createElement("span"); who.className = "muted"; who.textContent = o.buyer + " · " + new Date(o.at).toLocaleTimeString()
    li.append(seat, who)
    return li
  }))
  $("no-orders").hidden = state.orders.length > 0
}
const counts = (c) => {
  $("count").textContent = c.count
  $("total").textContent = c.total
  $("sold").textContent = c.sold
  $("soldout").hidden = c.count > 0
  $("buy").disabled = c.count === 0
  document.body.dataset.count = c.count
}
const events = new EventSource("events")
events.addEventListener("tickets", (e) => counts(JSON.parse(e.data)))
events.onopen = () => { document.body.dataset.live = "yes"; $("live").textContent = "● live"; $("live").className = "live on" }
events.onerror = () => { document.body.dataset.live = "no"; $("live").textContent = "reconnecting…"; $("live").className = "live" }
$("form").addEventListener("submit", async (e) => {
  e.preventDefault()
  // One key per purchase: every click until an answer comes sends the same key, so a double click buys once.
  state.key = state.key || crypto.randomUUID()
  const buyer = $("buyer").value.trim()
  localStorage.setItem("weft-buyer", buyer)
  show("Buying…")
  try {
    const response = await fetch("buy", {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": state.key },
      body: JSON.stringify(buyer ? { buyer } : {})
    })
    const body = await response.json()
    if (response.ok) {
      state.key = null
      if (!state.orders.some((o) => o.id === body.order.id)) state.orders.unshift(body.order)
      localStorage.setItem("weft-orders", JSON.stringify(state.orders))
      render()
      show("You got seat " + body.order.seat + ".", "ok")
    } else if (response.status === 409) {
      state.key = null
      show("Sold out: every ticket is gone.", "error")
    } else {
      if (response.status !== 503) state.key = null
      show(body.error || ("Error " + response.status), "error")
    }
  } catch (error) {
    // The answer was lost: the next click retries with the same key, and cannot buy twice.
    show("No answer from the server; try again (it will not buy twice).", "error")
  }
})
$("buyer").value = localStorage.getItem("weft-buyer") || ""
render()
// Orders of an earlier sale (before a reset) are gone from the store: drop them from the list.
Promise.all(state.orders.map((o) => fetch("orders/" + encodeURIComponent(o.id)).then((r) => r.status === 404 ? o.id : null, () => null)))
  .then((gone) => {
    state.orders = state.orders.filter((o) => !gone.includes(o.id))
    localStorage.setItem("weft-orders", JSON.stringify(state.orders))
    render()
    document.body.dataset.checked = "yes"
  })
`

/** An inline icon: no request, so no 404 for /favicon.ico. */
const icon = `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1a73e8"/><rect x="4" y="5" width="8" height="6" fill="#fff"/></svg>`)}`

const page = (counts: Store.Counts) =>
  h("html", { lang: "en" }, [
    h("head", {}, [
      h("meta", { charset: "utf-8" }),
      h("meta", { name: "viewport", content: "width=device-width, initial-scale=1" }),
      h("title", {}, "Weft tickets"),
      h("link", { rel: "icon", href: icon }),
      h("style", { dangerouslySetInnerHTML: { __html: style } })
    ]),
    h("body", { "data-count": String(counts.count) }, [
      h("main", {}, [
        h("h1", {}, "Weft ticket office"),
        h("section", { class: "card", "aria-live": "polite" }, [
          h("div", { class: "count", id: "count" }, String(counts.count)),
          h("div", { class: "muted" }, [
            "tickets left of ",
            h("span", { id: "total" }, String(counts.total)),
            " · ",
            h("span", { id: "sold" }, String(counts.sold)),
            " sold · ",
            h("span", { id: "live", class: "live" }, "connecting…")
          ]),
          h("div", { class: "soldout", id: "soldout", hidden: counts.count > 0 }, "Sold out — every ticket is gone.")
        ]),
        h("form", { class: "card", id: "form" }, [
          h("label", { for: "buyer" }, "Your name"),
          // maxlength counts UTF-16 units: room for 100 characters of any kind; the server counts characters.
          h("input", { id: "buyer", name: "buyer", maxlength: 200, placeholder: "Ada Lovelace", autocomplete: "name" }),
          h("button", { id: "buy", type: "submit", disabled: counts.count === 0 }, "Buy a ticket"),
          h("div", { id: "message", role: "status" })
        ]),
        h("section", { class: "card" }, [
          h("h2", { style: "font-size:1.05rem;margin:0 0 .4rem" }, "My orders"),
          h("p", { id: "no-orders", class: "muted" }, "None yet."),
          h("ul", { id: "orders" })
        ])
      ]),
      h("script", { dangerouslySetInnerHTML: { __html: script } })
    ])
  ])

/**
 * Adds `GET /` (the page) and `GET /events` (SSE: an event `tickets` with
 * `{ count, sold, total }` now and on every change) to the app.
 *
 * @example
 * ```ts
 * Page.routes(app, store, live)
 * ```
 */
export const routes = (app: Hono, store: Store.TicketStore, watch: Live): void => {
  app.get("/", (c) =>
    Effect.runPromise(Effect.result(store.tickets)).then((result) =>
      result._tag === "Failure"
        ? c.json({ ok: false, error: result.failure.message }, 500)
        : c.html("<!doctype html>" + page(result.success).toString())
    ))

  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      let wake: () => void = () => {}
      const queue: Array<Store.Counts> = []
      const stop = watch.subscribe((counts) => {
        queue.push(counts)
        wake()
      })
      stream.onAbort(() => wake())
      try {
        while (!stream.aborted && !stream.closed) {
          while (queue.length > 0) {
            await stream.writeSSE({ event: "tickets", data: JSON.stringify(queue.shift()) })
          }
          await new Promise<void>((resolve) => {
            const beat = setTimeout(resolve, 5_000) // a keep-alive beat (idle connections may be cut at 10 s)
            wake = () => {
              clearTimeout(beat)
              resolve()
            }
          })
          if (queue.length === 0 && !stream.aborted) await stream.write(": beat\n\n")
        }
      } finally {
        stop()
      }
    }))
}
