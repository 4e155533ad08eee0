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
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Hono } from "hono"
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

/**
 * POSTs a JSON body of up to `bytes` (default 200 MB) in 64 KiB writes
 * (chunked: no length announced), as fast as the server reads, and stops at
 * the answer. Resolves with the status and how many bytes were sent by then.
 *
 * @example
 * ```ts
 * const { status, sent } = await Hostile.flood(`${url}/buy`)
 * ```
 */
export const flood = (url: string, bytes = 200 * 1024 * 1024): Promise<{ readonly status: number; readonly sent: number }> =>
  new Promise((resolve, reject) => {
    let sent = 0
    let answered = false
    const request = http.request(url, { method: "POST", headers: { "content-type": "application/json" } })
    const chunk = Buffer.alloc(64 * 1024, 32)
    const write = () => {
      while (!answered && sent < bytes) {
        sent += chunk.length
        if (!request.write(chunk)) return void request.once("drain", write)
      }
      if (!answered) request.end()
    }
    request.on("response", (response) => {
      answered = true
      response.resume()
      resolve({ status: response.statusCode ?? 0, sent })
      request.destroy()
    })
    // Once answered, the server may cut the rest of the upload: not a failure.
    request.on("error", (error) => answered || reject(error))
    request.setTimeout(60_000, () => request.destroy(new Error(`no answer from ${url} within 60 s`)))
    write()
  })

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
