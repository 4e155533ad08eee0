/**
 * One simulation (`simulation.ts`), three scopes. What differs is only where
 * the light's `Event` lives and where the cars run:
 *
 * - fiber: `Event.make`; every car is a fiber of this thread.
 * - thread: `SharedEvent.make`; every car is a worker thread that attaches the
 *   event's `handle`.
 * - process: `Manager.serve()` hosts `manager.event()`; every car is a child
 *   process that attaches its handle through `Manager.attach`.
 *
 * The light always runs here, and the timeline is kept here: remote cars send
 * their entries (timed by their own clock, against the shared start) back.
 */
import { fork } from "node:child_process"
import { Worker } from "node:worker_threads"
import { Clock, Data, Deferred, Effect, Fiber, type Scope } from "effect"
import { Event, Manager, SharedEvent } from "@weft/primitives"
import { arrivals, car, type Entry, light, type Timing } from "./simulation.ts"

export type ScopeName = "fiber" | "thread" | "process"
export const scopes: ReadonlyArray<ScopeName> = ["fiber", "thread", "process"]

export interface Config extends Timing {
  readonly scope: ScopeName
  readonly cars: number
}

/** A car's worker or process failed before the simulation could start. */
export class CarError extends Data.TaggedError("CarError")<{ readonly message: string }> {}

/** What a car (worker thread or child process) is told to do. */
export interface Job<H> {
  readonly handle: H
  readonly car: number
  readonly arriveAt: number
}

/** Messages between this side and a car: car -> here `ready`, `entry`; here -> car `go`. */
export type Message =
  | { readonly type: "ready" }
  | { readonly type: "entry"; readonly entry: Entry }
  | { readonly type: "go"; readonly start: number }

const carModule = new URL("./car.ts", import.meta.url)
/** How long the workers or processes may take to start (load Effect, attach the light). */
const startupTimeout = 20_000
/** After the light stops, how long to wait for pass reports still on their way. */
const grace = 250

interface Cars {
  /** Lets the cars go; the effect it returns ends when every car has passed. */
  go(start: number): Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
}

const simulate = <E>(
  config: Config,
  event: Event.Event,
  startCars: (push: (entry: Entry) => void) => Effect.Effect<Cars, E, Scope.Scope>,
  onEntry: (entry: Entry) => void,
  waitForStragglers: boolean
): Effect.Effect<Array<Entry>, E> =>
  Effect.scoped(Effect.gen(function*() {
    const entries: Array<Entry> = []
    const push = (entry: Entry) => {
      entries.push(entry)
      onEntry(entry)
    }
    const cars = yield* startCars(push)
    yield* event.clear
    const start = yield* Clock.currentTimeMillis
    const allPassed = yield* cars.go(start)
    yield* light(event, config, start, (entry) => Effect.sync(() => push(entry)))
    if (waitForStragglers) yield* Effect.timeoutOption(allPassed, grace)
    return [...entries]
  }))

/** Fibers: `Event.make`; cars are fibers. Runs under `TestClock` too. */
export const runFiber = (config: Config, onEntry: (entry: Entry) => void = () => {}): Effect.Effect<Array<Entry>> =>
  Effect.flatMap(Event.make, (event) =>
    simulate(config, event, (push) =>
      Effect.succeed({
        go: (start) =>
          Effect.map(
            Effect.forkScoped(Effect.forEach(
              arrivals(config.cars, config.duration),
              (at, i) => car(event, i + 1, at, start, (entry) => Effect.sync(() => push(entry))),
              { concurrency: "unbounded", discard: true }
            )),
            Fiber.join
          )
      }), onEntry, false))

/** A car running somewhere else: a worker thread or a child process. */
interface Remote {
  send(message: Message): void
  /** Stops it (if it still runs) and resolves once it has exited. */
  stop(): Promise<void>
}

type Spawn = (
  n: number,
  arriveAt: number,
  on: { message: (m: Message) => void; failed: (why: string) => void }
) => Remote

const remoteCars = (config: Config, what: string, spawn: Spawn) => (push: (entry: Entry) => void) =>
  Effect.gen(function*() {
    const times = arrivals(config.cars, config.duration)
    const started = times.map(() => Deferred.makeUnsafe<void, CarError>())
    const passed = times.map(() => Deferred.makeUnsafe<void>())
    const remotes = yield* Effect.forEach(times, (arriveAt, i) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const remote: Remote = spawn(i + 1, arriveAt, {
            message: (m) => {
              if (m.type === "ready") Deferred.doneUnsafe(started[i]!, Effect.void)
              else if (m.type === "entry") {
                push(m.entry)
                if (m.entry.kind === "pass") {
                  Deferred.doneUnsafe(passed[i]!, Effect.void)
                  void remote.stop() // its work is done
                }
              }
            },
            failed: (why) =>
              Deferred.doneUnsafe(started[i]!, Effect.fail(new CarError({ message: `car ${i + 1}: its ${what} ${why}` })))
          })
          return remote
        }),
        (remote) => Effect.promise(() => remote.stop())
      ))
    const ready = yield* Effect.timeoutOption(Effect.forEach(started, Deferred.await, { discard: true }), startupTimeout)
    if (ready._tag === "None") {
      return yield* new CarError({ message: `the cars' ${what}es did not start within ${startupTimeout / 1000}s` })
    }
    return {
      go: (start: number) =>
        Effect.sync(() => {
          for (const remote of remotes) remote.send({ type: "go", start })
          return Effect.forEach(passed, Deferred.await, { discard: true })
        })
    } satisfies Cars
  })

/** Resolves when `exited()` says so or `exit` fires; after `ms`, runs `late` (a harder kill) and resolves anyway. */
const exitOf = (on: (resolve: () => void) => void, ms: number, late: () => void): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => {
      late()
      resolve()
    }, ms)
    on(() => {
      clearTimeout(timer)
      resolve()
    })
  })

/** Worker threads: `SharedEvent.make`; each car is a worker that attaches `light.handle`. */
export const runThread = (config: Config, onEntry: (entry: Entry) => void = () => {}): Effect.Effect<Array<Entry>, CarError> =>
  Effect.flatMap(SharedEvent.make, (event) =>
    simulate(
      config,
      event,
      remoteCars(config, "worker thread", (n, arriveAt, on) => {
        const job: Job<SharedEvent.Handle> = { handle: event.handle, car: n, arriveAt }
        const worker = new Worker(carModule, { workerData: job })
        let exited = false
        const exit = new Promise<void>((resolve) =>
          worker.once("exit", (code) => {
            exited = true
            on.failed(`exited (${code}) before it was ready`)
            resolve()
          })
        )
        worker.on("message", on.message)
        worker.on("error", (error) => on.failed(`failed: ${error.message}`))
        let stopping: Promise<void> | undefined
        return {
          send: (message) => worker.postMessage(message),
          stop: () =>
            stopping ??= exited ? Promise.resolve() : exitOf((done) => {
              void exit.then(done)
              void worker.terminate()
            }, 2_000, () => {})
        }
      }),
      onEntry,
      true
    ))

/** Processes: a manager hosts the event; each car is a child process that attaches its handle. */
export const runProcess = (config: Config, onEntry: (entry: Entry) => void = () => {}): Effect.Effect<Array<Entry>, CarError> =>
  Effect.scoped(Effect.gen(function*() {
    const manager = yield* Effect.mapError(
      Manager.serve(),
      (error) => new CarError({ message: `cannot start the manager: ${error.message}` })
    )
    const event = yield* manager.event()
    return yield* simulate(
      config,
      event,
      remoteCars(config, "process", (n, arriveAt, on) => {
        const job: Job<Manager.Handle<"event">> = { handle: event.handle, car: n, arriveAt }
        const child = fork(carModule, [JSON.stringify(job)], {
          execArgv: "Deno" in globalThis ? ["run", "-A"] : [],
          stdio: ["ignore", "inherit", "inherit", "ipc"]
        })
        const exit = new Promise<void>((resolve) =>
          child.once("exit", (code, signal) => {
            on.failed(`exited (${signal ?? code}) before it was ready`)
            resolve()
          })
        )
        child.on("message", (m) => on.message(m as Message))
        child.on("error", (error) => on.failed(`failed: ${error.message}`))
        let stopping: Promise<void> | undefined
        return {
          send: (message) => {
            if (child.connected) child.send(message)
          },
          stop: () =>
            stopping ??= child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : exitOf((done) => {
              void exit.then(done)
              child.kill("SIGTERM")
            }, 2_000, () => child.kill("SIGKILL"))
        }
      }),
      onEntry,
      true
    )
  }))

/** Runs the simulation at `config.scope`; `onEntry` sees every entry as it is recorded. */
export const run = (config: Config, onEntry?: (entry: Entry) => void): Effect.Effect<Array<Entry>, CarError> =>
  config.scope === "fiber"
    ? runFiber(config, onEntry)
    : config.scope === "thread"
    ? runThread(config, onEntry)
    : runProcess(config, onEntry)

/** Which Weft primitive is the light at each scope (for the CLI's header and the README). */
export const primitive: { readonly [S in ScopeName]: string } = {
  fiber: "Event.make",
  thread: "SharedEvent.make",
  process: "Manager.serve() + manager.event()"
}
