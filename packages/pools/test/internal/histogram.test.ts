import { assert, describe, it } from "@effect/vitest"
import { Histogram } from "../../src/internal/histogram.ts"

describe("Histogram", () => {
  it("an empty histogram summarises to zeros", () => {
    assert.deepStrictEqual(new Histogram().summary(), { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 })
  })

  it("percentiles are within a bucket (about 9%) of the true values, and ordered", () => {
    const h = new Histogram()
    for (let i = 1; i <= 1000; i++) h.record(i / 100) // 0.01 .. 10 ms, uniform
    const s = h.summary()
    assert.strictEqual(s.count, 1000)
    assert.closeTo(s.mean, 5.005, 1e-9)
    assert.strictEqual(s.min, 0.01)
    assert.strictEqual(s.max, 10)
    for (const [q, want] of [[s.p50, 5], [s.p90, 9], [s.p99, 9.9]] as const) {
      assert.isTrue(q >= want * 0.99 && q <= want * 1.1, `${q} vs ${want}`)
    }
  })

  it("very small and very large values land in the edge buckets without error", () => {
    const h = new Histogram()
    h.record(0)
    h.record(1e9)
    assert.strictEqual(h.summary().count, 2)
    assert.strictEqual(h.quantile(1), 1e9)
  })
})
