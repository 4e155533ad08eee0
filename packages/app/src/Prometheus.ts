/**
 * Effect's metrics (`effect/Metric`, the global registry every `Metric.update`
 * writes to) as Prometheus text (exposition format 0.0.4), so a `/metrics`
 * route carries them: the contention counters and histograms of Weft's
 * named primitives among them, and the app's own.
 *
 * A metric becomes `Family` values first (plain JSON, so one process can send
 * its families to another over IPC), then text: families of the same name
 * from several processes merge under one `# TYPE`, told apart by their labels
 * (`pid="4312"`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Prometheus from "@weft/app/Prometheus"
 *
 * const text = Prometheus.render(await Effect.runPromise(Prometheus.families({ pid: String(process.pid) })))
 * ```
 *
 * @module
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

/** One sample line: `name{labels} value`. */
export interface Sample {
  /** Added to the family's name: `_bucket`, `_sum`, `_count`, or "" . */
  readonly suffix: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/**
 * A metric family in plain JSON.
 *
 * @example
 * ```ts
 * const family: Prometheus.Family = { name: "http_requests_total", type: "counter", help: "Requests.", samples: [{ suffix: "", labels: {}, value: 3 }] }
 * ```
 */
export interface Family {
  readonly name: string
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly help?: string | undefined
  readonly samples: ReadonlyArray<Sample>
}

/** Prometheus names are `[a-zA-Z_:][a-zA-Z0-9_:]*`; Effect's ids may hold dots or dashes. */
export const metricName = (id: string): string => {
  const name = id.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(name) ? name : `_${name}`
}

const labelName = (key: string): string => {
  const name = key.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(name) ? name : `_${name}`
}

const num = (value: number | bigint): number => typeof value === "bigint" ? Number(value) : value

/**
 * Effect's metric snapshots as families, each sample labelled with the
 * metric's attributes and `extra` (e.g. the process).
 *
 * @example
 * ```ts
 * const families = Prometheus.fromSnapshots(yield* Metric.snapshot, { pid: "4312" })
 * ```
 */
export const fromSnapshots = (
  snapshots: ReadonlyArray<Metric.Metric.Snapshot>,
  extra: Readonly<Record<string, string>> = {}
): Array<Family> =>
  snapshots.map((metric): Family => {
    const labels: Record<string, string> = {}
    for (const [key, value] of Object.entries(metric.attributes ?? {})) labels[labelName(key)] = String(value)
    Object.assign(labels, extra)
    const name = metricName(metric.id)
    const help = metric.description
    switch (metric.type) {
      case "Counter":
        return { name, type: "counter", help, samples: [{ suffix: "", labels, value: num(metric.state.count) }] }
      case "Gauge":
        return { name, type: "gauge", help, samples: [{ suffix: "", labels, value: num(metric.state.value) }] }
      case "Frequency":
        // One counter per value seen, the value as a label.
        return {
          name,
          type: "counter",
          help,
          samples: [...metric.state.occurrences].map(([key, count]) => ({ suffix: "", labels: { ...labels, key }, value: count }))
        }
      case "Histogram": {
        // Effect's buckets are cumulative already, as Prometheus wants them.
        const buckets = metric.state.buckets.filter(([bound]) => Number.isFinite(bound))
        return {
          name,
          type: "histogram",
          help,
          samples: [
            ...buckets.map(([bound, count]) => ({ suffix: "_bucket", labels: { ...labels, le: String(bound) }, value: count })),
            { suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: metric.state.count },
            { suffix: "_sum", labels, value: metric.state.sum },
            { suffix: "_count", labels, value: metric.state.count }
          ]
        }
      }
      case "Summary":
        return {
          name,
          type: "summary",
          help,
          samples: [
            ...metric.state.quantiles.flatMap(([q, value]) =>
              value === undefined ? [] : [{ suffix: "", labels: { ...labels, quantile: String(q) }, value }]
            ),
            { suffix: "_sum", labels, value: metric.state.sum },
            { suffix: "_count", labels, value: metric.state.count }
          ]
        }
    }
  })

/**
 * This process's Effect metrics (the global registry) as families.
 *
 * @example
 * ```ts
 * const families = yield* Prometheus.families({ pid: String(process.pid) })
 * ```
 */
export const families = (extra: Readonly<Record<string, string>> = {}): Effect.Effect<Array<Family>> =>
  Effect.map(Metric.snapshot, (snapshots) => fromSnapshots(snapshots, extra))

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const value = (n: number): string => Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n)

/**
 * The text exposition of `families`; families with one name (from several
 * processes) merge under one `# HELP` and `# TYPE`. Ends with a newline.
 *
 * @example
 * ```ts
 * Prometheus.render([{ name: "up", type: "gauge", samples: [{ suffix: "", labels: {}, value: 1 }] }])
 * // "# TYPE up gauge\nup 1\n"
 * ```
 */
export const render = (all: ReadonlyArray<Family>): string => {
  const merged = new Map<string, { type: Family["type"]; help: string | undefined; samples: Array<Sample> }>()
  for (const family of all) {
    const seen = merged.get(family.name)
    if (seen === undefined) merged.set(family.name, { type: family.type, help: family.help, samples: [...family.samples] })
    else if (seen.type === family.type) seen.samples.push(...family.samples)
    // A name used for two types cannot be exposed twice: the first one stays.
  }
  const lines: Array<string> = []
  for (const [name, family] of merged) {
    if (family.help !== undefined && family.help !== "") lines.push(`# HELP ${name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${name} ${family.type}`)
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")
      lines.push(`${name}${sample.suffix}${labels === "" ? "" : `{${labels}}`} ${value(sample.value)}`)
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n"
}

/**
 * The content type of the text exposition format.
 *
 * @example
 * ```ts
 * c.text(Prometheus.render(families), 200, { "content-type": Prometheus.contentType })
 * ```
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"
