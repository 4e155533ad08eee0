import { describe, expect, it } from "vitest"
import { check, greens, tolerance } from "../src/invariant.ts"
import type { Entry } from "../src/simulation.ts"

// Red 0-300, green 300-600, red 600-900, green from 900.
const lights: Array<Entry> = [
  { t: 0, kind: "red" },
  { t: 300, kind: "green" },
  { t: 600, kind: "red" },
  { t: 900, kind: "green" }
]

describe("the badge's check: no car passed on red", () => {
  it("green phases run from a green to the next red; the last one stays open", () => {
    expect(greens(lights)).toEqual([{ from: 300, to: 600 }, { from: 900, to: Infinity }])
  })

  it("cars that wait for the green, or pass on it, are fine", () => {
    expect(check([
      ...lights,
      { t: 10, kind: "arrive", car: 1, waits: true },
      { t: 301, kind: "pass", car: 1, waited: 291 },
      { t: 400, kind: "arrive", car: 2, waits: false },
      { t: 400, kind: "pass", car: 2, waited: 0 },
      // woken by the green just before the red, its clock read a little late
      { t: 590, kind: "arrive", car: 3, waits: false },
      { t: 600 + tolerance, kind: "pass", car: 3, waited: 0 }
    ])).toEqual({ ok: true, violations: [] })
  })

  it("a pass while red is named", () => {
    expect(check([...lights, { t: 100, kind: "arrive", car: 4, waits: false }, { t: 100, kind: "pass", car: 4, waited: 0 }]))
      .toEqual({ ok: false, violations: ["car 4 passed at 100 ms, while the light was red"] })
    expect(check([...lights, { t: 700, kind: "arrive", car: 5, waits: false }, { t: 700, kind: "pass", car: 5, waited: 0 }]).ok)
      .toBe(false)
  })

  it("a car that arrived on red and passed before the next green is named, even inside the tolerance", () => {
    expect(check([...lights, { t: 610, kind: "arrive", car: 6, waits: true }, { t: 620, kind: "pass", car: 6, waited: 10 }]))
      .toEqual({ ok: false, violations: ["car 6 arrived on red at 610 ms and passed at 620 ms, before the next green"] })
  })
})
