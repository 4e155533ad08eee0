/**
 * The pool worker module of the thread and process scopes: each car is one
 * task, `drive`, of a `ThreadPool` (the light is a `SharedEvent`, the timeline
 * a `SharedQueue`) or a `ProcessPool` (both hosted by the parent's `Manager`).
 * The task attaches both by their handles, runs the same `car` as the fiber
 * scope, puts each entry on the timeline as it happens (so the parent shows
 * it live), and returns the car's entries once they are all on it.
 *
 * A car still waiting when the light stops is cancelled by the parent: its
 * task's Effect is interrupted, which ends its wait on the light.
 */
import { defineWorker } from "@weft/pools/worker"
import { Effect } from "effect"
import { type Event, Manager, type Queue, SharedEvent, SharedQueue } from "@weft/primitives"
import { car, type Entry } from "./simulation.ts"

/**
 * One car's task: where the light and the timeline are, which car, when it arrives.
 *
 * @example
 * ```ts
 * pool.submit("drive", { scope: "thread", light: event.handle, timeline: queue.handle, car: 1, arriveAt: 0, start })
 * ```
 */
export type Job =
  | {
    readonly scope: "thread"
    readonly light: SharedEvent.Handle
    readonly timeline: SharedQueue.Handle
    readonly car: number
    readonly arriveAt: number
    readonly start: number
  }
  | {
    readonly scope: "process"
    readonly light: Manager.Handle<"event">
    readonly timeline: Manager.Handle<"queue">
    readonly car: number
    readonly arriveAt: number
    readonly start: number
  }

const attach = (job: Job): Effect.Effect<{ light: Event.Event; timeline: Queue.Queue<Entry | null> }, unknown> =>
  job.scope === "thread"
    ? Effect.all({ light: SharedEvent.attach(job.light), timeline: SharedQueue.attach<Entry | null>(job.timeline) })
    : Effect.all({
      light: Manager.attach(job.light),
      timeline: Effect.map(Manager.attach(job.timeline), (queue) => queue as Queue.Queue<Entry | null>)
    })

/**
 * The worker module's tasks: `drive(job)` runs one car and returns its entries.
 *
 * @example
 * ```ts
 * const pool = yield* ThreadPool.make<typeof import("./cars.ts").default>({ module: new URL("./cars.ts", import.meta.url), size: 3, ready: "all" })
 * ```
 */
export default defineWorker({
  drive: (job: Job) =>
    Effect.gen(function*() {
      const { light, timeline } = yield* attach(job)
      const entries: Array<Entry> = []
      // Entries go out in order behind the car, not in its way: at process scope a
      // put is a round trip to the manager, and the car must not read its clock
      // for the pass only once its arrival has been delivered.
      let sent: Promise<void> = Promise.resolve()
      yield* car(light, job.car, job.arriveAt, job.start, (entry) =>
        Effect.sync(() => {
          entries.push(entry)
          // The queue is shut down once the run is over: a late car's put then fails, and is dropped.
          sent = sent.then(() => Effect.runPromise(Effect.ignore(timeline.put(entry))))
        }))
      yield* Effect.promise(() => sent)
      return entries
    })
})
