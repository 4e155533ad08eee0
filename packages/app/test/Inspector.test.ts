// Inspector: the /inspect, /inspect/events and /metrics routes, on a guarded
// app in this process, and across the processes of a node:cluster app.
import { Lock } from "@weft/primitives"
import * as Registry from "@weft/primitives/Registry"
import { type Running, start as startScript } from "@weft/testkit"
import { Effect, Exit, Metric, Scope } from "effect"
import { Hono } from "hono"
import { threadId } from "node:worker_threads"
import { afterEach, describe, expect, it } from "vitest"
import * as EventStream from "../src/EventStream.ts"
import * as Guard from "../src/Guard.ts"
import * as Inspector from "../src/Inspector.ts"
import * as Serve from "../src/Serve.ts"

const makeApp = () => {
  const app = new Hono()
  app.use(Guard.make())
  return Inspector.routes(app, { label: "inspector test", interval: 50 })
}

/** A listed entry that lives until `drop()`: one holder, `waiters` waiters. */
const listed = (name: string, waiters: number) => {
  let target: object | undefined = {}
  const since = Date.now() - 1000
  Registry.register(target, { kind: "Lock", scope: "fiber", name }, () => ({
    holders: [{ who: "fiber #1", since, fiber: 1 }],
    waiters: Array.from({ length: waiters }, (_, i) => ({ who: `fiber #${i + 2}`, since: since + i, fiber: i + 2 })),
    contention: {
      acquisitions: 4,
      contended: 3,
      wait: { count: 3, p50: 2, p99: 9, max: 9, buckets: [[1, 0], [10, 3], [Infinity, 3]] },
      hold: { count: 4, p50: 1, p99: 1, max: 1 },
      longestWait: 1000
    }
  }))
  return { drop: () => target && (Registry.unregister(target), target = undefined) }
}

/** The snapshots `/inspect/events` sends until `done` says so. */
const events = (url: string, done: (views: ReadonlyArray<Inspector.View>) => boolean) =>
  EventStream.collect<Inspector.View>(url, { event: "snapshot", until: done })

const entry = (view: Inspector.View, name: string) => view.processes.flatMap((p) => p.entries).find((e) => e.name === name)

describe("Inspector", () => {
  it("GET /inspect: this process's snapshot, with the named entry, its holder and waiters", async () => {
    const { drop } = listed("accounts", 3)
    try {
      const response = await makeApp().request("http://127.0.0.1/inspect")
      expect(response.status).toBe(200)
      const view = await response.json() as Inspector.View
      expect(view.processes).toHaveLength(1)
      const [here] = view.processes
      expect(here).toMatchObject({ pid: process.pid, label: "inspector test", thread: threadId })
      expect(typeof here!.machine).toBe("string")
      expect(Array.isArray(here!.reports)).toBe(true)
      const accounts = entry(view, "accounts")!
      expect(accounts).toMatchObject({ kind: "Lock", scope: "fiber", named: true, holders: [{ who: "fiber #1" }] })
      expect(accounts.waiters.map((w) => w.who)).toEqual(["fiber #2", "fiber #3", "fiber #4"])
      expect(accounts.contention).toMatchObject({ acquisitions: 4, contended: 3, wait: { p50: 2, p99: 9, max: 9 } })
    } finally {
      drop()
    }
  })

  it("is guarded like every route: a foreign Host gets 421, and the answer carries the security headers", async () => {
    const app = makeApp()
    for (const path of ["/inspect", "/inspect/events", "/metrics"]) {
      const refused = await app.request(`http://127.0.0.1${path}`, { headers: { host: "evil.example:80" } })
      expect(refused.status).toBe(421)
    }
    const ok = await app.request("http://127.0.0.1/inspect")
    expect(ok.headers.get("content-security-policy")).toContain("default-src 'none'")
    expect(ok.headers.get("x-content-type-options")).toBe("nosniff")
  })

  it("GET /inspect/events: a snapshot at once, then another when something changes, on one open stream", async () => {
    const scope = Effect.runSync(Scope.make())
    const server = await Effect.runPromise(Scope.provide(Serve.serve(makeApp()), scope))
    const later = { drop: () => {} }
    try {
      let registered = false
      const seen = await events(`${server.url}/inspect/events`, (views) => {
        if (views.length >= 1 && !registered) {
          registered = true
          Object.assign(later, listed("arrives later", 1))
        }
        return views.some((v) => entry(v, "arrives later") !== undefined)
      })
      expect(seen.length).toBeGreaterThanOrEqual(2)
      expect(entry(seen[0]!, "arrives later")).toBeUndefined()
      expect(entry(seen.at(-1)!, "arrives later")?.waiters).toHaveLength(1)
    } finally {
      later.drop()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("GET /metrics: Effect's metrics as Prometheus text, labelled with the process", async () => {
    await Effect.runPromise(Metric.update(Metric.counter("inspector_test_total", { description: "Counted by the test." }), 5))
    const response = await makeApp().request("http://127.0.0.1/metrics")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
    const text = await response.text()
    expect(text).toContain("# TYPE inspector_test_total counter")
    expect(text).toContain(`inspector_test_total{pid="${process.pid}"} 5`)
  })

  it("GET /metrics carries a named Lock's contention metrics, matching the acquisitions counted", async () => {
    await Effect.runPromise(Effect.gen(function*() {
      const lock = yield* Lock.named("inspector accounts")
      // Three takes, two of them while another fiber holds it (contended).
      yield* Effect.forEach([1, 2, 3], () => lock.withLock(Effect.sleep("5 millis")), { concurrency: "unbounded", discard: true })
    }))
    const text = await (await makeApp().request("http://127.0.0.1/metrics")).text()
    const labels = `kind="Lock",name="inspector accounts",pid="${process.pid}"`
    expect(text).toContain(`weft_acquisitions_total{${labels}} 3\n`)
    expect(text).toContain(`weft_contended_acquisitions_total{${labels}} 2\n`)
    expect(text).toContain(`weft_wait_ms_count{${labels}} 3\n`)
    expect(text).toMatch(new RegExp(`^weft_hold_ms_bucket\\{${labels.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")},le="\\+Inf"\\} 3$`, "m"))
  })

  it("metrics: false leaves /metrics to the app", async () => {
    const app = new Hono()
    app.use(Guard.make())
    Inspector.routes(app, { metrics: false })
    expect((await app.request("http://127.0.0.1/metrics")).status).toBe(404)
  })
})

const started: Array<Running> = []
afterEach(() => {
  for (const r of started.splice(0)) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill("SIGKILL")
})

describe("Inspector across node:cluster processes", () => {
  it("a worker asked through the shared port shows the primary and every worker; /metrics carries each", async () => {
    const primary = startScript(new URL("./fixtures/inspector.ts", import.meta.url), ["2"], { stdin: "ignore" })
    started.push(primary)
    const line = await primary.line(/^started port \d+/, 30_000)
    const url = `http://127.0.0.1:${/port (\d+)/.exec(line)![1]}`
    let view: Inspector.View | undefined
    // The workers listen before the primary says "started"; each answers within the first ask.
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      view = await (await fetch(`${url}/inspect`)).json() as Inspector.View
      if (view.processes.length === 3) break
    }
    const labels = view!.processes.map((p) => p.label).sort()
    expect(labels).toEqual(["fixture primary", "fixture worker 1", "fixture worker 2"])
    for (const p of view!.processes) {
      expect(p.entries.find((e) => e.name === `fixture lock ${p.label}`)?.holders[0]?.pid).toBe(p.pid)
    }
    const sse = await events(`${url}/inspect/events`, (views) => views.length > 0)
    expect(sse[0]!.processes).toHaveLength(3)
    const text = await (await fetch(`${url}/metrics`)).text()
    expect(text.match(/^# TYPE fixture_acquisitions_total counter$/gm)).toHaveLength(1)
    for (const p of view!.processes) {
      expect(text).toContain(`fixture_acquisitions_total{pid="${p.pid}"} 3\n`)
      expect(text).toContain(`fixture_errors{pid="${p.pid}",key="LockOrderError"} 1\n`)
      expect(text).toContain(`fixture_wait_ms_bucket{pid="${p.pid}",le="10"} 1\n`)
    }
    process.kill(primary.proc.pid!, "SIGTERM")
    expect((await primary.closed).code).toBe(0)
  }, 60_000)
})
