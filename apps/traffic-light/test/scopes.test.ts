import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { type Config, runProcess, runThread } from "../src/scopes.ts"
import { checkInvariant, greens } from "./check.ts"

// Real time, short phases, chosen so that a car held up by a busy machine still
// has its green. `tolerance`: how late a car woken by a green may still read its
// clock after the red (scheduling delay on a busy machine).
const tolerance = 50

describe.each([
  ["thread", runThread, "worker threads attach a SharedEvent"],
  ["process", runProcess, "child processes attach a manager's event"]
] as const)("%s scope", (scope, run, what) => {
  // Red 0-100, green 100-200, red 200-300, green 300-400, red 400-500, green 500-600,
  // red 600-700, green from 700 (the run ends at 800, on green); cars at 0, 160,
  // 320, 480, 640 ms: on red, green, green, red, red.
  it(`${what}: every car passes, none while red`, { timeout: 20_000 }, async () => {
    const config: Config = { scope, cars: 5, green: 100, red: 100, duration: 800 }
    const entries = await Effect.runPromise(run(config))
    checkInvariant(entries, 5, tolerance)
    expect(greens(entries)).toHaveLength(4) // the light cycled
  })

  // Red 0-150, green 150-300, red 300-450 ms; cars at 0, 112, 225, 337: car 4 comes
  // in the last red (car 3 too, should the machine hold it up for 75 ms).
  it(`a car still waiting when the light stops is stopped, and the run ends`, { timeout: 20_000 }, async () => {
    const entries = await Effect.runPromise(run({ scope, cars: 4, green: 150, red: 150, duration: 450 }))
    const passed = entries.flatMap((e) => (e.kind === "pass" ? [e.car] : []))
    expect(passed).toEqual(expect.arrayContaining([1, 2]))
    expect(passed).not.toContain(4)
    expect(entries).toContainEqual(expect.objectContaining({ kind: "arrive", car: 4, waits: true }))
  })
})
