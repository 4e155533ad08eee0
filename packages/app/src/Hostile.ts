/**
 * Hostile clients, for the apps' security tests: a request with any `Host`
 * and `Origin` (which `fetch` will not send), a body that never seems to end,
 * and a page served from another origin on loopback. Every target is the URL
 * a test gives, which is always a loopback server the test started.
 *
 * Import it from `@weft/app/Hostile` (the main entry does not load it).
 *
 * @example
 * ```ts
 * import * as Hostile from "@weft/app/Hostile"
 *
 * const answer = await Hostile.request(`${url}/`, { headers: { host: "evil.example" } })
 * answer.status // 421
 * const { status, sent } = await Hostile.flood(`${url}/buy`)
 * status // 413, with sent far below 200 MB
 * ```
 *
 * @module
 */
import * as http from "node:http"
import * as net from "node:net"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Hono } from "hono"
import type { Browser } from "playwright-core"
import { watch } from "./Chromium.ts"
import * as Serve from "./Serve.ts"

/**
 * A raw HTTP request.
 *
 * @example
 * ```ts
 * const options: Hostile.RequestOptions = { method: "POST", headers: { origin: "http://evil.example" }, body: "{}" }
 * ```
 */
export interface RequestOptions {
  readonly method?: string | undefined
  /** Sent as given: `host`, `origin`, `upgrade` included. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: string | undefined
}

/**
 * What came back: the status (101 for an accepted WebSocket upgrade), the
 * headers, the body as text (empty for an upgrade).
 *
 * @example
 * ```ts
 * const { status, headers, body } = await Hostile.request(url)
 * ```
 */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
}

/**
 * Sends one request through `node:http`, so any `Host` or `Origin` goes out
 * as given; an upgrade answered 101 is closed at once. Fails after 15 s.
 *
 * @example
 * ```ts
 * await Hostile.request(`${url}/buy`, { method: "POST", headers: { origin: "http://evil.example", "content-type": "application/json" }, body: "{}" })
 * ```
 */
export const request = (url: string, options: RequestOptions = {}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const request = http.request(url, { method: options.method ?? "GET", headers: { ...options.headers } })
    request.setTimeout(15_000, () => request.destroy(new Error(`no answer from ${url} within 15 s`)))
    request.on("upgrade", (response, socket) => {
      socket.destroy()
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: "" })
    })
    request.on("response", (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (body += chunk))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }))
      response.on("error", reject)
    })
    request.on("error", reject)
    request.end(options.body)
  })

/**
 * The WebSocket handshake headers (with `origin`), for `request`.
 *
 * @example
 * ```ts
 * (await Hostile.request(`${url}/ws`, { headers: Hostile.upgrade("http://evil.example") })).status // 403
 * ```
 */
export const upgrade = (origin?: string): Record<string, string> => ({
  connection: "Upgrade",
  upgrade: "websocket",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  ...(origin === undefined ? {} : { origin })
})

/** One try of `flood`. */
const floodOnce = (url: string, bytes: number): Promise<{ readonly status: number; readonly sent: number }> =>
  new Promise((resolve, reject) => {
    const target = new URL(url)
    const socket = net.connect(Number(target.port || 80), target.hostname.replace(/^\[(.*)\]$/, "$1"))
    const size = 64 * 1024
    const chunk = Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, 32), Buffer.from("\r\n")])
    let sent = 0
    let answer = ""
    let settled = false
    const settle = (outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      outcome()
    }
    const timer = setTimeout(() => settle(() => reject(new Error(`no answer from ${url} within 60 s`))), 60_000)
    const write = () => {
      while (!settled && sent < bytes) {
        sent += size
        const more = socket.write(chunk)
        // The first 2 MiB go at a walk, so that a server that answers and closes is heard before
        // more is written: a write after its close resets the connection, and the kernel may drop
        // the answer with it. Past that, as fast as the server reads.
        if (sent < 2 * 1024 * 1024) return void setTimeout(() => (more ? write() : socket.once("drain", write)), 20)
        if (!more) return void socket.once("drain", write)
      }
      if (!settled) socket.write("0\r\n\r\n")
    }
    socket.setEncoding("latin1")
    socket.on("data", (data: string) => {
      answer += data
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)
      if (status) settle(() => resolve({ status: Number(status[1]), sent }))
    })
    // A write after the server answered and closed fails: the answer, if any, came first.
    socket.on("error", () => {})
    socket.on("close", () => settle(() => reject(new FloodReset(`${url} closed the connection after ${sent} bytes without an answer (three times)`))))
    socket.once("connect", () => {
      socket.write(`POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`)
      write()
    })
  })

/**
 * POSTs a JSON body of up to `bytes` (default 200 MB) in 64 KiB chunks
 * (chunked: no length announced), as fast as the server reads, and stops at
 * the answer. Resolves with the status and how many bytes were sent by then.
 * A raw socket, not `node:http`: a server that answers and closes while the
 * body still streams makes the next write fail, and some runtimes' HTTP
 * clients then drop the answer they had already received.
 *
 * Tried up to three times while the server resets the connection before
 * its answer can be read: a server that closes with unread input (Bun's
 * does) resets it, and the kernel may then drop the 413 it had already sent.
 *
 * @example
 * ```ts
 * const { status, sent } = await Hostile.flood(`${url}/buy`)
 * ```
 */
export const flood = async (url: string, bytes = 200 * 1024 * 1024): Promise<{ readonly status: number; readonly sent: number }> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await floodOnce(url, bytes)
    } catch (error) {
      if (attempt >= 3 || !(error instanceof FloodReset)) throw error
    }
  }
}

/** The connection closed before any answer could be read. */
class FloodReset extends Error {}

/**
 * Serves `html` at `/` of another origin on loopback (a free port of
 * 127.0.0.1, or `hostname`), with no guard: the page a user might visit
 * while a Weft app runs. Lives in the scope.
 *
 * @example
 * ```ts
 * const evil = yield* Hostile.site(`<form method="post" action="${url}/buy"></form>`)
 * yield* Effect.promise(() => page.goto(evil.url))
 * ```
 */
export const site = (html: string, hostname = "127.0.0.1"): Effect.Effect<Serve.Server, Serve.ServeError, Scope.Scope> =>
  Serve.serve(new Hono().get("/", (c) => c.html(html)).get("/favicon.ico", (c) => c.body(null, 204)), { hostname })

/**
 * A page on another origin that does what a hostile site would to `target`
 * (a page of a Weft server): frames it, sends a no-cors `fetch` POST of
 * `json` to `target + path`, and holds a plain `<form>` that posts `fields`
 * there (submitted by `visit`).
 *
 * @example
 * ```ts
 * const evil = yield* Hostile.crossSite(office, { path: "/buy", fields: { buyer: "x" }, json: { buyer: "x" } })
 * ```
 */
export const crossSite = (
  target: string,
  post: { readonly path: string; readonly fields: Readonly<Record<string, string>>; readonly json: unknown }
): Effect.Effect<Serve.Server, Serve.ServeError, Scope.Scope> => {
  const attribute = (text: string) => text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")
  const inputs = Object.entries(post.fields).map(([name, value]) => `<input name="${attribute(name)}" value="${attribute(value)}">`).join("")
  return site(`<!doctype html><link rel="icon" href="data:,">
<iframe src="${attribute(target)}/"></iframe>
<form id="form" method="post" action="${attribute(target + post.path)}">${inputs}</form>
<script>
  fetch(${JSON.stringify(target + post.path)}, { method: "POST", mode: "no-cors", body: ${JSON.stringify(JSON.stringify(post.json))} })
    .finally(() => { document.body.dataset.fetched = "yes" })
</script>`)
}

/**
 * Visits a `crossSite` page in `browser`: waits for its fetch to settle and
 * for the frame's fate, then submits its form. Resolves with the status the
 * form's POST got and whether Chromium refused to frame the target for its
 * `frame-ancestors`.
 *
 * @example
 * ```ts
 * const { formStatus, frameRefused } = await Hostile.visit(browser, evil.url) // 403, true
 * ```
 */
export const visit = async (browser: Browser, url: string): Promise<{ readonly formStatus: number; readonly frameRefused: boolean }> => {
  const page = await browser.newPage()
  try {
    const problems = await watch(page)
    await page.goto(`${url}/`)
    await page.waitForSelector("body[data-fetched=yes]", { timeout: 10_000 })
    const refused = () => problems().some((p) => p.includes("frame-ancestors"))
    // The frame's refusal is reported as it loads: wait for it, at most 10 s.
    for (const deadline = Date.now() + 10_000; !refused() && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 50))
    const action = await page.getAttribute("#form", "action")
    const [response] = await Promise.all([page.waitForResponse(action!), page.evaluate(`document.getElementById("form").submit()`)])
    return { formStatus: response.status(), frameRefused: refused() }
  } finally {
    await page.close()
  }
}
