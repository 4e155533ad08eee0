/**
 * A flag that worker threads wait on, over a `SharedArrayBuffer` — Python's
 * `threading.Event` between real threads.
 *
 * What Effect gives: nothing at this scope (Effect has no SharedArrayBuffer
 * primitive; its `Latch` is this flag for fibers of one thread). What Weft
 * adds: the `Event` interface across `node:worker_threads` workers, with a
 * `handle` and `SharedEvent.attach(handle)`.
 *
 * `set` raises the flag, bumps a generation word and notifies every waiter of
 * every thread; a waiter sleeps in `Atomics.waitAsync` on the generation (never
 * `Atomics.wait`), with its thread kept alive meanwhile. As in Python, a
 * waiter woken by a `set` returns even if another thread `clear`s the flag
 * before the waiter runs. An event holds nothing, so an interrupted or
 * timed-out waiter (or a terminated thread) cannot leave anything behind.
 *
 * Scopes: fiber: `Event`; worker threads: this module; processes:
 * `manager.event()`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { SharedEvent } from "@weft/primitives"
 *
 * // The traffic light at thread scope: cars (workers) wait for green.
 * const program = Effect.gen(function*() {
 *   const green = yield* SharedEvent.make
 *   for (let i = 0; i < 3; i++) new Worker(new URL("./car.ts", import.meta.url), { workerData: green.handle })
 *   yield* Effect.sleep("3 seconds") // red
 *   yield* green.set // every waiting car drives
 * })
 *
 * // car.ts
 * const car = Effect.gen(function*() {
 *   const green = yield* SharedEvent.attach(workerData)
 *   yield* green.wait
 *   yield* Effect.log("drive")
 * })
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { InvalidArgumentError } from "../errors.ts"
import type * as Event from "../Event.ts"
import { bindMethods } from "../internal/bind.ts"
import { within } from "../internal/within.ts"
import * as Registry from "../inspect/Registry.ts"
import { checkHandle, checkName, type Handle as AnyHandle, handleOf, hold, Kind, nameOf, unhold, waitOn } from "./internal/futex.ts"

const FLAG = 1
const GEN = 2
const BYTES = 16
/** A wait re-arms this often (ms), so an abandoned `waitAsync` expires soon. */
const TICK = 1000

/**
 * What crosses threads: structured-cloneable, turned back into an event with
 * `SharedEvent.attach`.
 *
 * @example
 * ```ts
 * declare const event: SharedEvent.SharedEvent
 * declare const worker: Worker
 * worker.postMessage(event.handle satisfies SharedEvent.Handle)
 * ```
 */
export type Handle = AnyHandle<"SharedEvent">

/**
 * An `Event` shared between worker threads, plus its `handle`.
 *
 * @example
 * ```ts
 * const waitGreen = (light: Event.Event) => light.waitFor("10 seconds")
 * yield* waitGreen(yield* SharedEvent.make) // a SharedEvent is an Event
 * ```
 */
export interface SharedEvent extends Event.Event {
  /** Pass this to another thread and `attach` it there. */
  readonly handle: Handle
}

class SharedEventImpl implements SharedEvent {
  readonly handle: Handle
  readonly array: Int32Array

  constructor(array: Int32Array, name: string | undefined) {
    this.array = array
    this.handle = handleOf("SharedEvent", array.buffer, name)
    bindMethods(this, "waitFor")
    Registry.register(this, { kind: "SharedEvent", scope: "thread", name }, () => ({
      holders: [],
      waiters: [],
      counts: { set: Atomics.load(array, FLAG) }
    }))
  }

  readonly set: Effect.Effect<void> = Effect.sync(() => {
    const a = this.array
    if (Atomics.compareExchange(a, FLAG, 0, 1) === 0) {
      Atomics.add(a, GEN, 1)
      Atomics.notify(a, GEN)
    }
  })

  readonly clear: Effect.Effect<void> = Effect.sync(() => {
    Atomics.store(this.array, FLAG, 0)
  })

  readonly isSet: Effect.Effect<boolean> = Effect.sync(() => Atomics.load(this.array, FLAG) === 1)

  /** Sleeps until the generation moves past the one seen before the flag was checked. */
  private readonly sleep: Effect.Effect<void> = Effect.callback<void>((resume) => {
    const a = this.array
    const gen = Atomics.load(a, GEN)
    if (Atomics.load(a, FLAG) === 1) return resume(Effect.void)
    let done = false
    hold()
    const finish = () => {
      if (done) return
      done = true
      unhold()
    }
    const onWake = (): void => {
      if (done) return
      if (Atomics.load(a, GEN) !== gen || Atomics.load(a, FLAG) === 1) {
        finish()
        return resume(Effect.void)
      }
      if (!waitOn(a, GEN, gen, TICK, onWake)) onWake()
    }
    if (!waitOn(a, GEN, gen, TICK, onWake)) {
      finish()
      return resume(Effect.void)
    }
    return Effect.sync(finish)
  })

  readonly wait: Effect.Effect<void> = this.sleep

  waitFor(timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> {
    return Effect.suspend(() =>
      Atomics.load(this.array, FLAG) === 1 ? Effect.succeed(true) : within("SharedEvent.waitFor", timeout, this.sleep)
    )
  }
}

/**
 * Creates a shared event whose flag is clear.
 *
 * @example
 * ```ts
 * const ready = yield* SharedEvent.make
 * yield* ready.set
 * yield* ready.isSet // true, in every thread that attached it
 * ```
 */
export const make: Effect.Effect<SharedEvent> = Effect.sync(() => makeNamed(undefined))

const makeNamed = (name: string | undefined): SharedEvent => {
  const array = new Int32Array(new SharedArrayBuffer(BYTES))
  Atomics.store(array, 0, Kind.SharedEvent)
  return new SharedEventImpl(array, name)
}

/**
 * `make` with a name: `Inspect.snapshot` lists the event under it in every
 * thread that made or attached it. Fails with `InvalidArgumentError` for a
 * name that is not a string of 1 to 200 characters.
 *
 * @example
 * ```ts
 * const ready = yield* SharedEvent.named("ready")
 * ```
 */
export const named = (name: string): Effect.Effect<SharedEvent, InvalidArgumentError> =>
  Effect.suspend(() => {
    const bad = checkName("SharedEvent.named", name)
    return bad === undefined ? Effect.succeed(makeNamed(name)) : Effect.fail(bad)
  })

/**
 * Uses, in this thread, the event whose `handle` another thread sent. Fails
 * with `InvalidArgumentError` when `handle` is not a `SharedEvent` handle.
 *
 * @example
 * ```ts
 * const green = yield* SharedEvent.attach(workerData)
 * yield* green.wait
 * ```
 */
export const attach = (handle: Handle): Effect.Effect<SharedEvent, InvalidArgumentError> =>
  Effect.suspend(() => {
    const checked = checkHandle("SharedEvent", handle, BYTES)
    return checked instanceof Int32Array ? Effect.succeed(new SharedEventImpl(checked, nameOf(handle))) : Effect.fail(checked)
  })
