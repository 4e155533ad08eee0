/**
 * The `serve` mode's HTTP side (Hono, served by `@weft/app`'s `Serve.serve`
 * on the runtime's own server):
 *
 *   GET  /             the live page
 *   GET  /events       Server-Sent Events: the latest run's log so far, then every update
 *                      (`run`, `entry`, `end`; each `data` is JSON)
 *   POST /runs         start a run: JSON `{ scope, cars, green, red, duration }`
 *                      (the CLI's flags and limits; at most 2 minutes, phases of at least 100 ms)
 *                      -> 202 the run | 400 { error } in the form's words | 409 { error }
 *
 * Every route is behind `@weft/app`'s `Guard`: a foreign `Host` gets 421, a
 * POST from another origin 403, a form or text body 415, one over 4 KiB 413.
 *   GET  /runs/current the server's event log of the latest run | 404
 *   GET  /health       { ok: true, running }
 */
import * as Guard from "@weft/app/Guard"
import * as Inspector from "@weft/app/Inspector"
import { Effect } from "effect"
import { Hono } from "hono"
import { streamSSE } from "hono/streaming"
import { parse, UsageError } from "./cli.ts"
import { page, script } from "./page.ts"
import type { Runs, Update } from "./runs.ts"
import type { Config, ScopeName } from "./scopes.ts"

const fields = ["scope", "cars", "green", "red", "duration"] as const

/** The longest run the page starts (the CLI has no limit). */
const maxDuration = 120_000
/** The shortest green or red phase the page allows: a run has at most ~1,200 light changes. */
const minPhase = 100

/** The form's labels: errors name the field as the page shows it. */
const labels: Record<string, string> = { scope: "Scope", cars: "Cars", green: "Green", red: "Red", duration: "Duration" }
const label = (field: string) => labels[field] ?? field

/** The form's fields through the CLI's checks, so the page gets the same rules, in its own words. */
const configOf = (body: unknown, cluster: boolean) => {
  if (typeof body !== "object" || body === null) return new UsageError({ message: "the body must be an object of scope, cars, green, red, duration" })
  const argv: Array<string> = []
  for (const field of fields) {
    const value = (body as Record<string, unknown>)[field]
    if (value === undefined || value === "") continue
    if (typeof value !== "string" && typeof value !== "number") {
      return new UsageError({ message: `${label(field)}: must be a string or a number` })
    }
    argv.push(`--${field}=${String(value)}`)
  }
  const parsed = parse(argv, label)
  if (parsed === "help") return new UsageError({ message: "no help here" })
  if (parsed instanceof UsageError) return parsed
  const config: Config = { scope: parsed.scope, cars: parsed.cars, green: parsed.green, red: parsed.red, duration: parsed.duration }
  if (config.scope === "cluster" && !cluster) {
    return new UsageError({ message: `${label("scope")}: cluster needs the server started with --cluster postgres://...` })
  }
  // One run at a time for everyone who opens the page: each one short, and its log small.
  if (config.duration > maxDuration) return new UsageError({ message: `${label("duration")}: at most ${maxDuration / 60_000}m` })
  for (const phase of ["green", "red"] as const) {
    if (config[phase] < minPhase) return new UsageError({ message: `${label(phase)}: at least ${minPhase}ms` })
  }
  return config
}

/**
 * What the page offers: the form's first scope, and whether the server has
 * a cluster (then the form offers the cluster scope).
 *
 * @example
 * ```ts
 * const form: Form = { scope: "cluster", cluster: true }
 * ```
 */
export interface Form {
  readonly scope?: ScopeName | undefined
  readonly cluster?: boolean | undefined
}

/**
 * The Hono app of `serve` mode (the routes above); `guard` says where the
 * server listens (for the `Host` check), `form` what the page offers.
 *
 * @example
 * ```ts
 * const server = yield* Serve.serve(makeApp(yield* Runs.make), { port: 8083 })
 * ```
 */
export const makeApp = (runs: Runs, guard: Guard.Options = {}, form: Form = {}): Hono => {
  const app = new Hono()
  app.use(Guard.make({ maxBody: 4096, scripts: [script], ...guard }))
  const cluster = form.cluster === true

  app.get("/", (c) => c.html(page({ scope: form.scope ?? (cluster ? "cluster" : "fiber"), cluster })))

  app.get("/health", (c) => c.json({ ok: true, running: runs.current()?.status === "running" }))

  app.get("/runs/current", (c) => {
    const run = runs.current()
    return run ? c.json(run) : c.json({ error: "no run yet" }, 404)
  })

  app.post("/runs", async (c) => {
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      return c.json({ error: "the body must be JSON like {\"scope\": \"fiber\", \"cars\": 5}" }, 400)
    }
    const config = configOf(body, cluster)
    if (config instanceof UsageError) return c.json({ error: config.message }, 400)
    return Effect.runPromise(runs.start(config).pipe(
      Effect.match({
        onSuccess: (run) => c.json(run, 202),
        onFailure: (error) => c.json({ error: error.message }, 409)
      })
    ))
  })

  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      const pending: Array<Update> = []
      let wake: (() => void) | undefined
      const { log, unsubscribe } = runs.subscribe((update) => {
        pending.push(update)
        wake?.()
      })
      pending.unshift(...log)
      stream.onAbort(() => {
        unsubscribe()
        wake?.()
      })
      try {
        while (!stream.aborted) {
          while (pending.length > 0 && !stream.aborted) {
            const update = pending.shift()!
            await stream.writeSSE({ event: update.type, data: JSON.stringify(update) })
          }
          if (stream.aborted) break
          // Wait for the next update; a comment every 15 s keeps proxies from closing an idle stream.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 15_000)
            wake = () => {
              clearTimeout(timer)
              resolve()
            }
          })
          wake = undefined
          if (pending.length === 0 && !stream.aborted) await stream.write(": keep-alive\n\n")
        }
      } finally {
        unsubscribe()
      }
    }))

  // GET /inspect, /inspect/events and /metrics, for npm start's inspector page.
  Inspector.routes(app, { label: "traffic-light" })

  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}; try GET /, GET /events, POST /runs, GET /runs/current` }, 404))
  return app
}
