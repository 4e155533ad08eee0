/**
 * The traffic light's promise, checked on a run's timeline: no car passed on
 * red. A car passes inside a green phase (from the green entry to the next red
 * entry, plus `tolerance` ms for a car woken just before the red that reads
 * its clock a little late), and a car that arrived on red passes no earlier
 * than the first green after its arrival.
 *
 * The page shows the result as its badge; the tests check it on every run.
 */
import type { Entry } from "./simulation.ts"

/**
 * How late a car woken by a green may read its clock after the red (scheduling delay on a busy machine).
 *
 * @example
 * ```ts
 * tolerance // 50 (ms)
 * ```
 */
export const tolerance = 50

/**
 * A green phase: from its green entry to the next red entry (`Infinity` if the run ended on green).
 *
 * @example
 * ```ts
 * const phase: Phase = { from: 300, to: 600 }
 * ```
 */
export interface Phase {
  readonly from: number
  readonly to: number
}

/**
 * The run's green phases, in order.
 *
 * @example
 * ```ts
 * greens([{ t: 0, kind: "red" }, { t: 300, kind: "green" }, { t: 600, kind: "red" }]) // [{ from: 300, to: 600 }]
 * ```
 */
export const greens = (entries: ReadonlyArray<Entry>): Array<Phase> => {
  const lights = entries.filter((e) => e.kind === "green" || e.kind === "red").sort((a, b) => a.t - b.t)
  return lights.flatMap((e, i) =>
    e.kind === "green" ? [{ from: e.t, to: lights.slice(i + 1).find((n) => n.kind === "red")?.t ?? Infinity }] : []
  )
}

/**
 * The verdict: `ok`, or the cars that broke the rule, each in a sentence.
 *
 * @example
 * ```ts
 * const verdict: Verdict = { ok: false, violations: ["car 2 passed at 120 ms, while the light was red"] }
 * ```
 */
export interface Verdict {
  readonly ok: boolean
  readonly violations: ReadonlyArray<string>
}

/**
 * Checks every pass on the timeline so far.
 *
 * @example
 * ```ts
 * check([{ t: 0, kind: "red" }, { t: 10, kind: "arrive", car: 1, waits: true }, { t: 20, kind: "pass", car: 1, waited: 10 }])
 * // { ok: false, violations: ["car 1 passed at 20 ms, while the light was red"] }
 * ```
 */
export const check = (entries: ReadonlyArray<Entry>): Verdict => {
  const phases = greens(entries)
  const violations: Array<string> = []
  for (const pass of entries) {
    if (pass.kind !== "pass") continue
    const arrive = entries.find((e) => e.kind === "arrive" && e.car === pass.car)
    const phase = phases.find((g) => pass.t >= g.from && pass.t <= g.to + tolerance)
    if (phase === undefined) {
      violations.push(`car ${pass.car} passed at ${pass.t} ms, while the light was red`)
    } else if (arrive?.kind === "arrive" && arrive.waits && phase.from < arrive.t - 1) {
      violations.push(`car ${pass.car} arrived on red at ${arrive.t} ms and passed at ${pass.t} ms, before the next green`)
    }
  }
  return { ok: violations.length === 0, violations }
}
