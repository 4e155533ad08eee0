/**
 * What the fiber-scope primitives know about their holders and waiters, for
 * `Inspect`, lock-order checking and the contention profile.
 *
 * Each primitive owns a `Tracker`. It does work only when it is *active*:
 * when the primitive is named (then it keeps the contention profile and the
 * Effect metrics) or when `Lockdep` is on. Otherwise the primitive's hot
 * path reads two fields (`tracker.profile`, `lockdep.on`) and goes on as
 * before, and the registry describes it from its counts alone (held or not,
 * how many wait).
 *
 * A hold or wait records the fiber, the time on the fiber's clock (so
 * `TestClock` ages are the test's) and where it happened: the fiber's current
 * Effect stack frame (`Effect.fn`) or span (`Effect.withSpan`), which are
 * references already there, formatted only when a snapshot or an error asks.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import type { StackFrame } from "effect/References"
import { DeadlockError, type LockOrderError, RelockError } from "../errors.ts"
import * as Registry from "../inspect/Registry.ts"
import { graph, lockdep, reported } from "../Lockdep.ts"
import { envFlag } from "./env.ts"

type AnyFiber = Fiber.Fiber<unknown, unknown>

/** Where a hold or wait began (or a primitive was made): formatted on demand. */
type Place = StackFrame | string | Error | undefined

/**
 * Where an unnamed primitive is being made: the fiber's Effect stack frame or
 * span when there is one (a reference, free); otherwise, while inspection or
 * lockdep is on, a captured stack (about 3 us, formatted only if listed).
 * Else nothing, and the snapshot lists it as `<kind>#<serial>`.
 */
const madeAt = (): Place => {
  return placeOf(Fiber.getCurrent()) ?? (lockdep.on ? new Error() : undefined)
}

/** Whether to capture a stack where no Effect frame says where (WEFT_INSPECT=1). */
export const stacks: { on: boolean } = { on: envFlag("WEFT_INSPECT") }

const locationOf = (stack: string | undefined): string | undefined => {
  if (stack === undefined) return undefined
  const match = /\(([^()]*:\d+:\d+)\)/.exec(stack) ?? /at (\S+:\d+:\d+)/.exec(stack)
  return match?.[1]?.replace(/^file:\/\//, "")
}

/** A place as a person reads it: `transfer (src/bank.ts:12:7)`, a span name, or undefined. */
export const formatPlace = (place: Place): string | undefined => {
  if (place === undefined || typeof place === "string") return place
  if (place instanceof Error) return outsideWeft(place.stack)
  let location: string | undefined
  try {
    location = locationOf(place.stack())
  } catch {
    location = undefined
  }
  return location === undefined ? place.name : `${place.name} (${location})`
}

/** The first frame of `stack` outside Weft and Effect. */
const outsideWeft = (stack: string | undefined): string | undefined => {
  for (const line of stack?.split("\n").slice(1) ?? []) {
    const frame = line.trim().replace(/^at\s+/, "")
    if (!/[/\\](packages[/\\](primitives|cluster|pools)|node_modules[/\\](@weft|effect))[/\\]|^node:|\(node:/.test(frame)) {
      return frame.replace(/^.*\((.*)\)$/, "$1").replace(/^file:\/\//, "")
    }
  }
  return undefined
}

const placeOf = (fiber: AnyFiber | undefined): Place => {
  if (fiber === undefined) return stacks.on ? new Error() : undefined
  const cache = fiber.cache
  if (cache.stackFrame !== undefined) return cache.stackFrame
  const span = cache.span
  if (span !== undefined && "name" in span) return (span as { readonly name: string }).name
  return stacks.on ? new Error() : undefined
}

/** What an error says where no Effect frame or span names the place. */
const unknownPlace = "an unnamed place (wrap the code in Effect.fn or Effect.withSpan to name it)"

const whoOf = (fiber: AnyFiber | undefined): string => (fiber === undefined ? "async caller" : `fiber #${fiber.id}`)

/**
 * One hold of a primitive by a fiber. It is also what lock-order checking
 * reads as a held lock (`name`, `where`), so a check allocates nothing.
 */
export class Hold {
  readonly tracker: Tracker
  readonly fiber: AnyFiber | undefined
  readonly permits: number
  readonly since: number
  readonly place: Place
  readonly clock: Clock.Clock

  constructor(tracker: Tracker, fiber: AnyFiber | undefined, permits: number, since: number, place: Place, clock: Clock.Clock) {
    this.tracker = tracker
    this.fiber = fiber
    this.permits = permits
    this.since = since
    this.place = place
    this.clock = clock
  }

  get name(): string {
    return this.tracker.name
  }

  get where(): () => string {
    return () => formatPlace(this.place) ?? unknownPlace
  }
}

/** One wait for a primitive: who, since when, where, as a hold records it. */
type Wait = Pick<Hold, "tracker" | "fiber" | "permits" | "since" | "place" | "clock">

/** Per fiber, while lock-order checking is on: what it holds (in order) and what it waits for. */
export interface FiberLocks {
  readonly held: Array<Hold>
  waiting: Wait | undefined
  /**
   * The Promise face: each call runs in a fiber of its own, bound to a task
   * whose parent is the task that made the call (found through
   * AsyncLocalStorage), so a call inside `runExclusive` holds what its
   * callers hold.
   */
  readonly parent: FiberLocks | undefined
}

const fibers = new WeakMap<object, FiberLocks>()

const locksOf = (fiber: AnyFiber): FiberLocks => {
  let locks = fibers.get(fiber)
  if (locks === undefined) fibers.set(fiber, locks = { held: [], waiting: undefined, parent: undefined })
  return locks
}

/** A task of the Promise face, inside `parent` (the caller's task), if any. @internal */
export const task = (parent: FiberLocks | undefined): FiberLocks => ({ held: [], waiting: undefined, parent })

/** Runs `fiber`'s lock-order bookkeeping in `locks` (a Promise-face task). @internal */
export const bind = (fiber: AnyFiber, locks: FiberLocks): void => {
  fibers.set(fiber, locks)
}

/** What a task holds, its callers' holds included, oldest first. */
const heldBy = (locks: FiberLocks): ReadonlyArray<Hold> => {
  if (locks.parent === undefined) return locks.held
  const all: Array<Hold> = []
  for (let l: FiberLocks | undefined = locks; l !== undefined; l = l.parent) all.unshift(...l.held)
  return all
}

const sameTask = (a: FiberLocks | undefined, b: FiberLocks | undefined): boolean => {
  if (a === undefined || b === undefined) return false
  for (let l: FiberLocks | undefined = a; l !== undefined; l = l.parent) if (l === b) return true
  for (let l: FiberLocks | undefined = b; l !== undefined; l = l.parent) if (l === a) return true
  return false
}

/**
 * The wall clock read once per synchronous run of the event loop: a hold or
 * wait starts at the time its run started. Reading the clock costs more than
 * the rest of an uncontended acquisition (about 160 ns on this project's
 * machine); ages in a dump and the ms histograms need no finer time.
 */
let cachedNow: number | undefined = undefined
const forget = (): void => {
  cachedNow = undefined
}
const coarseNow = (): number => {
  if (cachedNow === undefined) {
    cachedNow = Date.now()
    queueMicrotask(forget)
  }
  return cachedNow
}

const systemClock: Clock.Clock = {
  currentTimeMillisUnsafe: coarseNow
} as Clock.Clock

/** The default (live) clock: replaced by the coarse one. Another (a `TestClock`) is read as is. */
const liveClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

const clockOf = (fiber: AnyFiber | undefined): Clock.Clock => {
  if (fiber === undefined) return systemClock
  const clock = fiber.getRef(Clock.Clock)
  return clock === liveClock ? systemClock : clock
}

// --- the contention profile -------------------------------------------------

/** Bucket bounds (ms) of the wait and hold histograms, here and in the Effect metrics. */
export const boundaries: ReadonlyArray<number> = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000
]

class Histogram {
  readonly counts = new Array<number>(boundaries.length + 1).fill(0)
  count = 0
  max = 0
  min = 0
  sum = 0

  add(ms: number): void {
    let i = 0
    while (i < boundaries.length && ms > boundaries[i]!) i++
    this.counts[i]!++
    if (this.count === 0 || ms < this.min) this.min = ms
    this.count++
    this.sum += ms
    if (ms > this.max) this.max = ms
  }

  quantile(q: number): number {
    if (this.count === 0) return 0
    const rank = Math.ceil(q * this.count)
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return Math.min(boundaries[i] ?? Infinity, this.max)
    }
    return this.max
  }

  timing(): Registry.Timing {
    let cumulative = 0
    return {
      count: this.count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      max: this.max,
      buckets: this.counts.map((n, i) => [boundaries[i] ?? Infinity, cumulative += n] as const)
    }
  }

  /** As Effect's `HistogramState` (cumulative buckets without the +Inf one). */
  state(): Metric.HistogramState {
    let cumulative = 0
    const buckets: Array<[number, number]> = []
    for (let i = 0; i < boundaries.length; i++) buckets.push([boundaries[i]!, cumulative += this.counts[i]!])
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
  }
}

/** What a named primitive counts. */
class Profile {
  acquisitions = 0
  contended = 0
  readonly wait = new Histogram()
  readonly hold = new Histogram()
  /** The metric registries (one per Effect context that used it) this profile is listed in. */
  private readonly registries = new WeakSet<object>()

  readonly kind: string
  readonly name: string

  constructor(kind: string, name: string) {
    this.kind = kind
    this.name = name
  }

  /**
   * Lists this profile's series in the metric registry of `context`, once:
   * Effect's metrics read the counts when a snapshot is taken (pull), so an
   * acquisition pays nothing for them. Held weakly: a collected primitive's
   * series read as they last were... until its tracker is gone, then zero.
   */
  register(context: Context.Context<never>, tracker: Tracker): void {
    const registry = Context.get(context, Metric.MetricRegistry)
    if (this.registries.has(registry)) return
    this.registries.add(registry)
    const attributes = { kind: this.kind, name: this.name }
    const self = new WeakRef(tracker)
    const profile = (): Profile | undefined => self.deref()?.profile
    const noop = () => {}
    const pull = <S>(metric: Metric.Metric<number, S>, get: (p: Profile | undefined) => S) =>
      Metric.registerUnsafe(metric, context, { get: () => get(profile()), update: noop, modify: noop })
    const counter = (p: Profile | undefined, n: (p: Profile) => number): Metric.CounterState<number> => ({
      count: p === undefined ? 0 : n(p),
      incremental: true
    })
    pull(Metric.counter("weft_acquisitions_total", { description: "Acquisitions of a named Weft primitive", attributes, incremental: true }), (p) => counter(p, (x) => x.acquisitions))
    pull(Metric.counter("weft_contended_acquisitions_total", { description: "Acquisitions of a named Weft primitive that had to wait", attributes, incremental: true }), (p) => counter(p, (x) => x.contended))
    pull(Metric.histogram("weft_wait_ms", { description: "Time waited for a named Weft primitive (ms)", attributes, boundaries }), (p) => (p ?? empty).wait.state())
    pull(Metric.histogram("weft_hold_ms", { description: "Time a named Weft primitive was held (ms)", attributes, boundaries }), (p) => (p ?? empty).hold.state())
    pull(Metric.gauge("weft_longest_wait_ms", { description: "Age of the oldest wait going on now for a named Weft primitive (ms)", attributes }), () => ({ value: self.deref()?.longestWait() ?? 0 }))
  }
}

const empty = new Profile("", "")

// --- the tracker ------------------------------------------------------------

/**
 * How a tracker describes the parts of its primitive's state that only the
 * primitive knows. Each function gets the primitive (held weakly by the
 * tracker): a closure over it would keep it alive from the registry.
 */
export interface Source<T> {
  /** Kind-specific numbers (a queue's size, a semaphore's free permits). */
  counts(self: T): Record<string, number>
  /** Held right now (for an unnamed primitive, which keeps no holders). */
  held?(self: T): boolean
  /** How many wait right now (for an unnamed primitive, which keeps no waiters). */
  waiting?(self: T): number
}

/** Options of a tracker. */
export interface TrackerOptions {
  /** Takes part in lock-order checking (Lock, RLock, Semaphore). */
  readonly ordered?: boolean
  /** At most one holder: a wait for it can close a deadlock cycle. */
  readonly exclusive?: boolean
  /** Re-taking it while holding it waits forever (Lock): RelockError when lockdep is on. */
  readonly relock?: boolean
}

/** The inspection, profile and lock-order state of one fiber-scope primitive. @internal */
export class Tracker<in T extends object = any> {
  /** Present when the primitive is named: then every operation is tracked. */
  readonly profile: Profile | undefined
  /** Held now, oldest first (an array: mostly 0 or 1 long, cheaper than a Set). */
  readonly holds: Array<Hold> = []
  readonly waits = new Set<Wait>()
  readonly ordered: boolean
  exclusive: boolean
  readonly relock: boolean
  /** The clock of the last tracked operation, so `longestWait` is on the test's clock. */
  private clock: Clock.Clock = systemClock

  readonly kind: string

  constructor(target: T, kind: string, name: string | undefined, source: Source<T>, options: TrackerOptions = {}) {
    this.kind = kind
    this.ordered = options.ordered ?? false
    this.exclusive = options.exclusive ?? false
    this.relock = options.relock ?? false
    const named = name !== undefined && name !== ""
    const made = named ? undefined : madeAt()
    // The registry holds the tracker (weakly), not the primitive: the
    // primitive holds its tracker, and so does every effect of it that runs,
    // so a lock a fiber still holds or waits for stays listed after the
    // program dropped it, and goes when nothing uses it any more. `describe`
    // reaches the tracker through a WeakRef, and the source never holds it.
    const self = new WeakRef(this)
    Registry.register(
      this,
      { kind, scope: "fiber", name, place: () => formatPlace(made) },
      () => self.deref()?.describe(source as Source<object>) ?? { holders: [], waiters: [] }
    )
    this.target = new WeakRef(target)
    this.named = named ? name : undefined
    this.profile = named ? new Profile(kind, name) : undefined
  }

  private readonly named: string | undefined = undefined
  private readonly target: WeakRef<object>

  private resolved: string | undefined = undefined

  /** The class lock-order checking knows it by: its name, or `<kind>@<place made>`. */
  get name(): string {
    if (this.named !== undefined) return this.named
    if (this.resolved !== undefined) return this.resolved
    const name = Registry.nameOf(this)
    if (name !== undefined) this.resolved = name
    return name ?? this.kind
  }

  /** Whether operations are tracked now. */
  get active(): boolean {
    return this.profile !== undefined || lockdep.on
  }

  // -- holds ---------------------------------------------------------------

  /** Records a hold that just began; `waited` is the wait that led to it, if any. */
  enter(fiber: AnyFiber | undefined, permits: number, waited: Wait | undefined): Hold {
    const clock = waited?.clock ?? clockOf(fiber)
    const now = clock.currentTimeMillisUnsafe()
    const hold = new Hold(this, fiber, permits, now, waited?.place ?? placeOf(fiber), clock)
    this.holds.push(hold)
    this.clock = clock
    if (fiber !== undefined && this.ordered && lockdep.on) locksOf(fiber).held.push(hold)
    const profile = this.profile
    if (profile !== undefined) {
      if (profile.acquisitions++ === 0 && fiber !== undefined) profile.register(fiber.context, this)
      if (waited !== undefined) {
        profile.contended++
        profile.wait.add(now - waited.since)
      } else {
        profile.wait.add(0)
      }
    }
    return hold
  }

  /** Ends `hold` (once; later calls do nothing). */
  exit(hold: Hold): void {
    const holds = this.holds
    const last = holds.length - 1
    if (last >= 0 && holds[last] === hold) holds.pop()
    else {
      const i = holds.indexOf(hold)
      if (i < 0) return
      holds.splice(i, 1)
    }
    if (hold.fiber !== undefined && this.ordered) {
      const held = fibers.get(hold.fiber)?.held
      if (held !== undefined && held.length > 0) {
        // Locks are mostly let go in the reverse order of taking: the last one.
        if (held[held.length - 1] === hold) held.pop()
        else {
          const i = held.lastIndexOf(hold)
          if (i >= 0) held.splice(i, 1)
        }
      }
    }
    const profile = this.profile
    if (profile !== undefined) profile.hold.add(hold.clock.currentTimeMillisUnsafe() - hold.since)
  }

  /**
   * Ends a hold of the current fiber (else the oldest): a bare `release`,
   * which does not say which hold it ends.
   */
  exitCurrent(): void {
    if (this.holds.length === 0) return
    const fiber = Fiber.getCurrent()
    let chosen: Hold | undefined
    for (const hold of this.holds) {
      if (hold.fiber === fiber) chosen = hold
      chosen ??= hold
    }
    if (chosen !== undefined) this.exit(chosen)
  }

  // -- waits ---------------------------------------------------------------

  private waitBegin(fiber: AnyFiber | undefined, permits: number): Wait {
    const clock = clockOf(fiber)
    this.clock = clock
    const wait: Wait = { tracker: this, fiber, permits, since: clock.currentTimeMillisUnsafe(), place: placeOf(fiber), clock }
    this.waits.add(wait)
    if (fiber !== undefined && lockdep.on) {
      // A caller waits too while its call does.
      for (let l: FiberLocks | undefined = locksOf(fiber); l !== undefined; l = l.parent) l.waiting = wait
    }
    return wait
  }

  private waitEnd(wait: Wait): void {
    this.waits.delete(wait)
    if (wait.fiber !== undefined) {
      for (let l = fibers.get(wait.fiber); l !== undefined; l = l.parent) if (l.waiting === wait) l.waiting = undefined
    }
  }

  // -- lock-order checking -------------------------------------------------

  /**
   * Before an acquisition, when lockdep is on: `RelockError` (a blocking
   * acquisition of a non-reentrant lock this fiber holds), `DeadlockError`
   * (waiting here would close a cycle of fibers; checked before the order,
   * since a real deadlock is the more precise report), or `LockOrderError`.
   * `blocking` is false for a timed wait, which cannot hang.
   */
  check(fiber: AnyFiber | undefined, blocking = true): RelockError | DeadlockError | LockOrderError | undefined {
    if (!lockdep.on || fiber === undefined || !this.ordered) return undefined
    const locks = fibers.get(fiber)
    const held = locks === undefined ? undefined : heldBy(locks)
    if (blocking && this.relock && held !== undefined) {
      for (const hold of held) {
        if (hold.tracker === this) {
          return reported(
            new RelockError({ lock: this.name, who: whoOf(fiber), heldSince: formatPlace(hold.place) ?? unknownPlace }),
            "fiber"
          )
        }
      }
    }
    if (blocking && this.exclusive && this.holds.length > 0) {
      const error = this.deadlock(fiber)
      if (error !== undefined) return error
    }
    if (held === undefined || held.length === 0) return undefined
    const error = graph.record(held, this.name, () => formatPlace(placeOf(fiber)) ?? unknownPlace, whoOf(fiber))
    return error === undefined ? undefined : reported(error, "fiber")
  }

  /**
   * Whether `fiber` starting to wait for this primitive closes a cycle of
   * fibers each waiting for an exclusive lock the next one holds.
   */
  private deadlock(fiber: AnyFiber): DeadlockError | undefined {
    const path: Array<{ who: string; waitsFor: string; heldBy: string }> = []
    const seen = new Set<object>()
    const visit = (tracker: Tracker, waiter: AnyFiber): boolean => {
      if (!tracker.exclusive) return false
      for (const hold of tracker.holds) {
        const holder = hold.fiber
        if (holder === undefined || holder === waiter || sameTask(fibers.get(holder), fibers.get(waiter))) continue
        path.push({ who: whoOf(waiter), waitsFor: tracker.name, heldBy: whoOf(holder) })
        if (holder === fiber || sameTask(fibers.get(holder), fibers.get(fiber))) return true
        if (!seen.has(holder)) {
          seen.add(holder)
          const next = fibers.get(holder)?.waiting
          if (next !== undefined && visit(next.tracker, holder)) return true
        }
        path.pop()
      }
      return false
    }
    return visit(this, fiber) ? reported(new DeadlockError({ cycle: path }), "fiber") : undefined
  }

  // -- the tracked paths ---------------------------------------------------

  /**
   * A tracked blocking acquisition of `permits`: the checks, then `tryTake`
   * or a recorded `wait`. Must run inside the acquiring fiber.
   */
  acquire<E>(permits: number, tryTake: () => boolean, wait: Effect.Effect<void, E>): Effect.Effect<void, E> {
    const fiber = Fiber.getCurrent()
    const error = this.check(fiber)
    if (error !== undefined) return Effect.die(error)
    if (tryTake()) {
      this.enter(fiber, permits, undefined)
      return Effect.void
    }
    return this.waitThenEnter(fiber, permits, wait, () => {})
  }

  /** Waits (recorded, with the deadlock check), then records the hold; `onHold` receives it. */
  waitThenEnter<E>(
    fiber: AnyFiber | undefined,
    permits: number,
    wait: Effect.Effect<void, E>,
    onHold: (hold: Hold) => void
  ): Effect.Effect<void, E> {
    const waiting = this.waitBegin(fiber, permits)
    return Effect.uninterruptibleMask((restore) =>
      Effect.onExit(restore(wait), (exit) =>
        Effect.sync(() => {
          this.waitEnd(waiting)
          if (Exit.isSuccess(exit)) onHold(this.enter(fiber, permits, waiting))
        }))
    )
  }

  /**
   * `withLock` / `withPermits` tracked: the body of `guarded` when the
   * tracker is active. Runs inside `uninterruptibleMask`.
   */
  guard<A, E, R>(
    restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>,
    effect: Effect.Effect<A, E, R>,
    permits: number,
    tryTake: () => boolean,
    wait: Effect.Effect<void>,
    release: () => void,
    exclusiveDone: (() => undefined) | undefined
  ): Effect.Effect<A, E, R> {
    const fiber = Fiber.getCurrent()
    const error = this.check(fiber)
    if (error !== undefined) return Effect.die(error)
    let hold: Hold | undefined
    // An exclusive lock has one hold at a time, so its finalizer is built
    // once (`exclusiveDone`); a semaphore's ends the hold this call made.
    const done = exclusiveDone ?? ((): undefined => {
      if (hold !== undefined) this.exit(hold)
      release()
      return undefined
    })
    if (tryTake()) {
      hold = this.enter(fiber, permits, undefined)
      return Effect.onExitPrimitive(restore(effect), done, true)
    }
    return Effect.flatMap(
      restore(this.waitThenEnter(fiber, permits, wait, (h) => {
        hold = h
      })),
      () => Effect.onExitPrimitive(restore(effect), done, true)
    ) as Effect.Effect<A, E, R>
  }

  /** The finalizer of `withLock` on an exclusive lock: ends its one hold, then `release`. */
  exclusiveDone(release: () => void): () => undefined {
    return () => {
      const hold = this.holds[0]
      if (hold !== undefined) this.exit(hold)
      release()
      return undefined
    }
  }

  /**
   * `effect`, a wait that takes nothing (an event, a condition, a barrier, a
   * queue's get), recorded as a waiter when the tracker is active when it runs.
   */
  waiting<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    const tracked = Effect.suspend(() => {
      const waiting = this.waitBegin(Fiber.getCurrent(), 1)
      return Effect.ensuring(effect, Effect.sync(() => this.waitEnd(waiting)))
    })
    return Effect.suspend(() => (this.profile !== undefined || lockdep.on ? tracked : effect))
  }

  // -- description ---------------------------------------------------------

  /** The age of the oldest wait going on now (ms). */
  longestWait(): number {
    const now = this.clock.currentTimeMillisUnsafe()
    let longest = 0
    for (const wait of this.waits) longest = Math.max(longest, now - wait.since)
    return longest
  }

  private describe(source: Source<object>): Registry.State {
    const target = this.target.deref()
    const party = (p: Hold | Wait): Registry.Party => ({
      who: whoOf(p.fiber),
      since: p.since,
      where: formatPlace(p.place),
      permits: p.permits,
      fiber: p.fiber?.id
    })
    // The primitive may be gone while a fiber still holds or waits for it.
    const counts = target === undefined ? {} : source.counts(target)
    if (target !== undefined && this.holds.length === 0 && source.held?.(target)) counts.held = 1
    if (target !== undefined && this.waits.size === 0) {
      const waiting = source.waiting?.(target) ?? 0
      if (waiting > 0) counts.waiting = waiting
    }
    const profile = this.profile
    return {
      holders: this.holds.map(party),
      waiters: Array.from(this.waits, party),
      counts,
      contention: profile === undefined ? undefined : {
        acquisitions: profile.acquisitions,
        contended: profile.contended,
        wait: profile.wait.timing(),
        hold: profile.hold.timing(),
        longestWait: this.longestWait()
      }
    }
  }
}
