/**
 * A barrier for a fixed number of fibers — Python's `threading.Barrier`.
 *
 * `parties` fibers call `wait`; each blocks until the last one arrives, then
 * all go on together and the barrier is ready for the next round (a
 * *generation*). Each `wait` returns the fiber's arrival index in its round,
 * `0` to `parties - 1`. An optional `action` runs once per round, in the
 * fiber that arrived last, before the others are released.
 *
 * A barrier *breaks* when a waiter times out (`waitFor`), when a waiter is
 * interrupted, when the action fails, or on `abort`: every fiber waiting on it,
 * and every later `wait`, fails with `BrokenBarrierError` (whose `reason` says
 * which) until `reset`. `reset` fails the fibers waiting right now with
 * reason `"reset"` and makes the barrier usable again.
 *
 * Interruption: Python threads cannot be interrupted, but fibers can. An
 * interrupted waiter breaks the barrier (reason `"interrupted"`), exactly as
 * a timed-out one does: the round it was part of can never complete, and
 * failing everyone at once is better than leaving the other parties waiting
 * for a fiber that is gone. An interrupt that arrives after the round was
 * released changes nothing for the others. The interrupted fiber itself ends
 * interrupted; the others get `BrokenBarrierError`.
 *
 * The action: if it fails (or dies, or is interrupted), the barrier breaks
 * (reason `"action failed"`, or `"interrupted"`, with what it failed with as
 * `cause`) and every party of that round, the one that ran it included, fails
 * with `BrokenBarrierError` — unlike Python, where the thread that ran it sees
 * the action's own exception; here the error channel stays one typed error.
 *
 * What Effect gives: no barrier. Each round is one `Deferred` (Effect's
 * one-shot, interruption-safe signal): the last party completes it, or a
 * break fails it, and every party awaits it. What Weft adds: the Python
 * barrier on top — counting, arrival indexes, the per-round action, timeouts
 * that break the barrier for everyone, `abort`, `reset` and the queries.
 *
 * Scopes: fiber (this module); processes: `manager.barrier(n)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@weft/primitives"
 *
 * // Three runners start together; the action fires the starting gun once.
 * const program = Effect.gen(function*() {
 *   const start = yield* Barrier.make(3, Effect.log("bang"))
 *   const runner = (name: string) => Effect.andThen(start.wait, Effect.log(`${name} runs`))
 *   yield* Effect.all([runner("a"), runner("b"), runner("c")], { concurrency: "unbounded" })
 * })
 * ```
 *
 * @module
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import { BrokenBarrierError, type InvalidArgumentError } from "./errors.ts"
import { bindMethods } from "./internal/bind.ts"
import { type Source, Tracker } from "./internal/track.ts"
import { count, timeout as parseTimeout } from "./validate.ts"

/**
 * The barrier interface. `Barrier` and a manager's `barrier(n)` implement it.
 *
 * @example
 * ```ts
 * const phase = (barrier: Barrier.Barrier, work: Effect.Effect<void>) =>
 *   Effect.andThen(work, barrier.wait)
 * ```
 */
export interface Barrier {
  /**
   * Waits until `parties` fibers have called it; returns this fiber's arrival
   * index (`0` to `parties - 1`). Fails with `BrokenBarrierError` if the
   * barrier is or becomes broken.
   */
  readonly wait: Effect.Effect<number, BrokenBarrierError>
  /**
   * As `wait`, for at most `timeout`. When the time runs out the barrier
   * breaks, for this fiber and every other waiter (reason `"timeout"`), as in
   * Python.
   */
  waitFor(timeout: Duration.Input): Effect.Effect<number, BrokenBarrierError | InvalidArgumentError>
  /** Breaks the barrier: waiters and later `wait`s fail (reason `"aborted"`) until `reset`. */
  readonly abort: Effect.Effect<void>
  /**
   * Fails the fibers waiting now (reason `"reset"`) and returns the barrier
   * to its initial state, unbroken and empty.
   */
  readonly reset: Effect.Effect<void>
  /** How many fibers each round needs. */
  readonly parties: number
  /** How many fibers have arrived and are not released yet. */
  readonly waiting: Effect.Effect<number>
  /** Whether the barrier is broken. */
  readonly broken: Effect.Effect<boolean>
}

/** One round: its parties so far and the signal that releases (or fails) them. */
interface Generation {
  readonly done: Deferred.Deferred<void, BrokenBarrierError>
  arrived: number
}

// Module-level, so that no closure of the constructor keeps the barrier alive from the registry.
const barrierSource: Source<BarrierImpl> = {
  counts: (self) => ({ parties: self.parties, arrived: self.current.arrived, broken: self.brokenBy === undefined ? 0 : 1 })
}

class BarrierImpl implements Barrier {
  // Rounds not released yet: the one filling up, and any whose action runs.
  readonly pending = new Set<Generation>()
  current: Generation
  brokenBy: BrokenBarrierError | undefined = undefined
  readonly wait: Effect.Effect<number, BrokenBarrierError>
  readonly parties: number
  readonly action: Effect.Effect<unknown, unknown> | undefined

  readonly tracker: Tracker

  constructor(parties: number, action: Effect.Effect<unknown, unknown> | undefined, name: string | undefined) {
    this.parties = parties
    this.action = action
    this.tracker = new Tracker(this, "Barrier", name, barrierSource)
    this.current = this.fresh()
    this.wait = this.arrive(undefined)
    bindMethods(this, "waitFor")
  }

  private fresh(): Generation {
    const generation: Generation = { done: Deferred.makeUnsafe(), arrived: 0 }
    this.pending.add(generation)
    return generation
  }

  private release(generation: Generation): void {
    this.pending.delete(generation)
    Deferred.doneUnsafe(generation.done, Effect.void)
  }

  /** Fails every unreleased round with `error`; `broken` keeps the barrier broken. */
  private failAll(error: BrokenBarrierError, broken: boolean): void {
    if (broken && this.brokenBy === undefined) this.brokenBy = error
    else if (!broken) this.brokenBy = undefined
    const failed = Exit.fail(error)
    for (const generation of this.pending) Deferred.doneUnsafe(generation.done, failed)
    this.pending.clear()
    this.current = this.fresh()
  }

  private arrive(duration: Duration.Duration | undefined): Effect.Effect<number, BrokenBarrierError> {
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        if (this.brokenBy !== undefined) return Effect.fail(this.brokenBy)
        const generation = this.current
        const index = generation.arrived++
        if (generation.arrived === this.parties) {
          // Later arrivals start the next round, even while the action runs.
          this.current = this.fresh()
          return this.trip(generation, index, restore)
        }
        const outcome = Effect.as(Deferred.await(generation.done), index)
        const waiting: Effect.Effect<unknown, BrokenBarrierError> = duration === undefined
          ? outcome
          : Effect.timeoutOption(outcome, duration)
        return Effect.flatMap(Effect.exit(restore(this.tracker.waiting(waiting))), (exit) => {
          const interrupted = Exit.hasInterrupts(exit)
          if (!Deferred.isDoneUnsafe(generation.done)) {
            // Timed out or interrupted while the round was still open: it can
            // never complete, so the barrier breaks for everyone in it.
            this.failAll(new BrokenBarrierError({ reason: interrupted ? "interrupted" : "timeout" }), true)
          }
          return Exit.isFailure(exit) && interrupted ? Effect.failCause(exit.cause) : outcome
        })
      })
    )
  }

  /** The last party: runs the action, then releases (or breaks) the round. */
  private trip(
    generation: Generation,
    index: number,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  ): Effect.Effect<number, BrokenBarrierError> {
    const outcome = Effect.as(Deferred.await(generation.done), index)
    if (this.action === undefined) {
      this.release(generation)
      return outcome
    }
    return Effect.flatMap(Effect.exit(restore(this.action)), (exit) => {
      // A round already failed by `abort` or `reset` keeps that outcome.
      if (!Deferred.isDoneUnsafe(generation.done)) {
        if (Exit.isSuccess(exit)) {
          this.release(generation)
        } else if (Exit.isFailure(exit)) {
          const onlyInterrupted = Cause.hasInterruptsOnly(exit.cause)
          this.failAll(
            new BrokenBarrierError({
              reason: onlyInterrupted ? "interrupted" : "action failed",
              cause: Cause.squash(exit.cause)
            }),
            true
          )
        }
      }
      return Exit.isFailure(exit) && Exit.hasInterrupts(exit) ? Effect.failCause(Cause.interrupt()) : outcome
    })
  }

  waitFor(timeout: Duration.Input): Effect.Effect<number, BrokenBarrierError | InvalidArgumentError> {
    return Effect.flatMap(
      parseTimeout("Barrier.waitFor", timeout),
      (duration) => this.arrive(Duration.isFinite(duration) ? duration : undefined)
    )
  }

  readonly abort: Effect.Effect<void> = Effect.sync(() =>
    this.failAll(new BrokenBarrierError({ reason: "aborted" }), true)
  )

  readonly reset: Effect.Effect<void> = Effect.sync(() =>
    this.failAll(new BrokenBarrierError({ reason: "reset" }), false)
  )

  readonly waiting: Effect.Effect<number> = Effect.sync(() => {
    let n = 0
    for (const generation of this.pending) n += generation.arrived
    return n
  })

  readonly broken: Effect.Effect<boolean> = Effect.sync(() => this.brokenBy !== undefined)
}

/**
 * Creates a barrier for `parties` fibers (an integer >= 1, else
 * `InvalidArgumentError`). `action`, if given, runs once per round in the
 * last fiber to arrive, before the round is released; it runs with the
 * services of the fiber that made the barrier.
 *
 * @example
 * ```ts
 * // Three workers, three phases: the action runs once after each phase.
 * const barrier = yield* Barrier.make(3, Effect.log("phase done"))
 * const worker = (id: number) =>
 *   Effect.forEach([1, 2, 3], (phase) => Effect.andThen(Effect.log(`${id}: phase ${phase}`), barrier.wait))
 * yield* Effect.all([worker(1), worker(2), worker(3)], { concurrency: "unbounded" })
 *
 * yield* Barrier.make(0) // fails: InvalidArgumentError (parties must be an integer >= 1)
 * ```
 */
export const make = <R = never>(
  parties: number,
  action?: Effect.Effect<unknown, unknown, R>,
  options?: Options
): Effect.Effect<Barrier, InvalidArgumentError, R> =>
  Effect.suspend(() => {
    const bad = count("Barrier.make", "parties", parties, 1)
    if (bad) return Effect.fail(bad)
    const name = options?.name
    if (action === undefined) return Effect.succeed(new BarrierImpl(parties, undefined, name))
    return Effect.map(
      Effect.context<R>(),
      (context) => new BarrierImpl(parties, Effect.provideContext(action, context), name)
    )
  })

/**
 * Options of `make`.
 *
 * @example
 * ```ts
 * const phase = yield* Barrier.make(3, undefined, { name: "phase" })
 * ```
 */
export interface Options {
  /** Lists it by `Inspect.snapshot` with the fibers waiting in the current round. */
  readonly name?: string | undefined
}

// ---------------------------------------------------------------------------
// Module functions: the instance members as functions, for any scope's
// barrier (`manager.barrier(n)` too).

/**
 * `barrier.wait` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Barrier.make(1), Barrier.wait) // 0: one party, it passes at once
 * ```
 */
export const wait = (self: Pick<Barrier, "wait">): Effect.Effect<number, BrokenBarrierError> => self.wait

/**
 * `barrier.waitFor(timeout)`: `Barrier.waitFor(barrier, timeout)` or
 * `pipe(barrier, Barrier.waitFor(timeout))`.
 *
 * @example
 * ```ts
 * import { Effect, pipe } from "effect"
 * import { Barrier } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Barrier.make(2), (barrier) => Effect.flip(pipe(barrier, Barrier.waitFor(10)))) // BrokenBarrierError
 * ```
 */
export const waitFor: {
  (timeout: Duration.Input): (self: Pick<Barrier, "waitFor">) => Effect.Effect<number, BrokenBarrierError | InvalidArgumentError>
  (self: Pick<Barrier, "waitFor">, timeout: Duration.Input): Effect.Effect<number, BrokenBarrierError | InvalidArgumentError>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && "parties" in args[0],
  (self: Pick<Barrier, "waitFor">, timeout: Duration.Input) => self.waitFor(timeout)
)

/**
 * `barrier.abort` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Barrier.make(3), (barrier) => Effect.andThen(Barrier.abort(barrier), Barrier.broken(barrier))) // true
 * ```
 */
export const abort = (self: Pick<Barrier, "abort">): Effect.Effect<void> => self.abort

/**
 * `barrier.reset` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Barrier.make(3), Barrier.reset)
 * ```
 */
export const reset = (self: Pick<Barrier, "reset">): Effect.Effect<void> => self.reset

/**
 * `barrier.waiting` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Barrier.make(3), Barrier.waiting) // 0
 * ```
 */
export const waiting = (self: Pick<Barrier, "waiting">): Effect.Effect<number> => self.waiting

/**
 * `barrier.broken` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Barrier } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Barrier.make(3), Barrier.broken) // false
 * ```
 */
export const broken = (self: Pick<Barrier, "broken">): Effect.Effect<boolean> => self.broken
