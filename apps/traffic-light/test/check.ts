// The traffic-light invariant, checked on one run's timeline: every car
// arrives once and passes once; no car passes while the light is red (each
// pass falls in a green phase, up to `tolerance` ms after it ends, for a car
// woken just before the red); a car that arrived on red passes no earlier
// than the next green.
import { expect } from "vitest"
import { greens } from "../src/invariant.ts"
import type { Entry } from "../src/simulation.ts"

export { greens }

export const checkInvariant = (entries: ReadonlyArray<Entry>, cars: number, tolerance: number) => {
  const phases = greens(entries)
  expect(phases.length).toBeGreaterThan(0)
  for (let n = 1; n <= cars; n++) {
    const arrive = entries.filter((e) => e.kind === "arrive" && e.car === n)
    const pass = entries.filter((e) => e.kind === "pass" && e.car === n)
    expect(arrive, `car ${n} arrives once`).toHaveLength(1)
    expect(pass, `car ${n} passes once`).toHaveLength(1)
    const a = arrive[0]!
    const p = pass[0]!
    expect(p.t, `car ${n} passes after it arrives`).toBeGreaterThanOrEqual(a.t)
    const during = phases.find((g) => p.t >= g.from && p.t <= g.to + tolerance)
    expect(during, `car ${n} passes at ${p.t} during a green (greens: ${JSON.stringify(phases)})`).toBeDefined()
    if (a.kind === "arrive" && a.waits) {
      const next = phases.find((g) => g.from >= a.t - 1)
      expect(next, `a green after car ${n} arrived at ${a.t}`).toBeDefined()
      expect(p.t, `car ${n} (arrived on red at ${a.t}) waits for the green`).toBeGreaterThanOrEqual(next!.from)
    }
  }
}
