/**
 * The chat on several machines (`--cluster URL`): every instance keeps a
 * replica of the one `Registry`, fed by the log on PostgreSQL (`log.ts`) in
 * one order, so every instance takes the same decisions: a nick taken once,
 * a room's lines in one order, `/who` and `/rooms` across machines. The
 * primary talks to it through the same `Sequencer` seam as to a local
 * registry: a hub's message is appended to the log and applied (on every
 * instance) when it comes back; each instance delivers only to its own hubs.
 *
 * - **Liveness.** An instance holds, for its whole life, a `@weft/cluster`
 *   lock named for its id. Every instance checks the others' locks each
 *   second; one found free (killed, cut off) is appended `gone`, and its users
 *   leave every replica: their nicks are free.
 * - **Partition.** Cut off from the database, the instance's lease gives the
 *   lock up (`LockLostError`, within half of `partitionTimeout`), before the
 *   server frees it: the instance tells its clients the chat is unavailable,
 *   closes them, and joins again, as a new instance, once the server answers.
 *   Its appends carry a deadline, so nothing sent meanwhile lands later.
 *
 * @example
 * const sequencer = yield* Clustered.make({ url, deliver, kickAll, log: console.log })
 * sequencer.open(1, 7, "plain", undefined)
 */
import { randomUUID } from "node:crypto"
import { Cluster } from "@weft/cluster"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Log from "./log.ts"
import type { Command, FromHub, Proto, RoomInfo, ToHub } from "./messages.ts"
import { Registry, type RegistrySnapshot } from "./registry.ts"

/**
 * What the primary asks of the registry: the seam between the hubs and one
 * local `Registry`, or the cluster's replicas of it.
 */
export interface Sequencer {
  open(endpoint: number, conn: number, proto: Proto, nick: string | undefined, username?: string, realname?: string): void
  command(endpoint: number, conn: number, cmd: Command): void
  close(endpoint: number, conn: number, reason: string): void
  dropEndpoint(endpoint: number, reason: string): void
  readonly userCount: number
  roomList(): Array<RoomInfo>
  readonly messages: number
}

/** What a sender is told of a line the database did not take in time. */
export const NOT_DELIVERED = "not delivered: the chat's database did not answer in time; send it again"

/** The line a client of a cut-off instance gets before it is closed. */
export const UNAVAILABLE = "the chat is unavailable (this server lost its database); try again shortly"

export interface ClusterOptions {
  readonly url: string
  readonly quietAbove: number
  readonly serverName?: string | undefined
  /** Delivers to this instance's own hubs (endpoints as the primary numbers them). */
  readonly deliver: (endpoints: ReadonlyArray<number>, message: ToHub) => void
  /** Every local hub, to close all their clients. */
  readonly endpoints: () => ReadonlyArray<number>
  /** Bounds how long a cut-off instance is taken for alive (default 12 s); see @weft/cluster. */
  readonly partitionTimeout?: number | undefined
  readonly log: (line: string) => void
}

/** How many entries between snapshots (`WEFT_CHAT_SNAPSHOT_EVERY` in tests). */
const snapshotEvery = Number(process.env.WEFT_CHAT_SNAPSHOT_EVERY) || 10_000

/** A snapshot: the registry, and the instances alive then. */
interface Saved {
  readonly registry: RegistrySnapshot
  readonly nodes: ReadonlyArray<readonly [number, string]>
}

/** A replica's endpoint: the instance's number (its `hello` entry) and its hub, in one number. */
const SPAN = 1_000_000
const nodeOf = (endpoint: number) => Math.floor(endpoint / SPAN)

type Entry =
  | { readonly k: "hello"; readonly id: string; readonly t: number }
  | { readonly k: "gone"; readonly node: number; readonly t: number }
  | { readonly k: "hub"; readonly n: number; readonly e: number; readonly m: FromHub | { readonly t: "drop"; readonly reason: string }; readonly t: number }

/** Whether the cluster sequencer is serving, and what the primary's `/health` says. */
export type Status = "joining" | "up" | "down"

/**
 * Joins the chat at `options.url` and keeps joining it after a partition, until the scope closes.
 * Resolves once this instance is part of the chat; fails when it cannot be at first.
 *
 * @example
 * const sequencer = yield* make({ url, quietAbove: 50, deliver, endpoints: () => [0, 1, 2], log })
 */
export const make = (options: ClusterOptions): Effect.Effect<Sequencer & { readonly status: () => Status }, Error, Scope.Scope> =>
  Effect.gen(function*() {
    let status: Status = "joining"
    /** This instance's number in the log, while up. */
    let node = -1
    let clock = 0
    let registry = fresh()
    let log: Log.Log | undefined

    function fresh() {
      return new Registry({
        quietAbove: options.quietAbove,
        serverName: options.serverName,
        clock: () => Math.floor(clock / 1000),
        deliver: (endpoints, message) => {
          const local: Array<number> = []
          for (const endpoint of endpoints) if (nodeOf(endpoint) === node) local.push(endpoint % SPAN)
          if (local.length > 0) options.deliver(local, message)
        }
      })
    }

    const append = (entry: Entry) => {
      if (status !== "up" || log === undefined) return
      log.append(entry).then((seq) => {
        // Refused for its deadline (the database too slow to answer): its sender is told, nobody saw it.
        if (seq !== undefined || entry.k !== "hub" || entry.m.t !== "cmd") return
        options.deliver([entry.e], { t: "r", c: entry.m.c, r: { r: "error", code: "cannot-send", arg: "", text: NOT_DELIVERED, quiet: false } })
      }, () => {})
    }
    const hub = (e: number, m: Extract<Entry, { k: "hub" }>["m"]) => append({ k: "hub", n: node, e, m, t: Date.now() })

    const session = (joined: Deferred.Deferred<void, Error>) =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.connect({ url: options.url, connectTimeout: "5 seconds", partitionTimeout: `${options.partitionTimeout ?? 12_000} millis` })
        const opened = yield* Log.open(options.url)
        const id = randomUUID()
        const mine = yield* cluster.lock(`weft-chat:${id}`)
        const held = yield* Deferred.make<void>()
        const lost = yield* Deferred.make<string>()
        // Held for the instance's whole life here: the body ends only when the lease gives it up.
        const holder = yield* Effect.forkScoped(mine.withLock(Effect.andThen(Deferred.succeed(held, undefined), Effect.never)))
        yield* Effect.forkScoped(Effect.andThen(Fiber.await(holder), Deferred.succeed(lost, "its liveness lock was lost")))
        yield* Deferred.await(held)

        // The replica: the latest snapshot, then every entry after it, in order.
        let nodes = new Map<number, string>()
        registry = fresh()
        let me = -1
        let since = 0
        const start = (_seq: number, saved: Saved) => {
          registry.restore(saved.registry)
          nodes = new Map(saved.nodes)
        }
        const caughtUp = yield* Deferred.make<void>()
        const apply = (seq: number, entry: Entry) => {
          clock = entry.t
          switch (entry.k) {
            case "hello":
              nodes.set(seq, entry.id)
              if (entry.id === id) me = seq
              break
            case "gone":
              // The others took this instance for gone (a stall past its lease): it is not part of the chat.
              if (entry.node === node) Deferred.doneUnsafe(lost, Effect.succeed("the others took it for gone"))
              if (!nodes.delete(entry.node)) break
              for (const endpoint of registry.endpoints()) {
                if (nodeOf(endpoint) === entry.node) registry.dropEndpoint(endpoint, "left (their server is gone)")
              }
              break
            case "hub": {
              // An instance taken for gone says nothing more (its late lines are not shown).
              if (!nodes.has(entry.n)) break
              const endpoint = entry.n * SPAN + entry.e
              const m = entry.m
              if (m.t === "open") registry.open(endpoint, m.c, m.proto, m.nick, m.user, m.real)
              else if (m.t === "cmd") registry.command(endpoint, m.c, m.cmd)
              else if (m.t === "close") registry.close(endpoint, m.c, m.reason)
              else if (m.t === "drop") registry.dropEndpoint(endpoint, m.reason)
              break
            }
          }
          if (me !== -1 && seq >= me && node !== me) {
            node = me
            Deferred.doneUnsafe(caughtUp, Effect.void)
          }
          // Every so many entries, the oldest instance saves the state: the log stays bounded.
          if (++since >= snapshotEvery) {
            since = 0
            if (node !== -1 && node === Math.min(...nodes.keys())) {
              const saved: Saved = { registry: registry.snapshot(), nodes: [...nodes] }
              opened.snapshot(seq, saved).catch(() => {})
            }
          }
        }
        yield* Effect.tryPromise({
          try: () => opened.follow(start, apply, (error) => Deferred.doneUnsafe(lost, Effect.succeed(`the log was lost: ${(error as Error).message}`))),
          catch: (error) => new Error(`cannot follow the chat's log: ${(error as Error).message}`)
        })
        const hello = yield* Effect.tryPromise({
          try: () => opened.append({ k: "hello", id, t: Date.now() } satisfies Entry),
          catch: (error) => new Error(`cannot join the chat: ${(error as Error).message}`)
        })
        if (hello === undefined) return yield* Effect.fail(new Error("cannot join the chat: the database is too slow to answer"))
        yield* Deferred.await(caughtUp)
        log = opened
        status = "up"
        options.log(`cluster: joined as instance ${node} (${id}) at ${Log.redact(options.url)}`)
        yield* Deferred.succeed(joined, undefined)

        // The others' liveness: a lock that can be taken belongs to an instance that is gone.
        const locks = new Map<string, { readonly tryAcquire: Effect.Effect<boolean>; readonly release: Effect.Effect<void, unknown> }>()
        const check = Effect.gen(function*() {
          for (const [other, otherId] of [...nodes]) {
            if (other === node) continue
            let lock = locks.get(otherId)
            if (lock === undefined) locks.set(otherId, lock = yield* cluster.lock(`weft-chat:${otherId}`))
            if (!(yield* lock.tryAcquire)) continue
            yield* Effect.tryPromise(() => opened.append({ k: "gone", node: other, t: Date.now() } satisfies Entry)).pipe(Effect.ignore)
            yield* lock.release.pipe(Effect.ignore)
            locks.delete(otherId)
          }
        })
        yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep("1 second"), check.pipe(Effect.catchCause(() => Effect.void)))))

        const why = yield* Deferred.await(lost)
        yield* goDown(why)
      })

    /** No more appends; once none sent can land, every local client is told and closed. */
    const goDown = (why: string) =>
      Effect.gen(function*() {
        if (status !== "up") return
        status = "down"
        const until = log?.halt() ?? 0
        log = undefined
        options.log(`cluster: instance ${node} is cut off (${why}); telling its clients, joining again`)
        // Told only once nothing they sent can land any more.
        const wait = until + 100 - Date.now()
        if (wait > 0) yield* Effect.sleep(`${wait} millis`)
        options.deliver(options.endpoints(), { t: "kick", cs: undefined, reason: UNAVAILABLE })
        node = -1
        registry = fresh()
      })

    const first = yield* Deferred.make<void, Error>()
    yield* Effect.forkScoped(Effect.gen(function*() {
      for (;;) {
        const scope = yield* Scope.make()
        const exit = yield* session(first).pipe(
          Scope.provide(scope),
          Effect.onInterrupt(() => Scope.close(scope, Exit.void)),
          Effect.exit
        )
        // In the background: closing a cut-off handle may wait on its dead connections until TCP
        // gives up on them, and joining again must not.
        yield* Effect.forkDetach(Scope.close(scope, exit))
        if (!(yield* Deferred.isDone(first))) {
          const cause = exit._tag === "Failure" ? exit.cause : undefined
          const why = cause === undefined
            ? "it left"
            : cause.reasons.map((r) => (r._tag === "Fail" ? (r.error as Error).message : r._tag === "Die" ? String((r.defect as Error)?.message ?? r.defect) : "interrupted")).join("; ")
          yield* Deferred.fail(first, new Error(`cannot join the chat at ${Log.redact(options.url)}: ${why}`))
          return
        }
        yield* goDown(exit._tag === "Failure" ? "its link to the database failed" : "its session ended")
        status = "down"
        yield* Effect.sleep("1 second")
      }
    }))
    yield* Deferred.await(first)
    // Leaving: the others drop this instance's users at once rather than at their next check.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const current = log
        if (status !== "up" || current === undefined) return Effect.void
        status = "down"
        return Effect.promise(() => current.append({ k: "gone", node, t: Date.now() } satisfies Entry).catch(() => undefined)).pipe(Effect.timeout("2 seconds"), Effect.ignore)
      })
    )

    const refuse = (endpoint: number, conn: number) => options.deliver([endpoint], { t: "kick", cs: [conn], reason: UNAVAILABLE })
    return {
      status: () => status,
      open: (endpoint, conn, proto, nick, user, real) => {
        if (status !== "up") return refuse(endpoint, conn)
        hub(endpoint, { t: "open", c: conn, proto, nick, user, real })
      },
      command: (endpoint, conn, cmd) => hub(endpoint, { t: "cmd", c: conn, cmd }),
      close: (endpoint, conn, reason) => hub(endpoint, { t: "close", c: conn, reason }),
      dropEndpoint: (endpoint, reason) => hub(endpoint, { t: "drop", reason }),
      get userCount() {
        return registry.userCount
      },
      roomList: () => registry.roomList(),
      get messages() {
        return registry.messages
      }
    }
  })
