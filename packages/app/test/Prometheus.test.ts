// Prometheus: Effect's metrics as the text exposition format.
import { Effect, Metric } from "effect"
import { describe, expect, it } from "vitest"
import * as Prometheus from "../src/Prometheus.ts"

/** The metrics of a fresh registry after `use` updated them. */
const snapshotOf = (use: Effect.Effect<void>) =>
  Effect.runSync(Effect.provideService(Effect.andThen(use, Metric.snapshot), Metric.MetricRegistry, new Map()))

describe("Prometheus", () => {
  it("renders counters, gauges, frequencies, histograms and summaries with their attributes and extra labels", () => {
    const snapshots = snapshotOf(Effect.gen(function*() {
      yield* Metric.update(Metric.counter("weft.lock.acquisitions", { description: "Acquisitions.", attributes: { name: "tickets" } }), 7)
      yield* Metric.update(Metric.gauge("queue_depth"), 3)
      yield* Metric.update(Metric.frequency("errors"), "LockOrderError")
      const wait = Metric.histogram("wait_ms", { boundaries: [1, 10, 100] })
      yield* Metric.update(wait, 0.5)
      yield* Metric.update(wait, 5)
      yield* Metric.update(wait, 500)
      yield* Metric.update(Metric.summary("hold_ms", { maxAge: "1 minute", maxSize: 10, quantiles: [0.5] }), 2)
    }))
    const text = Prometheus.render(Prometheus.fromSnapshots(snapshots, { pid: "42" }))
    expect(text).toContain("# HELP weft_lock_acquisitions Acquisitions.\n# TYPE weft_lock_acquisitions counter\n")
    expect(text).toContain(`weft_lock_acquisitions{name="tickets",pid="42"} 7\n`)
    expect(text).toContain(`# TYPE queue_depth gauge\nqueue_depth{pid="42"} 3\n`)
    expect(text).toContain(`errors{pid="42",key="LockOrderError"} 1\n`)
    expect(text).toContain([
      "# TYPE wait_ms histogram",
      `wait_ms_bucket{pid="42",le="1"} 1`,
      `wait_ms_bucket{pid="42",le="10"} 2`,
      `wait_ms_bucket{pid="42",le="100"} 2`,
      `wait_ms_bucket{pid="42",le="+Inf"} 3`,
      `wait_ms_sum{pid="42"} 505.5`,
      `wait_ms_count{pid="42"} 3`
    ].join("\n"))
    expect(text).toContain(`hold_ms{pid="42",quantile="0.5"} 2\n`)
    expect(text).toContain(`hold_ms_count{pid="42"} 1\n`)
    expect(text.endsWith("\n")).toBe(true)
  })

  it("merges one family from several processes under one TYPE line, and escapes label values", () => {
    const one = (pid: string, value: number): Prometheus.Family => ({
      name: "held",
      type: "gauge",
      help: "Held now.",
      samples: [{ suffix: "", labels: { pid, name: "a \"quoted\"\\name\n" }, value }]
    })
    const text = Prometheus.render([one("1", 1), one("2", 0)])
    expect(text).toBe([
      "# HELP held Held now.",
      "# TYPE held gauge",
      `held{pid="1",name="a \\"quoted\\"\\\\name\\n"} 1`,
      `held{pid="2",name="a \\"quoted\\"\\\\name\\n"} 0`,
      ""
    ].join("\n"))
    expect(Prometheus.render([])).toBe("")
  })
})
