/**
 * The manager's `event()`: a hosted `Event`. Nothing is held, so a dropped
 * connection gives nothing back; in the manager's own process it is the
 * fiber `Event` itself.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { InvalidArgumentError } from "../../errors.ts"
import * as Event from "../../Event.ts"
import { make } from "../kind.ts"
import type { Managed, Named } from "../Manager.ts"
import { encodeTimeout } from "../protocol.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted `Event`: `set` in one process wakes the waiters of every
   * process.
   *
   * @example
   * ```ts
   * declare const manager: Manager.Manager
   * const green = yield* manager.event()
   * yield* green.set
   * ```
   */
  event(options?: Named): Effect.Effect<Managed<"event">, InvalidArgumentError>
}

/** @internal */
export const kind = make<Factory>()({
  kind: "event",
  host: () => Event.make,
  ops: {
    set: (event) => event.set,
    clear: (event) => event.clear,
    isSet: (event) => event.isSet,
    wait: (event) => event.wait,
    waitFor: (event, [timeout]) => event.waitFor(timeout)
  },
  view: ({ invoke }): Event.Event => ({
    set: invoke("set", []),
    clear: invoke("clear", []),
    isSet: invoke("isSet", []),
    wait: invoke("wait", []),
    waitFor: (timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> =>
      invoke("waitFor", [encodeTimeout(timeout)])
  }),
  local: (event) => event
})
