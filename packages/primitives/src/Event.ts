/**
 * A flag that fibers wait on — Python's `threading.Event`.
 *
 * What Effect gives: `Latch` is this flag (`open`, `close`, `await`,
 * `isOpen`), interruption-safe, with no timed wait. What Weft adds: the Python
 * names and `waitFor(timeout)`. Waiting is built on `Latch.await`, so a
 * waiter that is interrupted or times out simply stops waiting: an event holds
 * nothing that could leak.
 *
 * Scopes: fiber (this module); worker threads: `SharedEvent`; processes:
 * `manager.event()`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "@weft/primitives"
 *
 * // The traffic light from the tutorial: cars wait while the light is red.
 * const program = Effect.gen(function*() {
 *   const green = yield* Event.make
 *   const car = (n: number) => Effect.andThen(green.wait, Effect.log(`car ${n} drives`))
 *   yield* Effect.forkChild(Effect.forEach([1, 2, 3], car, { concurrency: "unbounded" }))
 *   yield* Effect.sleep("3 seconds") // red
 *   yield* green.set // every waiting car drives
 * })
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import { dual } from "effect/Function"
import type { InvalidArgumentError } from "./errors.ts"
import { bindMethods } from "./internal/bind.ts"
import { type Source, Tracker } from "./internal/track.ts"
import { within } from "./internal/within.ts"

/**
 * The event interface, shared by every scope: `Event`, `SharedEvent` and a
 * manager's `event()` implement it.
 *
 * @example
 * ```ts
 * const waitGreen = (light: Event.Event) => light.waitFor("10 seconds")
 * ```
 */
export interface Event {
  /** Sets the flag and wakes every waiter; later waits return at once. */
  readonly set: Effect.Effect<void>
  /** Clears the flag; later waits block until the next `set`. */
  readonly clear: Effect.Effect<void>
  /** Whether the flag is set. */
  readonly isSet: Effect.Effect<boolean>
  /** Waits until the flag is set (at once if it is). */
  readonly wait: Effect.Effect<void>
  /** Waits at most `timeout`; `true` if the flag was set in time (Python's `wait(timeout)`). */
  waitFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError>
}

// Module-level, so that no closure of the constructor keeps the event alive from the registry.
const eventSource: Source<EventImpl> = { counts: (self) => ({ set: self.latch.isOpen() ? 1 : 0 }) }

class EventImpl implements Event {
  readonly latch = Latch.makeUnsafe(false)
  readonly tracker: Tracker
  readonly wait: Effect.Effect<void>

  constructor(name: string | undefined) {
    const latch = this.latch
    this.tracker = new Tracker(this, "Event", name, eventSource)
    this.wait = this.tracker.waiting(latch.await)
    bindMethods(this, "waitFor")
  }

  readonly set: Effect.Effect<void> = Effect.asVoid(this.latch.open)
  readonly clear: Effect.Effect<void> = Effect.asVoid(this.latch.close)
  readonly isSet: Effect.Effect<boolean> = Effect.sync(() => this.latch.isOpen())

  waitFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return within("Event.waitFor", timeout, this.tracker.waiting(this.latch.await), () => this.latch.isOpen())
  }
}

/**
 * Creates an event whose flag is clear.
 *
 * @example
 * ```ts
 * const ready = yield* Event.make
 * yield* ready.set
 * yield* ready.isSet // true
 * ```
 */
export const make: Effect.Effect<Event> = Effect.sync(() => new EventImpl(undefined))

/**
 * Creates a clear event with a name: listed by `Inspect.snapshot` with the
 * fibers waiting for it and how long they have waited.
 *
 * @example
 * ```ts
 * const ready = yield* Event.named("config loaded")
 * ```
 */
export const named = (name: string): Effect.Effect<Event> => Effect.sync(() => new EventImpl(name))

// ---------------------------------------------------------------------------
// Module functions: the instance members as functions, for any scope's event
// (`SharedEvent` and `manager.event()` too).

/**
 * `event.set` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const ready = yield* Event.make
 *   yield* Event.set(ready)
 *   return yield* Event.isSet(ready) // true
 * })
 * ```
 */
export const set = (self: Pick<Event, "set">): Effect.Effect<void> => self.set

/**
 * `event.clear` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Event.make, Event.clear)
 * ```
 */
export const clear = (self: Pick<Event, "clear">): Effect.Effect<void> => self.clear

/**
 * `event.isSet` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Event.make, Event.isSet) // false
 * ```
 */
export const isSet = (self: Pick<Event, "isSet">): Effect.Effect<boolean> => self.isSet

/**
 * `event.wait` as a function.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "@weft/primitives"
 *
 * const program = Effect.gen(function*() {
 *   const ready = yield* Event.make
 *   yield* Event.set(ready)
 *   yield* Event.wait(ready) // returns at once
 * })
 * ```
 */
export const wait = (self: Pick<Event, "wait">): Effect.Effect<void> => self.wait

/**
 * `event.waitFor(timeout)`: `Event.waitFor(event, timeout)` or
 * `pipe(event, Event.waitFor(timeout))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "@weft/primitives"
 *
 * const program = Effect.flatMap(Event.make, Event.waitFor("10 millis")) // false
 * ```
 */
export const waitFor: {
  (timeout: Duration.Input): (self: Pick<Event, "waitFor">) => Effect.Effect<boolean, InvalidArgumentError>
  (self: Pick<Event, "waitFor">, timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && "waitFor" in args[0],
  (self: Pick<Event, "waitFor">, timeout: Duration.Input) => self.waitFor(timeout)
)
