/**
 * A small log-scale latency histogram: 8 buckets per doubling from 1 µs, so
 * any percentile is within about 9% of the true value, in constant memory.
 *
 * @internal
 */
import type { LatencySummary } from "../Pool.ts"

const PER_DOUBLING = 8
const BUCKETS = PER_DOUBLING * 42

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS)
  count = 0
  private sum = 0
  private sumOfSquares = 0
  private min = Number.POSITIVE_INFINITY
  private max = 0

  record(millis: number): void {
    const micros = millis * 1000
    let index = micros <= 1 ? 0 : Math.floor(Math.log2(micros) * PER_DOUBLING)
    if (index >= BUCKETS) index = BUCKETS - 1
    this.counts[index]!++
    this.count++
    this.sum += millis
    this.sumOfSquares += millis * millis
    if (millis < this.min) this.min = millis
    if (millis > this.max) this.max = millis
  }

  /** The upper bound (ms) of the bucket holding quantile `q` (0..1), clamped to the observed range. */
  quantile(q: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!
      if (seen >= rank) {
        const upper = Math.pow(2, (i + 1) / PER_DOUBLING) / 1000
        return Math.min(Math.max(upper, this.min), this.max)
      }
    }
    return this.max
  }

  /** The standard deviation (ms) of what was recorded. */
  stddev(): number {
    if (this.count === 0) return 0
    const mean = this.sum / this.count
    return Math.sqrt(Math.max(0, this.sumOfSquares / this.count - mean * mean))
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      min: this.count === 0 ? 0 : this.min,
      mean: this.count === 0 ? 0 : this.sum / this.count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.max
    }
  }
}
