/**
 * Publish / subscribe: every subscriber gets every message published after it
 * subscribed, in publish order. A chat relay is exactly this.
 *
 * What Effect gives: `PubSub` (unbounded here) and its scoped subscriptions.
 * What Weft adds: the one small interface that the other scopes share
 * (`manager.pubsub()` between processes, `cluster.pubsub(name)` across
 * machines), a timed `takeFor`, and a `takeAll` that never waits.
 *
 * Scopes: fiber (this module); processes: `manager.pubsub()`; machines:
 * `cluster.pubsub(name)` in `@weft/cluster`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PubSub } from "@weft/primitives"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const room = yield* PubSub.make<string>()
 *   const alice = yield* room.subscribe
 *   yield* room.publish("hello")
 *   yield* room.publish("world")
 *   return yield* alice.takeAll // ["hello", "world"]
 * }))
 * ```
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as EffectPubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import type { InvalidArgumentError } from "./errors.ts"
import { type Source, Tracker } from "./internal/track.ts"
import { timeout as parseTimeout } from "./validate.ts"

/**
 * The publish side, shared by every scope: `PubSub.make`, a manager's
 * `pubsub()` and a cluster's `pubsub(name)` implement it.
 *
 * @example
 * ```ts
 * const announce = (room: PubSub.PubSub<string>) => room.publish("doors open")
 * ```
 */
export interface PubSub<A> {
  /** Sends `message` to every current subscriber. Never waits for them. */
  publish(message: A): Effect.Effect<void>
  /**
   * A subscription that receives every message published from now on, until
   * its scope closes.
   */
  readonly subscribe: Effect.Effect<Subscription<A>, never, Scope.Scope>
}

/**
 * One subscriber's view: the messages published since it subscribed, in
 * publish order.
 *
 * @example
 * ```ts
 * const next = (sub: PubSub.Subscription<string>) => sub.takeFor("1 second") // Option<string>
 * ```
 */
export interface Subscription<A> {
  /** The next message, waiting for one if none is buffered. */
  readonly take: Effect.Effect<A>
  /** The next message, waiting at most `timeout`; `None` when the time runs out. */
  takeFor(timeout: Duration.Input): Effect.Effect<Option.Option<A>, InvalidArgumentError>
  /** Every message buffered now, oldest first (maybe none). Never waits. */
  readonly takeAll: Effect.Effect<ReadonlyArray<A>>
}

/**
 * A subscription over a source of messages, built once for every scope: a
 * `take` and a `takeAll` that never waits; `takeFor` is derived.
 *
 * @internal
 */
export const subscriptionOf = <A>(
  operation: string,
  take: Effect.Effect<A>,
  takeAll: Effect.Effect<ReadonlyArray<A>>
): Subscription<A> => ({
  take,
  takeFor: (timeout) =>
    Effect.flatMap(parseTimeout(`${operation}.takeFor`, timeout), (duration) => Effect.timeoutOption(take, duration)),
  takeAll
})

/**
 * Creates an unbounded pubsub: a subscriber that falls behind buffers what it
 * has not taken yet (memory grows with it).
 *
 * @example
 * ```ts
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const news = yield* PubSub.make<number>()
 *   const sub = yield* news.subscribe
 *   yield* news.publish(1)
 *   yield* sub.take // 1
 * }))
 * ```
 */
export const make = <A>(options?: Options): Effect.Effect<PubSub<A>> =>
  Effect.map(EffectPubSub.unbounded<A>(), (pubsub) => new PubSubImpl(pubsub, options?.name))

// Module-level, so that no closure keeps the pubsub alive from the registry.
const pubsubSource: Source<{ readonly subscribers: number }> = { counts: (self) => ({ subscribers: self.subscribers }) }

class PubSubImpl<A> implements PubSub<A> {
  subscribers = 0
  readonly tracker: Tracker
  readonly publish: (message: A) => Effect.Effect<void>
  readonly subscribe: Effect.Effect<Subscription<A>, never, Scope.Scope>

  constructor(pubsub: EffectPubSub.PubSub<A>, name: string | undefined) {
    const tracker = this.tracker = new Tracker(this, "PubSub", name, pubsubSource)
    this.publish = (message) => Effect.asVoid(EffectPubSub.publish(pubsub, message))
    this.subscribe = Effect.map(
      Effect.tap(EffectPubSub.subscribe(pubsub), () =>
        Effect.acquireRelease(Effect.sync(() => this.subscribers++), () => Effect.sync(() => this.subscribers--))),
      (subscription) =>
        subscriptionOf("PubSub", tracker.waiting(EffectPubSub.take(subscription)), EffectPubSub.takeUpTo(subscription, Number.MAX_SAFE_INTEGER))
    )
  }
}

/**
 * Options of `make`.
 *
 * @example
 * ```ts
 * const news = yield* PubSub.make<string>({ name: "news" })
 * ```
 */
export interface Options {
  /** Lists it by `Inspect.snapshot` with its subscribers and those waiting in `take`. */
  readonly name?: string | undefined
}
