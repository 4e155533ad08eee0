/**
 * The pool worker module of the thread and process scopes: each car is one
 * task, `drive`, of a `ThreadPool` (the light is a `SharedEvent`, the timeline
 * a `SharedQueue`) or a `ProcessPool` (both hosted by the parent's `Manager`).
 * The pool hands the task both attached; it runs the same `car` as the fiber
 * scope, puts each entry on the timeline as it happens (so the parent shows
 * it live), and returns the car's entries once they are all on it.
 *
 * A car still waiting when the light stops is cancelled by the parent: its
 * task's Effect is interrupted, which ends its wait on the light.
 */
import { defineWorker } from "@weft/pools/worker"
import { Effect } from "effect"
import type { Event, Queue } from "@weft/primitives"
// The modules that attach this task's light and timeline, loaded with the worker (before the pool
// is ready and the run's clock starts) rather than by the first task, which would arrive late.
import "@weft/primitives/Manager"
import "@weft/primitives/SharedEvent"
import "@weft/primitives/SharedQueue"
import { car, type Entry } from "./simulation.ts"

/**
 * Which car, when it arrives, and the run's start (epoch ms, shared by the
 * light and every car).
 *
 * @example
 * ```ts
 * pool.submit("drive", event, timeline, { car: 1, arriveAt: 0, start })
 * ```
 */
export interface Trip {
  readonly car: number
  readonly arriveAt: number
  readonly start: number
}

/**
 * The worker module's tasks: `drive(light, timeline, trip)` runs one car and
 * returns its entries. The light and the timeline are passed as primitives
 * (a `SharedEvent` and `SharedQueue`, or the manager's), and the pool hands
 * them to the task attached.
 *
 * @example
 * ```ts
 * const pool = yield* ThreadPool.make<typeof import("./cars.ts").default>({ module: new URL("./cars.ts", import.meta.url), size: 3, ready: "all" })
 * ```
 */
export default defineWorker({
  drive: (light: Event.Event, timeline: Queue.Queue<Entry | null>, trip: Trip) =>
    Effect.gen(function*() {
      const entries: Array<Entry> = []
      // Entries go out in order behind the car, not in its way: at process scope a
      // put is a round trip to the manager, and the car must not read its clock
      // for the pass only once its arrival has been delivered.
      let sent: Promise<void> = Promise.resolve()
      yield* car(light, trip.car, trip.arriveAt, trip.start, (entry) =>
        Effect.sync(() => {
          entries.push(entry)
          // The queue is shut down once the run is over: a late car's put then fails, and is dropped.
          sent = sent.then(() => Effect.runPromise(Effect.ignore(timeline.put(entry))))
        }))
      yield* Effect.promise(() => sent)
      return entries
    })
})
