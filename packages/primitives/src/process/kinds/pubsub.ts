/**
 * The manager's `pubsub()`: a hosted `PubSub`. The manager pushes each
 * message to every subscribed connection as it is published, into a buffer
 * in that process; a dropped connection's subscriptions end.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as PubSub from "../../PubSub.ts"
import { type Conn, make, type Remote } from "../kind.ts"
import type { Handle, Named } from "../Manager.ts"
import type { InvalidArgumentError } from "../../errors.ts"
import { send } from "../protocol.ts"
import { jsonItem } from "./support.ts"

/** The manager's factory for this kind. */
export interface Factory {
  /**
   * A hosted `PubSub` (unbounded): every subscriber, in any process, gets
   * every message published after it subscribed, in publish order. The
   * manager pushes each message to each subscribed process as it is
   * published, into a buffer in that process, so a `take` that is interrupted
   * loses nothing. Messages cross as JSON, as queue items do (a value JSON
   * cannot carry makes `publish` die with an `InvalidArgumentError`). A
   * process that disconnects stops receiving; messages published meanwhile
   * are not kept for it.
   *
   * @example
   * ```ts
   * // manager's process: hand `room.handle` to the other processes
   * declare const manager: Manager.Manager
   * const room = yield* manager.pubsub<string>()
   * yield* room.publish("hello")
   *
   * // any process
   * declare const handle: Manager.Handle<"pubsub">
   * const chat = (yield* Manager.attach(handle)) as PubSub.PubSub<string>
   * const sub = yield* chat.subscribe // scoped
   * const line = yield* sub.take
   * ```
   */
  pubsub<A = unknown>(options?: Named): Effect.Effect<PubSub.PubSub<A> & { readonly handle: Handle<"pubsub"> }, InvalidArgumentError>
}

/** What the server keeps per primitive. @internal */
export interface State {
  /** The local hub: the manager's own process subscribes to it directly. */
  readonly prim: PubSub.PubSub<unknown>
  /** Remote subscriptions, keyed by `${conn id}:${subscription id}`; each gets every message pushed as `msg`. */
  readonly remote: Map<string, { readonly conn: Conn; readonly s: number }>
}

/** The interface over remote calls. */
const view = ({ invoke, subscribe }: Remote): PubSub.PubSub<unknown> => ({
  publish: (message) => Effect.flatMap(jsonItem("publish", message, "pubsub"), (copy) => invoke("publish", [copy])),
  subscribe
})

/** @internal */
export const kind = make<Factory>()({
  kind: "pubsub",
  host: () => Effect.map(PubSub.make<unknown>(), (prim): State => ({ prim, remote: new Map() })),
  ops: {
    // In one step, so every subscriber, local or remote, sees the messages
    // in the order they were published.
    publish: (state, [message]) =>
      Effect.suspend(() => {
        for (const { conn, s } of state.remote.values()) {
          if (conn.socket !== undefined) send(conn.socket, { t: "msg", s, v: message })
        }
        return state.prim.publish(message)
      }),
    // The client chose the id, so its buffer exists before the first message.
    subscribe: (state, [s], conn) => Effect.sync(() => void state.remote.set(`${conn.id}:${s}`, { conn, s })),
    unsubscribe: (state, [s], conn) => Effect.sync(() => void state.remote.delete(`${conn.id}:${s}`))
  },
  drop: (state, conn) => {
    for (const [key, sub] of state.remote) if (sub.conn === conn) state.remote.delete(key)
  },
  view,
  // Published through the same JSON copy as remote calls; subscribed to the hub directly.
  local: (state, run) => view({ invoke: run, cast: () => Effect.void, subscribe: state.prim.subscribe })
})
