/**
 * The fiber interfaces rebuilt over one function, `invoke(op, args)`, that
 * runs an operation of a hosted primitive: in the manager's process it runs
 * it in place (with the manager's bookkeeping), in any other process it is a
 * remote call. `withLock` and `withPermits` are composed from acquire and
 * release here, so they are interruption-safe the same way at both ends.
 * So is a condition's `waitUntil`: a function cannot cross processes, so it
 * is Python's `wait_for` loop here, over remote `wait` / `waitFor`.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import {
  type BrokenBarrierError,
  InvalidArgumentError,
  NotHeldError,
  type QueueEmptyError,
  type QueueFullError,
  type QueueShutDownError,
  type SemaphoreOverflowError,
  type TaskDoneError
} from "../errors.ts"
import type * as Barrier from "../Barrier.ts"
import type * as Condition from "../Condition.ts"
import type * as Event from "../Event.ts"
import { waitUntil } from "../internal/waitUntil.ts"
import { stringify } from "../json.ts"
import type * as Lock from "../Lock.ts"
import type * as PubSub from "../PubSub.ts"
import type * as RLock from "../RLock.ts"
import type * as Queue from "../Queue.ts"
import type * as Semaphore from "../Semaphore.ts"
import { encodeTimeout } from "./protocol.ts"

/** @internal */
export type Invoke = (op: string, args: ReadonlyArray<unknown>) => Effect.Effect<any>

/** Runs an operation without waiting for its outcome; defaults to `invoke` ignoring it. @internal */
export type Cast = (op: string, args: ReadonlyArray<unknown>) => Effect.Effect<void>

const ignoring = (invoke: Invoke): Cast => (op, args) => Effect.ignore(invoke(op, args))

const guarded = <A, E, R>(
  acquire: Effect.Effect<void, any>,
  release: Effect.Effect<void, any>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(restore(acquire), () => Effect.onExit(restore(effect), () => Effect.ignore(release)))
  ) as Effect.Effect<A, E, R>

/** @internal */
export const lockView = (invoke: Invoke, cast: Cast = ignoring(invoke)): Lock.Lock => {
  const acquire: Effect.Effect<void> = invoke("acquire", [])
  const release: Effect.Effect<void, NotHeldError> = invoke("release", [])
  const releaseAfter = cast("release", [])
  return {
    acquire,
    tryAcquire: invoke("tryAcquire", []),
    acquireFor: (timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> =>
      invoke("acquireFor", [encodeTimeout(timeout)]),
    release,
    withLock: (effect) => guarded(acquire, releaseAfter, effect),
    locked: invoke("locked", [])
  }
}

/** @internal */
export const rlockView = (invoke: Invoke, cast: Cast = ignoring(invoke)): RLock.RLock => ({
  // An RLock's release may also fail NotOwnerError: the manager reports it.
  ...(lockView(invoke, cast) as Omit<Lock.Lock, "release">),
  release: invoke("release", []),
  isOwned: invoke("isOwned", [])
})

/** @internal */
export const semaphoreView = (invoke: Invoke, cast: Cast = ignoring(invoke)): Semaphore.Semaphore => ({
  acquire: (k = 1): Effect.Effect<void, InvalidArgumentError> => invoke("acquire", [k]),
  tryAcquire: (k = 1): Effect.Effect<boolean, InvalidArgumentError> => invoke("tryAcquire", [k]),
  acquireFor: (timeout: Duration.Input, k = 1): Effect.Effect<boolean, InvalidArgumentError> =>
    invoke("acquireFor", [encodeTimeout(timeout), k]),
  release: (k = 1): Effect.Effect<void, InvalidArgumentError | SemaphoreOverflowError> => invoke("release", [k]),
  withPermits: (k: number) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | InvalidArgumentError, R> =>
    guarded(invoke("acquire", [k]), cast("release", [k]), effect),
  available: invoke("available", [])
})

/** @internal */
export const eventView = (invoke: Invoke): Event.Event => ({
  set: invoke("set", []),
  clear: invoke("clear", []),
  isSet: invoke("isSet", []),
  wait: invoke("wait", []),
  waitFor: (timeout: Duration.Input): Effect.Effect<boolean, InvalidArgumentError> =>
    invoke("waitFor", [encodeTimeout(timeout)])
})

/** @internal */
export const barrierView = (invoke: Invoke, parties: number): Barrier.Barrier => ({
  wait: invoke("wait", []) as Effect.Effect<number, BrokenBarrierError>,
  waitFor: (timeout: Duration.Input): Effect.Effect<number, BrokenBarrierError | InvalidArgumentError> =>
    invoke("waitFor", [encodeTimeout(timeout)]),
  abort: invoke("abort", []),
  reset: invoke("reset", []),
  parties,
  waiting: invoke("waiting", []),
  broken: invoke("broken", [])
})

/** @internal */
export const conditionView = (invoke: Invoke, cast: Cast = ignoring(invoke)): Condition.Condition => {
  const acquire: Effect.Effect<void> = invoke("acquire", [])
  const releaseAfter = cast("release", [])
  const wait: Effect.Effect<void, NotHeldError> = invoke("wait", [])
  const waitFor = (timeout: Duration.Input): Effect.Effect<boolean, NotHeldError | InvalidArgumentError> =>
    invoke("waitFor", [encodeTimeout(timeout)])
  const isOwned: Effect.Effect<boolean> = invoke("isOwned", [])
  return {
    acquire,
    release: invoke("release", []),
    withLock: (effect) => guarded(acquire, releaseAfter, effect),
    wait,
    waitFor,
    // Python's `wait_for`, here: the predicate runs in this process, between
    // remote waits, with the remaining time measured on this process's Clock.
    waitUntil: <E = never, R = never>(
      predicate: (() => boolean) | Effect.Effect<boolean, E, R>,
      timeout?: Duration.Input
    ): Effect.Effect<boolean, E | NotHeldError | InvalidArgumentError, R> =>
      waitUntil(predicate, timeout, isOwned, (left) => left === undefined ? wait : waitFor(left)),
    notify: (n = 1): Effect.Effect<void, NotHeldError | InvalidArgumentError> => invoke("notify", [n]),
    notifyAll: invoke("notifyAll", [])
  }
}

/**
 * An item as it travels: a JSON copy, so that a getter in any process gets
 * what `JSON.parse` gives. A value JSON cannot carry is a defect (the
 * interface's `put` has no error for it), as in `SharedQueue`.
 */
const jsonItem = (operation: string, item: unknown, kind = "queue"): Effect.Effect<unknown> =>
  Effect.suspend(() => {
    const json = stringify(`manager ${kind}.${operation}`, item)
    return typeof json === "string" ? Effect.succeed(JSON.parse(json)) : Effect.die(json)
  })

const itemOf = (taken: { readonly item: unknown }): unknown => taken.item

/** @internal */
export const queueView = (invoke: Invoke, maxsize: number): Queue.Queue<unknown> => ({
  maxsize,
  put: (item): Effect.Effect<void, QueueShutDownError> =>
    Effect.flatMap(jsonItem("put", item), (copy) => invoke("put", [copy])),
  putNowait: (item): Effect.Effect<void, QueueFullError | QueueShutDownError> =>
    Effect.flatMap(jsonItem("putNowait", item), (copy) => invoke("putNowait", [copy])),
  putFor: (item, timeout): Effect.Effect<void, QueueFullError | QueueShutDownError | InvalidArgumentError> =>
    Effect.flatMap(jsonItem("putFor", item), (copy) => invoke("putFor", [copy, encodeTimeout(timeout)])),
  get: Effect.map(invoke("get", []), itemOf) as Effect.Effect<unknown, QueueShutDownError>,
  getNowait: Effect.map(invoke("getNowait", []), itemOf) as Effect.Effect<unknown, QueueEmptyError | QueueShutDownError>,
  getFor: (timeout): Effect.Effect<unknown, QueueEmptyError | QueueShutDownError | InvalidArgumentError> =>
    Effect.map(invoke("getFor", [encodeTimeout(timeout)]), itemOf),
  size: invoke("size", []),
  isEmpty: invoke("isEmpty", []),
  isFull: invoke("isFull", []),
  taskDone: invoke("taskDone", []) as Effect.Effect<void, TaskDoneError>,
  join: invoke("join", []),
  shutdown: (options) => invoke("shutdown", [options?.immediate === true])
})

/**
 * A pubsub: `publish` sends a JSON copy through `invoke` (the manager fans it
 * out to every subscriber, in publish order); `subscribe` is the local
 * buffer fed by the manager (remote) or the manager's own hub (local).
 *
 * @internal
 */
export const pubsubView = (
  invoke: Invoke,
  subscribe: Effect.Effect<PubSub.Subscription<unknown>, never, Scope.Scope>
): PubSub.PubSub<unknown> => ({
  publish: (message) => Effect.flatMap(jsonItem("publish", message, "pubsub"), (copy) => invoke("publish", [copy])),
  subscribe
})

/**
 * What an interrupted call must undo when its `ok` reply won the race with
 * the `cancel`: the operations that take something.
 *
 * @internal
 */
export const compensation = (
  kind: string,
  op: string,
  args: ReadonlyArray<unknown>,
  value: unknown
): { readonly op: string; readonly args: ReadonlyArray<unknown> } | undefined => {
  if (kind === "queue") {
    // A get that won: the item goes back to its place in the queue.
    return op === "get" || op === "getNowait" || op === "getFor"
      ? { op: "restore", args: [(value as { readonly seq: number }).seq] }
      : undefined
  }
  if (kind === "condition" && (op === "wait" || (op === "waitFor" && value === true))) {
    // Notified, then interrupted: as at fiber scope, the notification goes
    // on to the next waiter (the lock is held again either way).
    return { op: "passOn", args: [] }
  }
  const took = op === "acquire" || ((op === "tryAcquire" || op === "acquireFor") && value === true)
  if (!took) return undefined
  if (kind === "lock" || kind === "rlock" || kind === "condition") return { op: "release", args: [] }
  if (kind === "semaphore") return { op: "release", args: [op === "acquireFor" ? args[1] ?? 1 : args[0] ?? 1] }
  return undefined
}
