/**
 * A latency histogram in microseconds with 2% wide buckets (log scale), so a
 * client process can count millions of deliveries in a fixed 1,200-slot array
 * and the bench can merge the processes' histograms before taking percentiles.
 */
const GROWTH = Math.log(1.02)
export const BUCKETS = 1200

/** The bucket of a latency of `us` microseconds (values under 1 us go to bucket 0). */
export const bucketOf = (us: number): number => us < 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) / GROWTH))

/** The geometric middle of a bucket, in microseconds. */
const valueOf = (bucket: number): number => Math.exp((bucket + 0.5) * GROWTH)

export const make = (): Float64Array => new Float64Array(BUCKETS)

export const merge = (into: Float64Array, from: ArrayLike<number>): void => {
  for (let i = 0; i < BUCKETS; i++) into[i]! += from[i] ?? 0
}

/** The p-th percentile (0-100) in milliseconds, or NaN when the histogram is empty. */
export const percentileMs = (histogram: Float64Array, p: number): number => {
  let total = 0
  for (let i = 0; i < BUCKETS; i++) total += histogram[i]!
  if (total === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * total)
  let seen = 0
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram[i]!
    if (seen >= rank) return valueOf(i) / 1000
  }
  return valueOf(BUCKETS - 1) / 1000
}
