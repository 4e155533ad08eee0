/**
 * The `serve` mode's HTTP side (Hono, served by `@weft/app`'s `Serve.serve`
 * on the runtime's own server):
 *
 *   GET  /             the live page
 *   GET  /events       Server-Sent Events: the latest run's log so far, then every update
 *                      (`run`, `entry`, `end`; each `data` is JSON)
 *   POST /runs         start a run: JSON or form `{ scope, cars, green, red, duration }`
 *                      (the CLI's flags and limits, and at most 2 minutes)
 *                      -> 202 the run | 400 { error } | 409 { error }
 *   GET  /runs/current the server's event log of the latest run | 404
 *   GET  /health       { ok: true, running }
 */
import { Effect } from "effect"
import { Hono } from "hono"
import { streamSSE } from "hono/streaming"
import { parse, UsageError } from "./cli.ts"
import { page } from "./page.ts"
import type { Runs, Update } from "./runs.ts"

const fields = ["scope", "cars", "green", "red", "duration"] as const

/** The longest run the page starts (the CLI has no limit). */
const maxDuration = 120_000

/** The form's fields as the CLI's flags, so the page gets the same checks and messages. */
const configOf = (body: unknown) => {
  if (typeof body !== "object" || body === null) return new UsageError({ message: "the body must be an object of scope, cars, green, red, duration" })
  const argv: Array<string> = []
  for (const field of fields) {
    const value = (body as Record<string, unknown>)[field]
    if (value === undefined || value === "") continue
    if (typeof value !== "string" && typeof value !== "number") {
      return new UsageError({ message: `--${field}: must be a string or a number` })
    }
    argv.push(`--${field}`, String(value))
  }
  const config = parse(argv)
  if (config === "help") return new UsageError({ message: "no help here" })
  // One run at a time for everyone who opens the page: keep each one short.
  if (!(config instanceof UsageError) && config.duration > maxDuration) {
    return new UsageError({ message: `--duration: at most ${maxDuration / 60_000}m on the page` })
  }
  return config
}

const readBody = async (request: Request): Promise<unknown> => {
  const type = request.headers.get("content-type") ?? ""
  if (type.includes("application/json")) return request.json()
  return Object.fromEntries(await request.formData())
}

/**
 * The Hono app of `serve` mode (the routes above).
 *
 * @example
 * ```ts
 * const server = yield* Serve.serve(makeApp(yield* Runs.make), { port: 8083 })
 * ```
 */
export const makeApp = (runs: Runs): Hono => {
  const app = new Hono()

  app.get("/", (c) => c.html(page()))

  app.get("/health", (c) => c.json({ ok: true, running: runs.current()?.status === "running" }))

  app.get("/runs/current", (c) => {
    const run = runs.current()
    return run ? c.json(run) : c.json({ error: "no run yet" }, 404)
  })

  app.post("/runs", async (c) => {
    let body: unknown
    try {
      body = await readBody(c.req.raw)
    } catch {
      return c.json({ error: "the body must be JSON or a form" }, 400)
    }
    const config = configOf(body)
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

  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}; try GET /, GET /events, POST /runs, GET /runs/current` }, 404))
  return app
}
