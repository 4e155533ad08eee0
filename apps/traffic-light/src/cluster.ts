/**
 * The cluster scope: the light is a `@weft/cluster` event, so cars on other
 * machines (`traffic-light cars --cluster URL`) wait on the same light, in
 * PostgreSQL, and join the run that is going.
 *
 * Each machine's cars are fibers of one process, running the same `car` as
 * every other scope against the cluster event: one set of connections per
 * machine (a pool child per car would open its own).
 *
 * What crosses, on the cluster (the names below):
 *
 * - `running`, a lock: held by the light for its whole run, so one light runs
 *   on a cluster at a time; it is given up, and the run fails, if the light's
 *   machine loses the database (`LockLostError`). Cars that can take it know
 *   the light is gone.
 * - `toLight`, a pubsub: a cars process asks to join (`join`), sends each
 *   entry as it happens (`entry`), and says when it leaves (`left`). One
 *   process's messages arrive in the order it sent them.
 * - `toCars`, a pubsub: the light announces a run (`run`), answers a join
 *   with the run's start and timing and the numbers of the joining cars
 *   (`joined`), and says when the run is over (`end`).
 *
 * A cars process holds a lock of its own while its cars drive: cut off from
 * the database, its lease interrupts them within half the partition bound
 * (`LockLostError`), before anyone could tell it anything new. Cut off, a
 * car learns of no green: it cannot pass, and the process says its cars
 * stopped.
 *
 * Times are each machine's clock against the run's start (epoch ms, from
 * the light's clock): the machines' clocks must agree (NTP) for the
 * timeline, and its check, to be exact.
 */
import * as os from "node:os"
import { Cluster, LockLostError } from "@weft/cluster"
import { Cause, Clock, Data, Deferred, Effect, Fiber, Scope } from "effect"
import { arrivals, car, type Entry, light, line, type Timing } from "./simulation.ts"

/**
 * Where the cluster is, and the name of this machine as the page shows it.
 *
 * @example
 * ```ts
 * const target: Target = { url: "postgres://weft@db.internal:5432/weft", machine: "lights-2" }
 * ```
 */
export interface Target {
  readonly url: string
  readonly machine: string
}

/**
 * Cars of another machine joined the run: numbered `first` to `first + count - 1`.
 *
 * @example
 * ```ts
 * const join: Join = { machine: "lights-2", first: 6, count: 3 }
 * ```
 */
export interface Join {
  readonly machine: string
  readonly first: number
  readonly count: number
}

/**
 * The cluster could not be reached, another light runs on it, or this
 * machine lost it mid-run.
 *
 * @example
 * ```ts
 * new ClusterRunError({ message: "another instance's light is running on this cluster" })
 * ```
 */
export class ClusterRunError extends Data.TaggedError("ClusterRunError")<{ readonly message: string }> {}

/** The cluster primitives' names. */
export const names = {
  light: "traffic-light/light",
  running: "traffic-light/running",
  toLight: "traffic-light/to-light",
  toCars: "traffic-light/to-cars"
} as const

type ToLight =
  | { readonly type: "join"; readonly join: string; readonly machine: string; readonly count: number }
  | { readonly type: "entry"; readonly run: string; readonly entry: Entry }
  | { readonly type: "left"; readonly run: string; readonly join: string }

type ToCars =
  | { readonly type: "run"; readonly run: string }
  | {
    readonly type: "joined"
    readonly join: string
    readonly run: string
    readonly first: number
    readonly start: number
    readonly timing: Timing
  }
  | { readonly type: "end"; readonly run: string }

/** After the light stops, how long cars still on their way get to pass, and how long the light waits for joined machines to leave. */
const grace = 1_000

/** How long a light waits for another light's run to end before refusing. */
const waitForLight = 5_000

/** This machine's name: `--machine`, or its host name. */
export const defaultMachine = (): string => os.hostname() || "localhost"

const token = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`

/**
 * How long closing a run's connections may take. Cut off from the server,
 * closing a cluster handle waits on statements that cannot reach it: the
 * process goes on (and says what happened) rather than wait for the OS.
 */
const closeWithin = 3_000

/**
 * `Effect.scoped`, whose closing is waited for at most `closeWithin` (what it
 * held, the server releases on its own). Finalizers cannot be interrupted, so
 * the closing runs on a fiber of its own, and only the wait for it is bounded.
 */
const scopedWithin = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Effect.Effect<A, E> =>
  Effect.flatMap(Scope.make(), (scope) =>
    Effect.onExit(Scope.provide(scope)(effect), (exit) =>
      Effect.flatMap(Effect.forkDetach(Scope.close(scope, exit)), (closing) =>
        Effect.asVoid(Effect.timeoutOption(Fiber.await(closing), closeWithin)))))

const connect = (url: string) =>
  Effect.mapError(Cluster.connect({ url }), (e) => new ClusterRunError({ message: `cannot reach the cluster: ${e.message}` }))

/** A defect `LockLostError` (a lease given up) as a typed failure. */
const lost = (what: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.catchDefect(self, (defect) =>
    defect instanceof LockLostError
      ? Effect.fail(new ClusterRunError({ message: `${what}: ${defect.message}` }))
      : Effect.die(defect))

/**
 * The cluster's other defects (`ClusterUnavailableError`: the server went
 * away, a connection dropped) as a typed failure naming `who`, so that a run
 * ends, and says why, rather than dying unreported.
 */
const unavailable = (who: string) => <A>(self: Effect.Effect<A, ClusterRunError>): Effect.Effect<A, ClusterRunError> =>
  Effect.catchCause(self, (cause) => {
    if (!Cause.hasDies(cause)) return Effect.failCause(cause)
    const defect = Cause.squash(cause)
    return Effect.fail(new ClusterRunError({ message: `${who} lost the cluster: ${defect instanceof Error ? defect.message : String(defect)}` }))
  })

/**
 * Publishes one process's messages in order, behind the caller (a car must
 * not wait for its arrival to be delivered before it reads its clock again).
 */
const sender = <A>(publish: (message: A) => Effect.Effect<void>) => {
  let sent: Promise<void> = Promise.resolve()
  return {
    send: (message: A) => {
      // A message that cannot go (the cluster is gone: a defect) is dropped; the process learns of it otherwise.
      sent = sent.then(() => Effect.runPromiseExit(publish(message))).then(() => {})
    },
    flushed: Effect.promise(() => sent)
  }
}

/**
 * The light's side of a cluster run: the light here, `config.cars` cars of
 * this machine, and whichever cars join from other machines while it runs.
 * `onJoin` sees each machine that joins (before any of its entries).
 *
 * @example
 * ```ts
 * const entries = yield* runCluster({ cars: 3, green: 2000, red: 3000, duration: 10_000 }, target, console.log)
 * ```
 */
export const runCluster = (
  config: Timing & { readonly cars: number },
  target: Target,
  onEntry: (entry: Entry) => void = () => {},
  onReady: () => void = () => {},
  onJoin: (join: Join) => void = () => {}
): Effect.Effect<Array<Entry>, ClusterRunError> =>
  scopedWithin(Effect.gen(function*() {
    const cluster = yield* connect(target.url)
    const running = yield* Effect.orDie(cluster.lock(names.running))
    const event = yield* Effect.orDie(cluster.event(names.light))
    const toLight = yield* Effect.orDie(cluster.pubsub<ToLight>(names.toLight))
    const toCars = yield* Effect.orDie(cluster.pubsub<ToCars>(names.toCars))

    const held = yield* Deferred.make<void>()
    const body = Effect.gen(function*() {
      yield* Deferred.succeed(held, undefined)
      const run = token()
      const entries: Array<Entry> = []
      const passed = new Set<number>()
      let cars = config.cars
      const everyonePassed = yield* Deferred.make<void>()
      const push = (entry: Entry) => {
        entries.push(entry)
        if (entry.kind === "pass") passed.add(entry.car)
        onEntry(entry)
        if (passed.size >= cars) Deferred.doneUnsafe(everyonePassed, Effect.void)
      }
      const joined = new Set<string>()
      const left = new Set<string>()
      const allLeft = yield* Deferred.make<void>()
      let open = true
      const inbox = yield* toLight.subscribe
      yield* event.clear
      onReady()
      const start = yield* Clock.currentTimeMillis
      const reader = yield* Effect.forkChild(Effect.forever(Effect.flatMap(inbox.take, (m) =>
        Effect.gen(function*() {
          if (m.type === "join") {
            // Joins after the light stopped get no answer: that machine waits for the next run.
            if (!open) return
            const first = cars + 1
            cars += m.count
            joined.add(m.join)
            onJoin({ machine: m.machine, first, count: m.count })
            yield* toCars.publish({ type: "joined", join: m.join, run, first, start, timing: config })
          } else if (m.run === run) {
            if (m.type === "entry") push(m.entry)
            else {
              left.add(m.join)
              if (left.size >= joined.size) Deferred.doneUnsafe(allLeft, Effect.void)
            }
          }
        }))))
      // Cars waiting for a run ask again now.
      yield* toCars.publish({ type: "run", run })
      const local = yield* Effect.forkChild(Effect.forEach(
        arrivals(config.cars, config.duration),
        (at, i) => car(event, i + 1, at, start, (entry) => Effect.sync(() => push({ ...entry, machine: target.machine } as Entry))),
        { concurrency: "unbounded", discard: true }
      ))
      yield* light(event, config, start, (entry) => Effect.sync(() => push(entry)))
      yield* Effect.timeoutOption(Deferred.await(everyonePassed), grace)
      open = false
      yield* Fiber.interrupt(local)
      yield* toCars.publish({ type: "end", run })
      // Each joined machine's entries come before its `left`; one that was cut off never says it.
      if (left.size < joined.size) yield* Effect.timeoutOption(Deferred.await(allLeft), grace)
      yield* Fiber.interrupt(reader)
      return [...entries]
    })

    const fiber = yield* Effect.forkScoped(lost("this machine lost the cluster")(running.withLock(body)))
    const first = yield* Effect.raceFirst(
      Effect.as(Deferred.await(held), true),
      Effect.as(Effect.sleep(waitForLight), false)
    )
    if (!first) {
      yield* Fiber.interrupt(fiber)
      return yield* new ClusterRunError({ message: `another instance's light is running on this cluster (waited ${waitForLight / 1000}s for it to end)` })
    }
    const entries = yield* Fiber.join(fiber)
    // The light is off: a late car of a machine that missed the end does not pass on it.
    yield* Effect.exit(event.clear)
    return entries
  })).pipe(unavailable("this machine"))

/**
 * How a cars process ended.
 *
 * @example
 * ```ts
 * const outcome: Outcome = { run: "lx1k-4f2a", first: 6, count: 3, passed: 3, reason: "every car passed" }
 * ```
 */
export interface Outcome {
  readonly run: string
  readonly first: number
  readonly count: number
  readonly passed: number
  readonly reason: string
}

/**
 * `traffic-light cars --cluster URL --count N`: N cars of this machine join
 * the run that is going (or the next one), arriving evenly over what is
 * left of it; each entry is printed (`print`) and sent to the light. Ends
 * when they have all passed, the run ends, or the light is gone; fails with
 * `ClusterRunError` when this machine loses the database (its cars stop at
 * once: cut off, none can pass).
 *
 * @example
 * ```ts
 * const outcome = yield* joinCars({ url, machine: "lights-2" }, 3, console.log)
 * ```
 */
export const joinCars = (target: Target, count: number, print: (line: string) => void): Effect.Effect<Outcome, ClusterRunError> =>
  scopedWithin(Effect.gen(function*() {
    const cluster = yield* connect(target.url)
    const join = token()
    const running = yield* Effect.orDie(cluster.lock(names.running))
    const member = yield* Effect.orDie(cluster.lock(`traffic-light/cars/${join}`))
    const event = yield* Effect.orDie(cluster.event(names.light))
    const toLight = yield* Effect.orDie(cluster.pubsub<ToLight>(names.toLight))
    const toCars = yield* Effect.orDie(cluster.pubsub<ToCars>(names.toCars))
    const inbox = yield* toCars.subscribe
    const out = sender((m: ToLight) => toLight.publish(m))
    const ask = Effect.sync(() => out.send({ type: "join", join, machine: target.machine, count }))
    // The cars that have joined and not passed: the ones a cut stops.
    let ours: ReadonlyArray<number> = []
    const passed = new Set<number>()
    const waiting = () => ours.filter((n) => !passed.has(n))

    const drive = Effect.gen(function*() {
      yield* ask
      print(`${target.machine}: ${count} car${count === 1 ? "" : "s"} waiting to join a run`)
      let answer: Extract<ToCars, { type: "joined" }> | undefined
      while (answer === undefined) {
        const m = yield* inbox.take
        if (m.type === "run") yield* ask
        else if (m.type === "joined" && m.join === join) answer = m
      }
      const { run, first, start, timing } = answer
      const now = (yield* Clock.currentTimeMillis) - start
      const rest = Math.max(0, timing.duration - now)
      print(`${target.machine}: joined run ${run}: cars ${first} to ${first + count - 1}, arriving over the last ${(rest / 1000).toFixed(1)}s`)
      const record = (entry: Entry) =>
        Effect.sync(() => {
          const mine = { ...entry, machine: target.machine } as Entry
          if (mine.kind === "pass") passed.add(mine.car)
          print(line(mine))
          out.send({ type: "entry", run, entry: mine })
        })
      ours = Array.from({ length: count }, (_, i) => first + i)
      const cars = yield* Effect.forkChild(Effect.forEach(
        arrivals(count, rest),
        (at, i) => car(event, first + i, now + at, start, record),
        { concurrency: "unbounded", discard: true }
      ))
      const ended = Effect.gen(function*() {
        while (true) {
          const m = yield* inbox.take
          if (m.type === "end" && m.run === run) return "the run ended"
        }
      })
      // The light holds `running` for its whole run: once we can take it, the light is gone.
      const gone = Effect.as(Effect.andThen(running.acquire, Effect.orDie(running.release)), "the light is gone")
      const late = Effect.as(Effect.sleep(Math.max(0, start + timing.duration + 5 * grace - (yield* Clock.currentTimeMillis))), "the run is over")
      const reason = yield* Effect.raceAllFirst([Effect.as(Fiber.join(cars), "every car passed"), ended, gone, late])
      yield* Fiber.interrupt(cars)
      const left = waiting()
      ours = []
      yield* out.flushed
      yield* toLight.publish({ type: "left", run, join })
      return {
        run,
        first,
        count,
        passed: passed.size,
        reason: left.length === 0 ? reason : `${reason}; still waiting: car ${left.join(", car ")}`
      } satisfies Outcome
    })

    // The cars drive on a fiber of their own, and the lock's body only waits for them: when the
    // lease gives the lock up, the body ends at once (stopping a wait in flight on a dead link can
    // take seconds), and this says so before the cars have finished stopping.
    const driving = yield* Effect.forkDetach(drive)
    yield* Effect.addFinalizer(() => Effect.sync(() => driving.interruptUnsafe()))
    return yield* member.withLock(Fiber.join(driving)).pipe(
      Effect.catchDefect((defect) =>
        defect instanceof LockLostError
          ? Effect.andThen(
            Effect.sync(() => driving.interruptUnsafe()),
            new ClusterRunError({
              message: `${target.machine} lost the cluster: ${defect.message}` +
                (waiting().length > 0 ? `; cars stopped: car ${waiting().join(", car ")}` : "; cars stopped")
            })
          )
          : Effect.die(defect)
      )
    )
  })).pipe(
    // A dead connection is what a cut looks like to a statement in flight.
    unavailable(target.machine)
  )
