/**
 * The HTTP hardening every Weft server puts in front of its routes, as one
 * Hono middleware:
 *
 * | rule | answer |
 * | --- | --- |
 * | `Host` is not a name this server answers to (DNS rebinding; see `Host.allows`) | 421 |
 * | a `POST`/`PUT`/`PATCH`/`DELETE` or a WebSocket upgrade from another origin (`Origin`, or `Sec-Fetch-Site` not same-origin) | 403 |
 * | a body that is not `application/json` (a form, `text/plain`: what another site's `<form>` or no-cors `fetch` can send) | 415 |
 * | a body over `maxBody` bytes, counted while it streams (Hono's `bodyLimit`) | 413 |
 *
 * and on every response but a WebSocket handshake (Hono's `secureHeaders`): a
 * `Content-Security-Policy` whose only scripts are the page's own inline
 * scripts, by their sha256 hash (no `'unsafe-inline'`), with
 * `frame-ancestors 'none'`; `X-Frame-Options: DENY`;
 * `X-Content-Type-Options: nosniff`; `Referrer-Policy: no-referrer`.
 *
 * Hono's own `csrf` middleware is not enough here: it checks only form-like
 * bodies, and never WebSocket upgrades. A request without `Origin` (curl, a
 * script) is not a browser's cross-site request and passes.
 *
 * @example
 * ```ts
 * import { Hono } from "hono"
 * import { Guard } from "@weft/app"
 *
 * const script = `document.body.dataset.ready = "yes"`
 * const app = new Hono()
 * app.use(Guard.make({ host: "127.0.0.1", scripts: [script], maxBody: 4096 }))
 * app.get("/", (c) => c.html(`<!doctype html><script>${script}</script>`))
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto"
import type { Context, MiddlewareHandler } from "hono"
import { bodyLimit } from "hono/body-limit"
import { secureHeaders } from "hono/secure-headers"
import type { ContentfulStatusCode } from "hono/utils/http-status"
import * as Host from "./Host.ts"

/**
 * What the guard allows.
 *
 * @example
 * ```ts
 * const options: Guard.Options = { host: "0.0.0.0", publicHost: "chat.example.org", scripts: [Page.script] }
 * ```
 */
export interface Options {
  /** The address the server binds (`--host`); default 127.0.0.1. */
  readonly host?: string | undefined
  /** `--public-host`: a name users reach the server by, allowed in `Host`. */
  readonly publicHost?: string | undefined
  /** The longest request body, in bytes; default 64 KiB. */
  readonly maxBody?: number | undefined
  /** The pages' inline scripts, exactly as served between `<script>` and `</script>`. */
  readonly scripts?: ReadonlyArray<string> | undefined
}

/**
 * The default longest body: 64 KiB.
 *
 * @example
 * ```ts
 * Guard.make({ maxBody: Guard.DEFAULT_MAX_BODY * 4 })
 * ```
 */
export const DEFAULT_MAX_BODY = 64 * 1024

/**
 * A CSP source for an inline script: `'sha256-<base64>'` of its text.
 *
 * @example
 * ```ts
 * Guard.scriptHash("alert(1)") // "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
 * ```
 */
export const scriptHash = (script: string): string => `'sha256-${createHash("sha256").update(script, "utf8").digest("base64")}'`

/**
 * The Content-Security-Policy directives for pages whose scripts are
 * `scripts`: nothing but this origin's own resources, those inline scripts,
 * inline styles, and `data:` images (an inline favicon); no framing, no
 * `<base>`, forms only to this origin.
 */
const directives = (scripts: ReadonlyArray<string>) => ({
  defaultSrc: ["'none'"],
  scriptSrc: scripts.length === 0 ? ["'none'"] : [...new Set(scripts.map(scriptHash))],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"]
})

const refuse = (c: Context, status: ContentfulStatusCode, error: string): Response => c.json({ ok: false, error }, status)

const SAFE = new Set(["GET", "HEAD", "OPTIONS"])
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/** The `Host` header's name without its port, or undefined when it is missing or malformed. */
const hostName = (header: string | undefined): string | undefined => {
  if (header === undefined || header === "") return undefined
  try {
    return new URL(`http://${header}`).hostname
  } catch {
    return undefined
  }
}

/** `host:port` of an `Origin` header, canonical; undefined for `null` or garbage. */
const originAuthority = (origin: string): string | undefined => {
  try {
    const url = new URL(origin)
    return url.protocol === "http:" || url.protocol === "https:" ? url.host : undefined
  } catch {
    return undefined
  }
}

/**
 * The middleware; `app.use` it before every route.
 *
 * @example
 * ```ts
 * app.use(Guard.make({ host: options.host, publicHost: options.publicHost, scripts: [Page.script] }))
 * ```
 */
export const make = (options: Options = {}): MiddlewareHandler => {
  const allowed = Host.allows(options.host ?? Host.loopback, options.publicHost)
  const maxBody = options.maxBody ?? DEFAULT_MAX_BODY
  const headers = secureHeaders({
    contentSecurityPolicy: directives(options.scripts ?? []),
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    xContentTypeOptions: true,
    // Plain HTTP: a Strict-Transport-Security header would be ignored, or wrong behind a proxy.
    strictTransportSecurity: false
  })
  const limit = bodyLimit({
    maxSize: maxBody,
    onError: (c) => {
      // Close the connection rather than read the rest of a body nobody wants.
      c.header("connection", "close")
      return refuse(c, 413, `the body is larger than ${maxBody} bytes`)
    }
  })

  /** The request's refusal, if it gets one. */
  const check = (c: Context, upgrade: boolean): Response | undefined => {
    const header = c.req.header("host") ?? new URL(c.req.url).host
    const host = hostName(header)
    if (host === undefined || !allowed(host)) {
      return refuse(c, 421, `this server does not answer to the host ${JSON.stringify(header ?? "")}`)
    }
    if (!upgrade && SAFE.has(c.req.method)) return undefined
    const site = c.req.header("sec-fetch-site")
    const origin = c.req.header("origin")
    const own = new URL(`http://${header}`).host
    if ((site !== undefined && site !== "same-origin" && site !== "none") || (origin !== undefined && originAuthority(origin) !== own)) {
      return refuse(c, 403, `a request from another origin (${origin ?? site}) may not ${upgrade ? "open a WebSocket" : `${c.req.method} here`}`)
    }
    if (upgrade) return undefined
    const type = c.req.header("content-type")
    const length = c.req.header("content-length")
    const hasBody = type !== undefined || (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined
    if (hasBody && (type === undefined || !JSON_TYPE.test(type))) {
      return refuse(c, 415, `send the body as JSON, with Content-Type: application/json${type === undefined ? "" : ` (got ${type.split(";")[0]})`}`)
    }
    return undefined
  }

  return async (c, next) => {
    if (c.req.header("upgrade")?.toLowerCase() === "websocket") {
      // A handshake's response belongs to the runtime's WebSocket server: checked, not decorated.
      const refusal = check(c, true)
      if (refusal !== undefined) return refusal
      return next()
    }
    return headers(c, async () => {
      const refusal = check(c, false)
      if (refusal !== undefined) {
        c.res = refusal
        return
      }
      const answer = await limit(c, next)
      if (answer instanceof Response) c.res = answer
    })
  }
}
