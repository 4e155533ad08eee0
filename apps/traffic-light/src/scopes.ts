/**
 * One simulation (`simulation.ts`), four scopes. What differs is only where
 * the light's `Event` lives and where the cars run:
 *
 * - fiber: `Event.make`; every car is a fiber of this thread.
 * - thread: `SharedEvent.make`; every car is a task of a `ThreadPool` (one
 *   worker per car, all ready before the light starts: `ready: "all"`).
 * - process: `Manager.serve()` hosts `manager.event()`; every car is a task of
 *   a `ProcessPool` (one child process per car, all ready).
 * - cluster: `Cluster.connect({ url })` + `cluster.event(name)`, on
 *   PostgreSQL; this machine's cars are fibers here, and cars of other
 *   machines join the run (`cluster.ts`).
 *
 * The event and the timeline are passed to the tasks as they are: the pool
 * sends their handles and the task receives them attached.
 *
 * The light always runs here, and the timeline is kept here: remote cars put
 * their entries (timed by their own clock, against the shared start) on a
 * queue of the same scope (`SharedQueue`, `manager.queue()`) as they happen.
 */
import { Clock, Data, Effect, Fiber } from "effect"
import { type Pool, ProcessPool, ThreadPool } from "@weft/pools"
import { Event, Manager, type Queue, SharedEvent, SharedQueue } from "@weft/primitives"
import { type Join, runCluster, type Target } from "./cluster.ts"
import { arrivals, car, type Entry, light, type Timing } from "./simulation.ts"

export type ScopeName = "fiber" | "thread" | "process" | "cluster"
export const scopes: ReadonlyArray<ScopeName> = ["fiber", "thread", "process", "cluster"]

export interface Config extends Timing {
  readonly scope: ScopeName
  readonly cars: number
}

/** The cars' pool (its workers or processes) failed to start. */
export class CarError extends Data.TaggedError("CarError")<{ readonly message: string }> {}

/**
 * After the light stops, how long cars still on their way get to pass (a car
 * held up by a busy machine may arrive after a light that stopped on green).
 * A run whose cars have all passed does not wait for it.
 */
const grace = 1_000

/** Fibers: `Event.make`; cars are fibers. Runs under `TestClock` too. */
export const runFiber = (
  config: Config,
  onEntry: (entry: Entry) => void = () => {},
  onReady: () => void = () => {}
): Effect.Effect<Array<Entry>> =>
  Effect.scoped(Effect.gen(function*() {
    const event = yield* Event.named("traffic light")
    onReady()
    const entries: Array<Entry> = []
    const record = (entry: Entry) =>
      Effect.sync(() => {
        entries.push(entry)
        onEntry(entry)
      })
    yield* event.clear
    const start = yield* Clock.currentTimeMillis
    yield* Effect.forkScoped(Effect.forEach(
      arrivals(config.cars, config.duration),
      (at, i) => car(event, i + 1, at, start, record),
      { concurrency: "unbounded", discard: true }
    ))
    yield* light(event, config, start, record)
    return [...entries]
  }))

/** The pool a thread or process run's cars are tasks of. */
type CarPool = Pool.Pool<typeof import("./cars.ts").default>

/**
 * The light runs here; each car is a `drive` task of `pool`. Cars put their
 * entries on `timeline` as they happen; a fiber here reads them into the run's
 * timeline. Once the light stops, cars still waiting get `grace` ms, then
 * their tasks are cancelled, and the timeline is drained. The pool is ready
 * (every worker started) when this runs: `onReady` is called, then the run's
 * clock starts, so a 30 s run lasts 30 s from then, however long the workers
 * took to start.
 */
const simulatePool = (
  config: Config,
  event: Event.Event,
  timeline: Queue.Queue<Entry | null>,
  drive: (car: number, arriveAt: number, start: number) => Effect.Effect<unknown, unknown>,
  onEntry: (entry: Entry) => void,
  onReady: () => void
): Effect.Effect<Array<Entry>> =>
  Effect.scoped(Effect.gen(function*() {
    const entries: Array<Entry> = []
    const push = (entry: Entry) => {
      entries.push(entry)
      onEntry(entry)
    }
    // Reads until the queue is shut down and drained (`get` then fails).
    const reader = yield* Effect.forkScoped(
      Effect.forever(Effect.flatMap(timeline.get, (entry) => Effect.sync(() => entry && push(entry)))).pipe(Effect.ignore)
    )
    yield* event.clear
    onReady()
    const start = yield* Clock.currentTimeMillis
    const cars = yield* Effect.forkScoped(Effect.forEach(
      arrivals(config.cars, config.duration),
      (arriveAt, i) => Effect.ignore(drive(i + 1, arriveAt, start)),
      { concurrency: "unbounded", discard: true }
    ))
    yield* light(event, config, start, (entry) => Effect.sync(() => push(entry)))
    yield* Effect.timeoutOption(Fiber.join(cars), grace)
    yield* Fiber.interrupt(cars) // cancels the tasks of cars still waiting
    yield* timeline.shutdown() // not immediate: what is queued is still read
    yield* Fiber.join(reader)
    return [...entries]
  }))

const carsModule = new URL("./cars.ts", import.meta.url)

const poolError = (what: string) => (error: { readonly message: string }) =>
  new CarError({ message: `cannot start the cars' ${what}: ${error.message}` })

/** Worker threads: the light is a `SharedEvent`; each car is a task of a `ThreadPool`. */
export const runThread = (
  config: Config,
  onEntry: (entry: Entry) => void = () => {},
  onReady: () => void = () => {}
): Effect.Effect<Array<Entry>, CarError> =>
  Effect.scoped(Effect.gen(function*() {
    // Named, so npm start's inspector page lists them.
    const event = yield* Effect.orDie(SharedEvent.named("traffic light"))
    const timeline = yield* Effect.orDie(SharedQueue.make<Entry | null>(0, { bytes: 1 << 20, name: "timeline" }))
    const pool: CarPool = yield* Effect.mapError(
      ThreadPool.make<typeof import("./cars.ts").default>({ name: "cars", module: carsModule, size: config.cars, ready: "all" }),
      poolError("thread pool")
    )
    return yield* simulatePool(config, event, timeline, (car, arriveAt, start) =>
      pool.submit("drive", event, timeline, { car, arriveAt, start }), onEntry, onReady)
  }))

/** Processes: a `Manager` hosts the light (an event) and the timeline (a queue); each car is a task of a `ProcessPool`. */
export const runProcess = (
  config: Config,
  onEntry: (entry: Entry) => void = () => {},
  onReady: () => void = () => {}
): Effect.Effect<Array<Entry>, CarError> =>
  Effect.scoped(Effect.gen(function*() {
    const manager = yield* Effect.mapError(
      Manager.serve(),
      (error) => new CarError({ message: `cannot start the manager: ${error.message}` })
    )
    const event = yield* Effect.orDie(manager.event({ name: "traffic light" }))
    const timeline = yield* Effect.orDie(manager.queue<Entry | null>(0, { name: "timeline" }))
    const pool: CarPool = yield* Effect.mapError(
      ProcessPool.make<typeof import("./cars.ts").default>({ name: "cars", module: carsModule, size: config.cars, ready: "all" }),
      poolError("process pool")
    )
    return yield* simulatePool(config, event, timeline, (car, arriveAt, start) =>
      pool.submit("drive", event, timeline, { car, arriveAt, start }), onEntry, onReady)
  }))

/**
 * Where the cluster scope finds its cluster (`--cluster URL`, `--machine
 * NAME`), and who hears of cars joining from other machines.
 *
 * @example
 * ```ts
 * const on: OnCluster = { url, machine: "lights-1", onJoin: (join) => console.log(join.machine) }
 * ```
 */
export interface OnCluster extends Target {
  readonly onJoin?: ((join: Join) => void) | undefined
}

/**
 * Runs the simulation at `config.scope`; `onEntry` sees every entry as it is recorded, `onReady`
 * is called once the cars' workers have all started, right before the run's clock starts. The
 * cluster scope needs `cluster`.
 */
export const run = (
  config: Config,
  onEntry?: (entry: Entry) => void,
  onReady?: () => void,
  cluster?: OnCluster
): Effect.Effect<Array<Entry>, CarError> =>
  config.scope === "fiber"
    ? runFiber(config, onEntry, onReady)
    : config.scope === "thread"
    ? runThread(config, onEntry, onReady)
    : config.scope === "process"
    ? runProcess(config, onEntry, onReady)
    : cluster === undefined
    ? Effect.fail(new CarError({ message: "the cluster scope needs a cluster: --cluster postgres://..." }))
    : Effect.mapError(runCluster(config, cluster, onEntry, onReady, cluster.onJoin), (e) => new CarError({ message: e.message }))

/** Which Weft primitive is the light at each scope (for the CLI's header and the README). */
export const primitive: { readonly [S in ScopeName]: string } = {
  fiber: "Event.make",
  thread: "SharedEvent.make",
  process: "Manager.serve() + manager.event()",
  cluster: "Cluster.connect() + cluster.event()"
}
