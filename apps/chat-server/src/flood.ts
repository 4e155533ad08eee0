/**
 * Flood control: Ergo's "fakelag", a token bucket per connection. A
 * connection may send `burst` lines at once; past that its lines are
 * processed at `rate` per second, delayed, never dropped. (Input waiting
 * beyond `maxQueued` bytes disconnects it: the hub's rule, on the same
 * options.)
 *
 * The bucket is two numbers kept on the connection itself (10,000 idle
 * connections count every byte), refilled lazily from the time that has
 * passed, so an idle connection costs no timer.
 *
 * @example
 * ```ts
 * const options = { burst: 5, rate: 2, maxQueued: 8192 }
 * const bucket = Flood.full(options, Date.now())
 * if (!Flood.take(bucket, Date.now(), options)) setTimeout(retry, Flood.delay(bucket, options))
 * ```
 *
 * @module
 */

/**
 * Flood control's settings: a burst, then a rate; a hard bound on waiting input.
 *
 * @example
 * ```ts
 * const options: Flood.FloodOptions = { burst: 5, rate: 2, maxQueued: 8192 }
 * ```
 */
export interface FloodOptions {
  /** Lines processed at once before pacing starts. */
  readonly burst: number
  /** Lines per second past the burst. */
  readonly rate: number
  /** Unprocessed input, in bytes, that disconnects. */
  readonly maxQueued: number
}

/**
 * A connection's bucket: the tokens it had at `stamp` (epoch ms).
 *
 * @example
 * ```ts
 * const bucket: Flood.Bucket = { tokens: 5, stamp: Date.now() }
 * ```
 */
export interface Bucket {
  tokens: number
  stamp: number
}

/**
 * A full bucket at `now`: a new connection may send its burst at once.
 *
 * @example
 * ```ts
 * Flood.full({ burst: 5, rate: 2, maxQueued: 8192 }, 0) // { tokens: 5, stamp: 0 }
 * ```
 */
export const full = (options: FloodOptions, now: number): Bucket => ({ tokens: options.burst, stamp: now })

/**
 * Refills `bucket` for the time since its stamp (up to `burst`) and takes one
 * token for a line: `true` if the line may be processed now.
 *
 * @example
 * ```ts
 * Flood.take(bucket, Date.now(), options) // false: wait Flood.delay(bucket, options) ms
 * ```
 */
export const take = (bucket: Bucket, now: number, options: FloodOptions): boolean => {
  bucket.tokens = Math.min(options.burst, bucket.tokens + ((now - bucket.stamp) * options.rate) / 1000)
  bucket.stamp = now
  if (bucket.tokens < 1) return false
  bucket.tokens -= 1
  return true
}

/**
 * How long (ms, at least 1) until `bucket` holds a whole token again, as of
 * its stamp: when to try the next waiting line.
 *
 * @example
 * ```ts
 * Flood.delay({ tokens: 0.5, stamp: 0 }, { burst: 5, rate: 2, maxQueued: 8192 }) // 250
 * ```
 */
export const delay = (bucket: Bucket, options: FloodOptions): number =>
  Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / options.rate))
