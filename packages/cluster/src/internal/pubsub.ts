/**
 * PubSub on NOTIFY: a message is one notification on the primitive's channel
 * (several, for one larger than a payload: see `chunks.ts`), so every
 * listener gets every message in commit order.
 *
 * @internal
 */
import { Effect, type Scope } from "effect"
import { InvalidArgumentError, Lock, PubSub } from "@weft/primitives"
import { stringify } from "@weft/primitives/json"
import { Reassembly, split } from "./chunks.ts"
import type { Listener } from "./listener.ts"
import type { Db } from "./pg.ts"
import type { Entry } from "./schema.ts"

/**
 * The largest message, in bytes of JSON. PostgreSQL's notification queue is
 * shared by every channel of the database; one message this large already
 * holds it for a while.
 */
const maxMessage = 16 * 1024 * 1024

/** A PostgreSQL text[] literal. */
const textArray = (xs: ReadonlyArray<string>): string =>
  `{${xs.map((x) => `"${x.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`

/** @internal */
export const makePubSub = (db: Db, listener: Listener, entry: Entry): PubSub.PubSub<unknown> => ({
  publish: (message) =>
    Effect.suspend(() => {
      const json = stringify("ClusterPubSub.publish", message)
      if (typeof json !== "string") return Effect.die(json)
      const bytes = Buffer.byteLength(json)
      if (bytes > maxMessage) {
        return Effect.die(
          new InvalidArgumentError({
            operation: "ClusterPubSub.publish",
            argument: "message",
            value: `${bytes} bytes of JSON`,
            expected: `at most ${maxMessage} bytes of JSON (16 MiB)`
          })
        )
      }
      const payloads = split(json)
      // One statement, so one transaction: its notifications arrive together and in order.
      return Effect.asVoid(
        payloads.length === 1
          ? db.q("SELECT pg_notify($1, $2)", [entry.channel, json])
          : db.q("SELECT count(pg_notify($1, p)) FROM unnest($2::text[]) AS p", [entry.channel, textArray(payloads)])
      )
    }),
  subscribe: Effect.map(listener.inbox(entry.channel), (inbox) => {
    const reassembly = new Reassembly()
    // One taker at a time: the pieces of a message go to one of them, and an
    // interrupted take leaves its pieces so far to the next.
    const turn = Effect.runSync(Lock.make)
    const next: Effect.Effect<unknown> = Effect.flatMap(inbox.next, (payload) => {
      const message = reassembly.push(payload)
      return message === undefined ? next : Effect.succeed(JSON.parse(message) as unknown)
    })
    return PubSub.subscriptionOf(
      "ClusterPubSub",
      turn.withLock(next),
      turn.withLock(Effect.map(inbox.drain, (payloads) =>
        payloads.flatMap((payload) => {
          const message = reassembly.push(payload)
          return message === undefined ? [] : [JSON.parse(message) as unknown]
        })))
    )
  }) as Effect.Effect<PubSub.Subscription<unknown>, never, Scope.Scope>
})
