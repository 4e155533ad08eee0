/**
 * Effect's metric snapshot as Prometheus text (exposition format 0.0.4):
 * what an app's `/metrics` serves so that the contention profile of named
 * primitives (and any other Effect metric) reaches a scraper.
 *
 * @module
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

const metricName = (id: string): string => {
  const name = id.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(name) ? name : `_${name}`
}

const labelName = (key: string): string => metricName(key).replace(/:/g, "_")

const escape = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const labels = (attributes: Readonly<Record<string, string>> | undefined, extra?: Readonly<Record<string, string>>): string => {
  const all = { ...attributes, ...extra }
  const keys = Object.keys(all)
  return keys.length === 0 ? "" : `{${keys.map((k) => `${labelName(k)}="${escape(String(all[k]))}"`).join(",")}}`
}

const num = (n: number | bigint): string =>
  typeof n === "bigint" ? n.toString() : Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n)

const types: Record<Metric.Metric.Type, string> = {
  Counter: "counter",
  Gauge: "gauge",
  Frequency: "counter",
  Histogram: "histogram",
  Summary: "summary"
}

/**
 * Renders `Metric.snapshot`'s result as Prometheus text: one `# HELP` and
 * `# TYPE` per metric name, its series with their attributes as labels; a
 * histogram as cumulative `_bucket{le}` lines with `+Inf`, `_sum` and
 * `_count`; a summary as `{quantile}` lines; a frequency as a counter per key.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Inspect } from "@weft/primitives"
 *
 * const body = Effect.map(Metric.snapshot, Inspect.prometheus) // serve as text/plain; version=0.0.4
 * ```
 */
export const prometheus = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>): string => {
  const groups = new Map<string, Array<Metric.Metric.Snapshot>>()
  for (const snapshot of snapshots) {
    const name = metricName(snapshot.id)
    const group = groups.get(name)
    if (group === undefined) groups.set(name, [snapshot])
    else group.push(snapshot)
  }
  const lines: Array<string> = []
  for (const [name, group] of groups) {
    const first = group[0]!
    if (first.description !== undefined) lines.push(`# HELP ${name} ${first.description.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`)
    lines.push(`# TYPE ${name} ${types[first.type]}`)
    for (const s of group) {
      const attrs = s.attributes
      switch (s.type) {
        case "Counter":
        case "Gauge": {
          const value = s.type === "Counter" ? s.state.count : s.state.value
          lines.push(`${name}${labels(attrs)} ${num(value)}`)
          break
        }
        case "Frequency": {
          for (const [key, n] of s.state.occurrences) lines.push(`${name}${labels(attrs, { key })} ${n}`)
          break
        }
        case "Histogram": {
          for (const [bound, n] of s.state.buckets) lines.push(`${name}_bucket${labels(attrs, { le: num(bound) })} ${n}`)
          lines.push(`${name}_bucket${labels(attrs, { le: "+Inf" })} ${s.state.count}`)
          lines.push(`${name}_sum${labels(attrs)} ${num(s.state.sum)}`)
          lines.push(`${name}_count${labels(attrs)} ${s.state.count}`)
          break
        }
        case "Summary": {
          for (const [q, value] of s.state.quantiles) {
            lines.push(`${name}${labels(attrs, { quantile: String(q) })} ${value === undefined ? "NaN" : num(value)}`)
          }
          lines.push(`${name}_sum${labels(attrs)} ${num(s.state.sum)}`)
          lines.push(`${name}_count${labels(attrs)} ${s.state.count}`)
          break
        }
      }
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n"
}

/**
 * Every Effect metric of the current context (the default registry unless
 * one is provided), as Prometheus text.
 *
 * @example
 * ```ts
 * // GET /metrics: serve this body as text/plain; version=0.0.4
 * const body: string = await Effect.runPromise(Inspect.metricsText)
 * ```
 */
export const metricsText: Effect.Effect<string> = Effect.map(Metric.snapshot, prometheus)
