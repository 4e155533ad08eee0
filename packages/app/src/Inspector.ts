/**
 * What an app's primitives are doing, over HTTP: the routes every Weft app
 * mounts on its (guarded) Hono app.
 *
 * - `GET /inspect`: `{ at, processes }`, the `Snapshot` of every process of
 *   the app (`@weft/primitives/Registry`'s shape: each listed primitive and
 *   pool, who holds it since when, who waits since when, its counts and
 *   contention, and the lock-order and deadlock errors seen).
 * - `GET /inspect/events`: the same as Server-Sent Events (`event: snapshot`),
 *   sent every `interval` (500 ms) when anything changed, so a page needs no
 *   polling; a comment every 15 s keeps an idle stream open.
 * - `GET /metrics` (unless `metrics: false`): Effect's metrics as Prometheus
 *   text (`Inspect.prometheus`), Weft's contention metrics among them, one
 *   `pid` label per process.
 *
 * The routes sit behind the app's `Guard` like every other route (a foreign
 * `Host` gets 421), on the address the app serves (loopback by default).
 *
 * An app of several `node:cluster` processes shows all of them: its primary
 * runs `primary()`, and then a request to any process (the primary's own
 * server, or a worker serving a shared port) is answered with every
 * process's snapshot, gathered over node:cluster's IPC channel. A worker
 * that mounts the routes answers the primary's asks; one that serves no HTTP
 * calls `answer()`. A process that does not answer within a second is left
 * out rather than holding up the page.
 *
 * @example
 * ```ts
 * import { Hono } from "hono"
 * import { Guard, Inspector } from "@weft/app"
 *
 * const app = new Hono()
 * app.use(Guard.make())
 * Inspector.routes(app, { label: "my-app" }) // GET /inspect, /inspect/events, /metrics
 * ```
 *
 * @module
 */
import cluster, { type Worker } from "node:cluster"
import * as Inspect from "@weft/primitives/Inspect"
import type * as Registry from "@weft/primitives/Registry"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type { Hono } from "hono"
import { streamSSE } from "hono/streaming"

/** One process's snapshot (`@weft/primitives/Registry`'s `Snapshot`). */
export type Snapshot = Registry.Snapshot

/**
 * What `/inspect` answers and each `/inspect/events` event carries.
 *
 * @example
 * ```ts
 * const { processes }: Inspector.View = await (await fetch(`${url}/inspect`)).json()
 * ```
 */
export interface View {
  readonly at: number
  /** This process first, or the primary first when asked through it; then its workers. */
  readonly processes: ReadonlyArray<Snapshot>
}

/**
 * Options of `routes`.
 *
 * @example
 * ```ts
 * Inspector.routes(app, { label: "ticketing worker 1", metrics: true })
 * ```
 */
export interface Options {
  /** What this process is, shown on the inspector page ("chat-server", "ticketing worker 2"). */
  readonly label?: string | undefined
  /** Also mount `GET /metrics` (default true; false for an app with a `/metrics` of its own that adds `metricsText()`). */
  readonly metrics?: boolean | undefined
  /** How often `/inspect/events` looks for a change, in ms; default 500. */
  readonly interval?: number | undefined
}

/**
 * Names this process on the inspector page and in its dumps (`Inspect.setLabel`).
 *
 * @example
 * ```ts
 * Inspector.setLabel("ticketing primary")
 * ```
 */
export const setLabel = (text: string): void => Inspect.setLabel(text)

/**
 * This process's snapshot now (`Inspect.snapshotPromise`).
 *
 * @example
 * ```ts
 * const here = await Inspector.snapshot()
 * here.entries.filter((e) => e.waiters.length > 0)
 * ```
 */
export const snapshot = (): Promise<Snapshot> => Inspect.snapshotPromise()

type Want = "snapshot" | "metrics"

/** The messages on node:cluster's IPC channel, told from the app's own by `weft: "inspect"`. */
type Message =
  | { readonly weft: "inspect"; readonly op: "ask" | "all"; readonly id: string; readonly want: Want }
  | { readonly weft: "inspect"; readonly op: "reply" | "all-reply"; readonly id: string; readonly value: unknown }

const isMessage = (message: unknown): message is Message =>
  typeof message === "object" && message !== null && (message as { weft?: unknown }).weft === "inspect"

/**
 * A metric snapshot as JSON can carry it over IPC: a frequency's `Map` as
 * entries, a `bigint` as a number; the process as a `pid` attribute.
 */
const toWire = (s: Metric.Metric.Snapshot): unknown => ({
  ...s,
  attributes: { ...s.attributes, pid: String(process.pid) },
  state: s.type === "Frequency"
    ? { occurrences: [...s.state.occurrences] }
    : s.type === "Counter"
    ? { ...s.state, count: Number(s.state.count) }
    : s.type === "Gauge"
    ? { value: Number(s.state.value) }
    : s.state
})

/** `toWire` undone (a summary's missing quantile came as null). */
const fromWire = (w: any): Metric.Metric.Snapshot =>
  w.type === "Frequency"
    ? { ...w, state: { occurrences: new Map(w.state.occurrences) } }
    : w.type === "Summary"
    ? { ...w, state: { ...w.state, quantiles: w.state.quantiles.map(([q, v]: [number, number | null]) => [q, v ?? undefined]) } }
    : w

/** What this process says for itself. */
const own = async (want: Want): Promise<ReadonlyArray<unknown>> =>
  want === "snapshot"
    ? [await snapshot()]
    : (await Effect.runPromise(Metric.snapshot)).map(toWire)

const pending = new Map<string, (value: unknown) => void>()
let counter = 0

/** Sends `message` (with a fresh id) and waits up to `timeout` ms for the reply; undefined if none came. */
const request = (send: (message: Message) => void, make: (id: string) => Message, timeout = 1000): Promise<unknown> =>
  new Promise((resolve) => {
    const id = `${process.pid}:${++counter}`
    const timer = setTimeout(() => {
      pending.delete(id)
      resolve(undefined)
    }, timeout)
    pending.set(id, (value) => {
      clearTimeout(timer)
      pending.delete(id)
      resolve(value)
    })
    try {
      send(make(id))
    } catch {
      // The channel is closing (the worker is stopping): no answer.
      pending.get(id)?.(undefined)
    }
  })

const settle = (id: string, value: unknown) => pending.get(id)?.(value)

let gathering = 0

/** In a primary: this process's answer and every worker's, the primary's first. */
const gather = async (want: Want): Promise<ReadonlyArray<unknown>> => {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected())
  const replies = await Promise.all(
    workers.map((worker) => request((m) => worker.send(m), (id) => ({ weft: "inspect", op: "ask", id, want })))
  )
  return [...await own(want), ...replies.flatMap((reply) => Array.isArray(reply) ? reply : [])]
}

const onWorkerMessage = (worker: Worker, message: unknown) => {
  if (!isMessage(message)) return
  if (message.op === "reply") settle(message.id, message.value)
  else if (message.op === "all") {
    void gather(message.want).then((value) => {
      if (worker.isConnected()) worker.send({ weft: "inspect", op: "all-reply", id: message.id, value } satisfies Message)
    })
  }
}

/**
 * In a `node:cluster` primary (`Workers.fork`): from now until the scope
 * closes, `/inspect`, `/inspect/events` and `/metrics`, on the primary's own
 * server or on any worker that mounts them, show every process of the app,
 * asked over node:cluster's IPC channel.
 *
 * @example
 * ```ts
 * yield* Inspector.primary({ label: "ticketing primary" })
 * yield* Workers.fork({ count: 2 })
 * ```
 */
export const primary = (options: { readonly label?: string | undefined } = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      if (options.label !== undefined) setLabel(options.label)
      if (gathering++ === 0) cluster.on("message", onWorkerMessage)
    }),
    () =>
      Effect.sync(() => {
        if (--gathering === 0) cluster.off("message", onWorkerMessage)
      })
  )

let answering = false

/**
 * In a `node:cluster` worker: answer the primary's asks for this process's
 * snapshot and metrics (`routes` does this by itself; call it in a worker
 * that serves no HTTP). Does nothing elsewhere.
 *
 * @example
 * ```ts
 * if (cluster.isWorker) Inspector.answer({ label: `chat worker ${cluster.worker!.id}` })
 * ```
 */
export const answer = (options: { readonly label?: string | undefined } = {}): void => {
  if (options.label !== undefined) setLabel(options.label)
  if (answering || !cluster.isWorker || process.send === undefined) return
  answering = true
  process.on("message", (message: unknown) => {
    if (!isMessage(message)) return
    if (message.op === "all-reply") settle(message.id, message.value)
    else if (message.op === "ask") {
      void own(message.want).then((value) => {
        if (process.connected) process.send!({ weft: "inspect", op: "reply", id: message.id, value } satisfies Message)
      })
    }
  })
}

/**
 * What this app's processes say: through the primary in a worker (its own
 * answer alone if the primary does not reply), every process in a primary
 * running `primary()`, else this process's.
 */
const collect = async (want: Want): Promise<ReadonlyArray<unknown>> => {
  if (cluster.isWorker && answering && process.send !== undefined) {
    const all = await request(
      (m) => process.send!(m),
      (id) => ({ weft: "inspect", op: "all", id, want }),
      2000
    )
    if (Array.isArray(all)) return all
    return own(want)
  }
  if (cluster.isPrimary && gathering > 0) return gather(want)
  return own(want)
}

/**
 * Every process of this app, as `/inspect` shows them (see the module doc).
 *
 * @example
 * ```ts
 * const { processes } = await Inspector.view()
 * ```
 */
export const view = async (): Promise<View> => ({ at: Date.now(), processes: (await collect("snapshot")) as ReadonlyArray<Snapshot> })

/**
 * Effect's metrics of every process of this app as Prometheus text, for a
 * `/metrics` of the app's own to append.
 *
 * @example
 * ```ts
 * app.get("/metrics", async (c) => c.text(mine() + await Inspector.metricsText(), 200, { "content-type": Inspector.contentType }))
 * ```
 */
export const metricsText = async (): Promise<string> => Inspect.prometheus((await collect("metrics")).map(fromWire))

/**
 * The content type of Prometheus' text format, which `/metrics` answers with.
 *
 * @example
 * ```ts
 * c.text(await Inspector.metricsText(), 200, { "content-type": Inspector.contentType })
 * ```
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** A snapshot without its moment: two that are equal show the same thing. */
const fingerprint = (v: View): string =>
  JSON.stringify(v.processes.map(({ at: _, ...rest }) => rest))

/**
 * Mounts `GET /inspect`, `GET /inspect/events` and (unless `metrics: false`)
 * `GET /metrics` on `app`, which should carry `Guard.make(...)` already
 * (see the module doc). In a `node:cluster` worker it also answers the
 * primary's asks (`answer`).
 *
 * @example
 * ```ts
 * Inspector.routes(app, { label: "traffic-light" })
 * ```
 */
export const routes = (app: Hono, options: Options = {}): Hono => {
  answer({ label: options.label })
  const interval = options.interval ?? 500
  app.get("/inspect", async (c) => c.json(await view()))
  app.get("/inspect/events", (c) =>
    streamSSE(c, async (stream) => {
      let last = ""
      let quiet = 0
      while (!stream.aborted) {
        const now = await view()
        const print = fingerprint(now)
        if (print !== last) {
          last = print
          quiet = 0
          await stream.writeSSE({ event: "snapshot", data: JSON.stringify(now) })
        } else if (++quiet * interval >= 15_000) {
          // A comment now and then: proxies close a stream that says nothing.
          quiet = 0
          await stream.write(": keep-alive\n\n")
        }
        await stream.sleep(interval)
      }
    }))
  if (options.metrics !== false) {
    app.get("/metrics", async (c) => c.text(await metricsText(), 200, { "content-type": contentType }))
  }
  return app
}
