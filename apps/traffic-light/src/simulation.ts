/**
 * The traffic light of the Python tutorial (seed 002), written once against
 * the `Event.Event` interface: the event is the light, set = green, clear =
 * red. The light loop and a car never ask which scope they run at; the same
 * code runs between fibers (`Event`), worker threads (`SharedEvent`) and
 * processes (a manager's `event()`).
 *
 * All timing goes through Effect's `Clock`, so the fiber scope runs under
 * `TestClock`. Times are milliseconds since `start`, a wall-clock epoch
 * (`Clock.currentTimeMillis`) that the threads and processes of one run share.
 */
import { Clock, Effect } from "effect"
import type { Event } from "@weft/primitives"

/** How long each phase lasts and how long the light runs, in milliseconds. */
export interface Timing {
  readonly green: number
  readonly red: number
  readonly duration: number
}

/**
 * One line of the timeline; `t` is milliseconds since the start. At cluster
 * scope a car's entries also name the machine it runs on.
 */
export type Entry =
  | { readonly t: number; readonly kind: "green" | "red" }
  | { readonly t: number; readonly kind: "arrive"; readonly car: number; readonly waits: boolean; readonly machine?: string }
  | { readonly t: number; readonly kind: "pass"; readonly car: number; readonly waited: number; readonly machine?: string }

/** Where entries go: a local array, or a message to the thread or process that keeps the timeline. */
export type Record = (entry: Entry) => Effect.Effect<void>

const sleepUntil = (at: number): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => (at > now ? Effect.sleep(at - now) : Effect.void))

const since = (start: number): Effect.Effect<number> => Effect.map(Clock.currentTimeMillis, (now) => now - start)

/**
 * The light: red at the start (the caller clears the event before it takes
 * `start`), then green for `timing.green`, red for `timing.red`, and so on
 * until `timing.duration` has passed. Phase ends are
 * absolute (from `start`), so real-time runs do not drift. A green is
 * recorded before the event is set and a red after it is cleared, so no car
 * can be seen passing before the green that let it go.
 */
export const light = (light: Event.Event, timing: Timing, start: number, record: Record): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* light.clear // the runner cleared it before taking `start`: red from t = 0
    yield* record({ t: 0, kind: "red" })
    let green = false
    let phaseStart = 0
    while (true) {
      const phaseEnd = phaseStart + (green ? timing.green : timing.red)
      if (phaseEnd >= timing.duration) break
      yield* sleepUntil(start + phaseEnd)
      if (green) {
        yield* light.clear
        yield* record({ t: yield* since(start), kind: "red" })
      } else {
        yield* record({ t: yield* since(start), kind: "green" })
        yield* light.set
      }
      green = !green
      phaseStart = phaseEnd
    }
    yield* sleepUntil(start + timing.duration)
  })

/**
 * A car: arrives `arriveAt` ms after the start; on red it waits for green,
 * on green it passes at once (the tutorial's `if not e.is_set(): e.wait()`).
 */
export const car = (light: Event.Event, n: number, arriveAt: number, start: number, record: Record): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* sleepUntil(start + arriveAt)
    const arrived = yield* since(start)
    const waits = !(yield* light.isSet)
    yield* record({ t: arrived, kind: "arrive", car: n, waits })
    if (waits) yield* light.wait
    const passed = yield* since(start)
    yield* record({ t: passed, kind: "pass", car: n, waited: waits ? passed - arrived : 0 })
  })

/** When each car arrives: `cars` cars spread evenly over the run, the first at 0. */
export const arrivals = (cars: number, duration: number): Array<number> =>
  Array.from({ length: cars }, (_, i) => Math.floor((i * duration) / cars))

const seconds = (ms: number): string => `${(ms / 1000).toFixed(3)}s`

/** One entry as a line of the timeline. */
export const line = (e: Entry): string => {
  const name = e.kind === "arrive" || e.kind === "pass" ? `car ${e.car}${e.machine === undefined ? "" : ` (${e.machine})`}` : ""
  const text = e.kind === "arrive"
    ? `${name} arrives${e.waits ? ", waits on red" : " on green"}`
    : e.kind === "pass"
    ? `${name} passes at ${seconds(e.t)}${e.waited > 0 ? ` (waited ${seconds(e.waited)})` : ""}`
    : `light turns ${e.kind.toUpperCase()}`
  return `${seconds(e.t).padStart(9)}  ${text}`
}

/** The closing line: how many cars passed, and which are still waiting. */
export const summary = (entries: ReadonlyArray<Entry>, run: { readonly cars: number; readonly duration: number }): string => {
  const passed = new Set(entries.flatMap((e) => (e.kind === "pass" ? [e.car] : [])))
  const waiting = Array.from({ length: run.cars }, (_, i) => i + 1).filter((n) => !passed.has(n))
  return `${seconds(run.duration).padStart(9)}  end: ${passed.size} of ${run.cars} cars passed` +
    (waiting.length > 0 ? `; still waiting: car ${waiting.join(", car ")}` : "")
}
