/**
 * What a manager-hosted kind of primitive is: everything the manager's
 * server, its clients and `Manager` itself need to know about one kind, in
 * one object. Each kind lives in a file of its own under `kinds/`, and
 * `kinds.ts` lists them, one line each; the server, the client, `attach` and
 * the manager's factories only look a kind up.
 *
 * A kind says:
 * - how it is hosted (`host`: the fiber primitive and the server's books);
 * - its operations (`ops`), each run on behalf of one connection;
 * - whether its calls run in a per-(connection, client fiber) `Session`
 *   (`session`: the kinds owned by a fiber, as an `RLock` is);
 * - which replies the client must acknowledge, and how an unacknowledged one
 *   is given back (`acked`: a queue's gets);
 * - what `attach` reports (`info`);
 * - what a dropped connection gives back (`drop`);
 * - its interface in a client process (`view`) and in the manager's own
 *   process (`local`);
 * - what undoes an operation that won after its client was interrupted
 *   (`compensate`).
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as net from "node:net"
import type * as Scope from "effect/Scope"
import type { Party, State as Described } from "../inspect/Registry.ts"
import type * as PubSub from "../PubSub.ts"
import type * as RLock from "../RLock.ts"

/** Runs an operation of the primitive and gives its outcome. @internal */
export type Invoke = (op: string, args: ReadonlyArray<unknown>) => Effect.Effect<any>

/** Runs an operation without waiting for its outcome. @internal */
export type Cast = (op: string, args: ReadonlyArray<unknown>) => Effect.Effect<void>

/** How a client process reaches a hosted primitive. @internal */
export interface Remote {
  readonly invoke: Invoke
  readonly cast: Cast
  /** A pubsub's subscription: pushed messages land in a buffer of this process. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<unknown>, never, Scope.Scope>
}

/** A server fiber that runs one client fiber's calls on an owned primitive. @internal */
export interface SessionLike {
  readonly fiber: Fiber.Fiber<void>
  submit(job: unknown): void
  cancel(r: number): void
  ack(r: number): void
  drop(): void
}

/** One call in progress on the manager: for `Inspect`, a waiter while it lasts. @internal */
export interface Call {
  readonly hosted: Hosted
  readonly op: string
  /** The client's fiber id. */
  readonly fiber: number
  readonly since: number
}

/** A connected client, or `Local` for the manager's own process. @internal */
export interface Conn {
  readonly id: number
  readonly socket: net.Socket | undefined
  /** The client's process id, as it said in its `hello` (the manager's own for `Local`). */
  pid?: number | undefined
  /** Its calls in progress, by request id. */
  readonly calls: Map<number, Call>
  readonly running: Map<number, Fiber.Fiber<void>>
  /** Keyed by `${primitive id}:${client fiber id}`. */
  readonly sessions: Map<string, SessionLike>
  /** Replies that must be acknowledged (`acked` ops) and were not yet, by request id. */
  readonly unacked: Map<number, { readonly hosted: Hosted; readonly value: unknown }>
}

/** One hosted primitive: its kind and the state `host` made. @internal */
export interface Hosted<S = any> {
  readonly def: KindDef<any, S, any, any, any, any>
  readonly state: S
  /** The name it was made with, if any: its class for lock-order checking, and how `Inspect` lists it. */
  readonly name?: string | undefined
}

/** A holder or waiter on the manager, as `Inspect` shows it. @internal */
export const partyOf = (conn: Conn, fiber: number | undefined, since: number, permits?: number): Party => ({
  who: `pid ${conn.pid ?? "?"}${fiber === undefined ? "" : ` fiber #${fiber}`}`,
  pid: conn.pid,
  fiber,
  since,
  ...(permits === undefined ? {} : { permits })
})

/**
 * One kind of manager-hosted primitive.
 *
 * - `K`: its name (`handle.kind`);
 * - `S`: what the server keeps per primitive;
 * - `I`: the interface users get;
 * - `Args`: the manager factory's arguments;
 * - `Info`: what `attach` reports besides the kind;
 * - `F`: the `Manager` method that makes one, with its docs.
 *
 * @internal
 */
export interface KindDef<K extends string, S, I, Args extends ReadonlyArray<any>, Info extends object = {}, F = unknown> {
  readonly kind: K
  /** Only a type: the manager's factory method for this kind, with its docs (`Manager` extends them all). */
  readonly factory?: F
  /** Makes the primitive and its books (the manager factory's body). */
  readonly host: (...args: Args) => Effect.Effect<S, any>
  /** Its operations by name, each run with the call's arguments on behalf of `conn` (its fiber `fiber`). */
  readonly ops: {
    readonly [op: string]: (state: S, args: ReadonlyArray<any>, conn: Conn, fiber: number | undefined) => Effect.Effect<any, any>
  }
  /** Who holds it and its counts, from the server's books (`Inspect`); the waiters are the calls in progress. */
  readonly describe?: (state: S) => Omit<Described, "waiters">
  /** Set for kinds owned by a fiber: their calls run in a `Session` that owns this lock. */
  readonly session?: {
    readonly lock: (state: S) => RLock.RLock
    /** A reply to `op` with `value` hands the client something it must acknowledge (a notification). */
    readonly acked: (op: string, value: unknown) => boolean
    /** Passes on what an unacknowledged reply handed out (the client dropped before it saw it). */
    readonly passOn: (state: S) => Effect.Effect<void, any>
  }
  /** Replies to these ops are acknowledged; one never acknowledged is given back with `giveBack`. */
  readonly acked?: {
    readonly ops: ReadonlySet<string>
    readonly giveBack: (state: S, value: unknown) => Effect.Effect<void>
  }
  /** What `attach` reports besides the kind. */
  readonly info?: (state: S) => Info
  /** The connection is gone: give back what it held. */
  readonly drop?: (state: S, conn: Conn) => void
  /** The interface in a client process. */
  readonly view: (remote: Remote, info: Partial<Info>) => I
  /** The interface in the manager's own process; `run` goes through the same books as remote calls. */
  readonly local: (state: S, run: Invoke) => I
  /** What undoes an operation that won after its client was interrupted. */
  readonly compensate?: (
    op: string,
    args: ReadonlyArray<unknown>,
    value: unknown
  ) => { readonly op: string; readonly args: ReadonlyArray<unknown> } | undefined
}

/**
 * Makes a kind, checking its shape against `KindDef` while keeping its own
 * types.
 *
 * @internal
 */
export const make = <F>() =>
<K extends string, S, I, Args extends ReadonlyArray<any>, Info extends object = {}>(
  def: KindDef<K, S, I, Args, Info, F>
): KindDef<K, S, I, Args, Info, F> => def
