import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { type Config, runProcess, runThread } from "../src/scopes.ts"
import { checkInvariant, greens } from "./check.ts"

// Real time, short phases. Red 0-100, green 100-200, red 200-300, green 300-400,
// red 400-500, green 500-600, red 600-700 ms; cars at 0, 140, 280, 420, 560 ms:
// on red, green, red, red, green. `tolerance`: how late a car woken by a green
// may still read its clock after the red (scheduling delay on a busy machine).
const config = (scope: Config["scope"]): Config => ({ scope, cars: 5, green: 100, red: 100, duration: 700 })
const tolerance = 50

describe.each([
  ["thread", runThread, "worker threads attach a SharedEvent"],
  ["process", runProcess, "child processes attach a manager's event"]
] as const)("%s scope", (scope, run, what) => {
  it(`${what}: every car passes, none while red`, { timeout: 20_000 }, async () => {
    const entries = await Effect.runPromise(run(config(scope)))
    checkInvariant(entries, 5, 700, tolerance)
    expect(greens(entries, 700).map((g) => g.from)).toHaveLength(3) // the light cycled: 3 greens
  })

  // Red 0-100, green 100-150, red 150-240 ms; cars at 0, 80, 160: car 3 comes in the last red.
  it(`a car still waiting when the light stops is stopped, and the run ends`, { timeout: 20_000 }, async () => {
    const entries = await Effect.runPromise(run({ scope, cars: 3, green: 50, red: 100, duration: 240 }))
    expect(entries.filter((e) => e.kind === "pass").map((e) => e.kind === "pass" && e.car).sort()).toEqual([1, 2])
    expect(entries).toContainEqual(expect.objectContaining({ kind: "arrive", car: 3, waits: true }))
  })
})
