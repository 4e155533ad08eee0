/**
 * The ticket office's HTTP API on Hono.
 *
 *   GET  /health      -> 200 { ok: true, pid }
 *   GET  /tickets     -> 200 { count, sold, total }
 *   POST /buy         [{ "buyer": "name" }] [Idempotency-Key: k]
 *                     -> 200 { ok: true, order: { id, seat, buyer, at }, left }
 *                        409 { ok: false, error: "sold out", left: 0 }
 *                        422 the key was used with a different body
 *                        400 a malformed body or key (the message says what)
 *                        413 a body over 4 KiB; 415 a body that is not JSON
 *   GET  /orders/:id  -> 200 the order | 404
 *   POST /reset       { "count": N } with Authorization: Bearer <admin token>
 *                     -> 200 | 400 | 401 (wrong or missing token) | 403 (no token configured)
 *
 * Every route is behind `@weft/app`'s `Guard`: a foreign `Host` gets 421, a
 * POST from another origin 403.
 *
 * A store failure answers 500 (corrupt) or 503 (cannot write, e.g. a full
 * disk) with `{ error }` naming the file and what is wrong; no purchase is
 * confirmed that is not on disk.
 *
 * @example
 * ```ts
 * const app = Http.makeApp(store, { adminToken: "s3cret" })
 * const response = await app.request("/tickets")
 * ```
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Effect } from "effect"
import * as Guard from "@weft/app/Guard"
import * as Inspector from "@weft/app/Inspector"
import { Hono } from "hono"
import type { ContentfulStatusCode } from "hono/utils/http-status"
import type * as Store from "./store.ts"

/**
 * Options of `makeApp`.
 *
 * @example
 * ```ts
 * const options: Http.AppOptions = { adminToken: process.env.TICKETING_ADMIN_TOKEN }
 * ```
 */
export interface AppOptions {
  /** The bearer token `POST /reset` needs; without one, reset is refused. */
  readonly adminToken?: string | undefined
  /** Called after each sale here (the page pushes the new count at once). */
  readonly onSale?: (() => void) | undefined
  /** Adds routes (the page, its events) to the app before the API's 404. */
  readonly extend?: ((app: Hono) => void) | undefined
  /** Where the server listens and the page's scripts, for `Guard` (bodies are limited to `MAX_BODY`). */
  readonly guard?: Guard.Options | undefined
}

/**
 * Longest accepted `/buy` or `/reset` body, in bytes.
 *
 * @example
 * ```ts
 * Http.parseBuy("x".repeat(Http.MAX_BODY + 1), undefined).ok // false
 * ```
 */
export const MAX_BODY = 4096
/**
 * Longest buyer name, in characters (code points: an emoji is one).
 *
 * @example
 * ```ts
 * Http.parseBuy(JSON.stringify({ buyer: "a".repeat(Http.MAX_BUYER) }), undefined).ok // true
 * ```
 */
export const MAX_BUYER = 100
/**
 * Idempotency keys: 1 to 200 visible ASCII characters.
 *
 * @example
 * ```ts
 * Http.KEY_PATTERN.test(crypto.randomUUID()) // true
 * Http.KEY_PATTERN.test("has space") // false
 * ```
 */
export const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/

/**
 * Checks a `/buy` request: the body (empty, or a JSON object with an optional
 * `buyer`) and the `Idempotency-Key`. Returns the request, or what is wrong.
 *
 * @example
 * ```ts
 * Http.parseBuy('{"buyer": "ada"}', "k-1") // { ok: true, request: { buyer: "ada", key: "k-1" } }
 * Http.parseBuy("[1]", undefined) // { ok: false, error: "the body must be a JSON object like {\"buyer\": \"ada\"}, got [1]" }
 * ```
 */
export const parseBuy = (
  text: string,
  key: string | undefined
): { readonly ok: true; readonly request: Store.BuyRequest } | { readonly ok: false; readonly error: string } => {
  if (key !== undefined && !KEY_PATTERN.test(key)) {
    return { ok: false, error: `the Idempotency-Key header must be 1 to 200 visible ASCII characters (no spaces), got ${clip(key)}` }
  }
  if (text.length > MAX_BODY) return { ok: false, error: `the body is larger than ${MAX_BODY} bytes` }
  if (text.trim() === "") return { ok: true, request: key === undefined ? {} : { key } }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    return { ok: false, error: `the body is not valid JSON (${error instanceof Error ? error.message : String(error)}); send {"buyer": "name"} or nothing` }
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: `the body must be a JSON object like {"buyer": "ada"}, got ${clip(JSON.stringify(body))}` }
  }
  const unknown = Object.keys(body).filter((k) => k !== "buyer")
  if (unknown.length > 0) return { ok: false, error: `unknown field ${JSON.stringify(unknown[0])}; the body may only have "buyer"` }
  const buyer = (body as { buyer?: unknown }).buyer
  if (buyer === undefined) return { ok: true, request: key === undefined ? {} : { key } }
  if (typeof buyer !== "string" || buyer.trim() === "" || characters(buyer) > MAX_BUYER || /[\x00-\x1f\x7f]/.test(buyer)) {
    return { ok: false, error: `"buyer" must be a name: 1 to ${MAX_BUYER} characters, no control characters, got ${clip(JSON.stringify(buyer))}` }
  }
  return { ok: true, request: { buyer: buyer.trim(), ...(key === undefined ? {} : { key }) } }
}

/** Length in characters (code points), not UTF-16 units. */
const characters = (text: string): number => {
  let n = 0
  for (const _ of text) n++
  return n
}

/** At most 60 characters, never half of one. */
const clip = (text: string | undefined): string => {
  const chars = Array.from(text ?? "undefined")
  return chars.length > 60 ? `${chars.slice(0, 60).join("")}…` : chars.join("")
}

const digest = (text: string) => createHash("sha256").update(text).digest()

const statusOf = (error: Store.StoreError): ContentfulStatusCode => error._tag === "StoreIOError" ? 503 : 500

/**
 * The Hono app over a store.
 *
 * @example
 * ```ts
 * const app = Http.makeApp(store, { adminToken: "s3cret" })
 * await app.request("/buy", { method: "POST", body: JSON.stringify({ buyer: "ada" }) })
 * ```
 */
export const makeApp = (store: Store.TicketStore, options: AppOptions = {}): Hono => {
  const app = new Hono()
  // Host, origin, JSON bodies, body size, security headers: before every route.
  app.use(Guard.make({ maxBody: MAX_BODY, ...options.guard }))
  const run = (effect: Effect.Effect<Response, never>): Promise<Response> => Effect.runPromise(effect)
  const fail = (c: { json: (b: unknown, s: ContentfulStatusCode) => Response }) => (error: Store.StoreError) =>
    Effect.succeed(c.json({ ok: false, error: error.message }, statusOf(error)))

  app.get("/health", (c) => c.json({ ok: true, pid: process.pid }))

  app.get("/tickets", (c) =>
    run(store.tickets.pipe(
      Effect.map((counts) => c.json(counts)),
      Effect.catch(fail(c))
    )))

  app.post("/buy", async (c) => {
    let text: string
    try {
      text = await c.req.text()
    } catch {
      return c.json({ ok: false, error: "the body could not be read" }, 400)
    }
    const parsed = parseBuy(text, c.req.header("idempotency-key"))
    if (!parsed.ok) return c.json({ ok: false, error: parsed.error }, 400)
    return run(store.buy(parsed.request).pipe(
      Effect.map((p) => {
        if (!p.ok) return c.json({ ok: false, error: "sold out", left: 0 }, 409)
        if (p.replayed) c.header("Idempotent-Replayed", "true")
        else options.onSale?.()
        return c.json({ ok: true, order: p.order, left: p.left })
      }),
      Effect.catchTag("IdempotencyKeyReusedError", (e) => Effect.succeed(c.json({ ok: false, error: e.message }, 422))),
      Effect.catch(fail(c))
    ))
  })

  app.get("/orders/:id", (c) =>
    run(store.order(c.req.param("id")).pipe(
      Effect.map((order) =>
        order === undefined ? c.json({ ok: false, error: `no order ${clip(c.req.param("id"))}` }, 404) : c.json(order)
      ),
      Effect.catch(fail(c))
    )))

  app.post("/reset", async (c) => {
    const token = options.adminToken
    if (token === undefined || token === "") {
      return c.json({ ok: false, error: "reset is disabled: start serve with --admin-token or TICKETING_ADMIN_TOKEN" }, 403)
    }
    const auth = c.req.header("authorization") ?? ""
    const given = /^Bearer (.+)$/.exec(auth)?.[1]
    if (given === undefined || !timingSafeEqual(digest(given), digest(token))) {
      c.header("WWW-Authenticate", "Bearer")
      return c.json({ ok: false, error: given === undefined ? "reset needs Authorization: Bearer <admin token>" : "wrong admin token" }, 401)
    }
    let body: unknown
    try {
      const text = await c.req.text()
      if (text.length > MAX_BODY) return c.json({ ok: false, error: `the body is larger than ${MAX_BODY} bytes` }, 400)
      body = JSON.parse(text)
    } catch {
      return c.json({ ok: false, error: `the body must be JSON like {"count": 3}` }, 400)
    }
    const count = typeof body === "object" && body !== null ? (body as { count?: unknown }).count : undefined
    return run(store.reset(count).pipe(
      Effect.map(() => c.json({ ok: true, count })),
      Effect.catchTag("InvalidCountError", (e) => Effect.succeed(c.json({ ok: false, error: e.message }, 400))),
      Effect.catch(fail(c))
    ))
  })

  // GET /inspect, /inspect/events (every process of the office) and /metrics, for npm start's inspector page.
  Inspector.routes(app)
  options.extend?.(app)

  app.notFound((c) =>
    c.json({ ok: false, error: `no route ${c.req.method} ${c.req.path}; try GET /tickets, POST /buy, GET /orders/:id, POST /reset` }, 404)
  )
  app.onError((error, c) => c.json({ ok: false, error: error.message }, 500))
  return app
}
