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
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import type { StackFrame } from "effect/References"
import { DeadlockError, type LockOrderError, RelockError } from "../errors.ts"
import * as Registry from "../inspect/Registry.ts"
import { graph, lockdep, reported } from "../Lockdep.ts"

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

function envFlag(name: string): boolean {
  try {
    const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]
    return value !== undefined && value !== "" && value !== "0" && value !== "false"
  } catch {
    return false
  }
}

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

/** One hold of a primitive by a fiber. */
export interface Hold {
  readonly tracker: Tracker
  readonly fiber: AnyFiber | undefined
  readonly permits: number
  readonly since: number
  readonly place: Place
  readonly clock: Clock.Clock
  readonly context: Context.Context<never> | undefined
}

/** One wait for a primitive. */
interface Wait {
  readonly tracker: Tracker
  readonly fiber: AnyFiber | undefined
  readonly permits: number
  readonly since: number
  readonly place: Place
  readonly clock: Clock.Clock
}

/** Per fiber, while lock-order checking is on: what it holds (in order) and what it waits for. */
interface FiberLocks {
  readonly held: Array<Hold>
  waiting: Wait | undefined
}

const fibers = new WeakMap<object, FiberLocks>()

const locksOf = (fiber: AnyFiber): FiberLocks => {
  let locks = fibers.get(fiber)
  if (locks === undefined) fibers.set(fiber, locks = { held: [], waiting: undefined })
  return locks
}

const systemClock: Clock.Clock = {
  currentTimeMillisUnsafe: () => Date.now()
} as Clock.Clock

const clockOf = (fiber: AnyFiber | undefined): Clock.Clock => (fiber === undefined ? systemClock : fiber.getRef(Clock.Clock))

// --- the contention profile -------------------------------------------------

/** Bucket bounds (ms) of the wait and hold histograms, here and in the Effect metrics. */
export const boundaries: ReadonlyArray<number> = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000
]

class Histogram {
  readonly counts = new Array<number>(boundaries.length + 1).fill(0)
  count = 0
  max = 0

  add(ms: number): void {
    let i = 0
    while (i < boundaries.length && ms > boundaries[i]!) i++
    this.counts[i]!++
    this.count++
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
}

/**
 * The Effect metrics of one named primitive; every series carries the
 * attributes `{ kind, name }`.
 */
class Metrics {
  readonly acquisitions: Metric.Counter<number>
  readonly contended: Metric.Counter<number>
  readonly wait: Metric.Histogram<number>
  readonly hold: Metric.Histogram<number>
  readonly attributes: Readonly<Record<string, string>>
  gauge: Metric.Registration | undefined

  constructor(kind: string, name: string) {
    const attributes = this.attributes = { kind, name }
    this.acquisitions = Metric.counter("weft_acquisitions_total", {
      description: "Acquisitions of a named Weft primitive",
      attributes,
      incremental: true
    })
    this.contended = Metric.counter("weft_contended_acquisitions_total", {
      description: "Acquisitions of a named Weft primitive that had to wait",
      attributes,
      incremental: true
    })
    this.wait = Metric.histogram("weft_wait_ms", { description: "Time waited for a named Weft primitive (ms)", attributes, boundaries })
    this.hold = Metric.histogram("weft_hold_ms", { description: "Time a named Weft primitive was held (ms)", attributes, boundaries })
  }
}

/** What a named primitive counts. */
class Profile {
  acquisitions = 0
  contended = 0
  readonly wait = new Histogram()
  readonly hold = new Histogram()
  readonly metrics: Metrics

  constructor(kind: string, name: string) {
    this.metrics = new Metrics(kind, name)
  }
}

// --- the tracker ------------------------------------------------------------

/** How a tracker describes the parts of its primitive's state that only the primitive knows. */
export interface Source {
  /** Kind-specific numbers (a queue's size, a semaphore's free permits). */
  counts(): Record<string, number>
  /** Held right now (for an unnamed primitive, which keeps no holders). */
  held?(): boolean
  /** How many wait right now (for an unnamed primitive, which keeps no waiters). */
  waiting?(): number
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
export class Tracker {
  /** Present when the primitive is named: then every operation is tracked. */
  readonly profile: Profile | undefined
  readonly holds = new Set<Hold>()
  readonly waits = new Set<Wait>()
  readonly ordered: boolean
  exclusive: boolean
  readonly relock: boolean
  /** The clock of the last tracked operation, so `longestWait` is on the test's clock. */
  private clock: Clock.Clock = systemClock

  readonly kind: string

  constructor(target: object, kind: string, name: string | undefined, source: Source, options: TrackerOptions = {}) {
    this.kind = kind
    this.ordered = options.ordered ?? false
    this.exclusive = options.exclusive ?? false
    this.relock = options.relock ?? false
    const named = name !== undefined && name !== ""
    // Held weakly: `describe` closes over the tracker and the source, never over `target`.
    const made = named ? undefined : madeAt()
    Registry.register(target, { kind, scope: "fiber", name, place: () => formatPlace(made) }, () => this.describe(source))
    this.named = named ? name : undefined
    this.profile = named ? new Profile(kind, name) : undefined
    this.target = named ? undefined : new WeakRef(target)
  }

  private readonly named: string | undefined
  private readonly target: WeakRef<object> | undefined

  /** The class lock-order checking knows it by: its name, or `<kind>@<place made>`. */
  get name(): string {
    if (this.named !== undefined) return this.named
    const target = this.target?.deref()
    return (target === undefined ? undefined : Registry.nameOf(target)) ?? this.kind
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
    const hold: Hold = { tracker: this, fiber, permits, since: now, place: waited?.place ?? placeOf(fiber), clock, context: fiber?.context }
    this.holds.add(hold)
    this.clock = clock
    if (fiber !== undefined && this.ordered && lockdep.on) locksOf(fiber).held.push(hold)
    const profile = this.profile
    if (profile !== undefined) {
      profile.acquisitions++
      const context = hold.context
      if (context !== undefined) {
        profile.metrics.acquisitions.updateUnsafe(1, context)
        this.registerGauge(context)
      }
      if (waited !== undefined) {
        profile.contended++
        const ms = now - waited.since
        profile.wait.add(ms)
        if (context !== undefined) {
          profile.metrics.contended.updateUnsafe(1, context)
          profile.metrics.wait.updateUnsafe(ms, context)
        }
      } else {
        profile.wait.add(0)
        if (context !== undefined) profile.metrics.wait.updateUnsafe(0, context)
      }
    }
    return hold
  }

  /** Ends `hold` (once; later calls do nothing). */
  exit(hold: Hold): void {
    if (!this.holds.delete(hold)) return
    if (hold.fiber !== undefined) {
      const locks = fibers.get(hold.fiber)
      if (locks !== undefined) {
        const i = locks.held.lastIndexOf(hold)
        if (i >= 0) locks.held.splice(i, 1)
      }
    }
    const profile = this.profile
    if (profile !== undefined) {
      const ms = hold.clock.currentTimeMillisUnsafe() - hold.since
      profile.hold.add(ms)
      if (hold.context !== undefined) profile.metrics.hold.updateUnsafe(ms, hold.context)
    }
  }

  /**
   * Ends a hold of the current fiber (else the oldest): a bare `release`,
   * which does not say which hold it ends.
   */
  exitCurrent(): void {
    if (this.holds.size === 0) return
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
    if (fiber !== undefined && lockdep.on) locksOf(fiber).waiting = wait
    return wait
  }

  private waitEnd(wait: Wait): void {
    this.waits.delete(wait)
    if (wait.fiber !== undefined) {
      const locks = fibers.get(wait.fiber)
      if (locks !== undefined && locks.waiting === wait) locks.waiting = undefined
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
    if (blocking && this.relock && locks !== undefined) {
      for (const hold of locks.held) {
        if (hold.tracker === this) {
          return reported(
            new RelockError({ lock: this.name, who: whoOf(fiber), heldSince: formatPlace(hold.place) ?? unknownPlace }),
            "fiber"
          )
        }
      }
    }
    if (blocking && this.exclusive && this.holds.size > 0) {
      const error = this.deadlock(fiber)
      if (error !== undefined) return error
    }
    if (locks === undefined || locks.held.length === 0) return undefined
    const held = locks.held.map((hold) => ({ name: hold.tracker.name, where: () => formatPlace(hold.place) ?? unknownPlace }))
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
        if (holder === undefined || holder === waiter) continue
        path.push({ who: whoOf(waiter), waitsFor: tracker.name, heldBy: whoOf(holder) })
        if (holder === fiber) return true
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
    release: () => void
  ): Effect.Effect<A, E, R> {
    const fiber = Fiber.getCurrent()
    const error = this.check(fiber)
    if (error !== undefined) return Effect.die(error)
    let hold: Hold | undefined
    const done = (): undefined => {
      if (hold !== undefined) this.exit(hold)
      release()
      return undefined
    }
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

  private registerGauge(context: Context.Context<never>): void {
    const metrics = this.profile!.metrics
    if (metrics.gauge !== undefined) return
    const self = new WeakRef(this)
    const gauge = Metric.gauge("weft_longest_wait_ms", {
      description: "Age of the oldest wait going on now for a named Weft primitive (ms)",
      attributes: metrics.attributes
    })
    metrics.gauge = Metric.registerUnsafe(gauge, context, {
      get: () => ({ value: self.deref()?.longestWait() ?? 0 }),
      update: () => {},
      modify: () => {}
    })
  }

  /** The age of the oldest wait going on now (ms). */
  longestWait(): number {
    const now = this.clock.currentTimeMillisUnsafe()
    let longest = 0
    for (const wait of this.waits) longest = Math.max(longest, now - wait.since)
    return longest
  }

  private describe(source: Source): Registry.State {
    const party = (p: Hold | Wait): Registry.Party => ({
      who: whoOf(p.fiber),
      since: p.since,
      where: formatPlace(p.place),
      permits: p.permits,
      fiber: p.fiber?.id
    })
    const counts = source.counts()
    if (this.holds.size === 0 && source.held?.()) counts.held = 1
    if (this.waits.size === 0) {
      const waiting = source.waiting?.() ?? 0
      if (waiting > 0) counts.waiting = waiting
    }
    const profile = this.profile
    return {
      holders: Array.from(this.holds, party),
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
